"""The raw byte relay of an established tunnel: two protocols joined back to back.

Invariant: bytes leave each side in the order they arrived, unmodified (the gateway never parses
what flows in a tunnel, so TLS stays end to end); a side whose peer cannot take more (its write
buffer is above the high-water mark) stops reading until the peer drains, so a tunnel's memory is
bounded by the transports' buffers. A tunnel is closed, and accounted for, exactly once.

Speed: each side reads with `recv_into` into one scratch buffer per event loop (no allocation per
read, so idle tunnels cost no buffer at all) and hands a view of it to the peer's `write`, which either
sends it at once or copies the rest into its own buffer before returning (CPython < 3.12). Where a
transport may instead keep a reference to the view (3.12+), a scratch that was not fully sent is
retired and a fresh one taken, so bytes already handed over are never overwritten.
"""

from __future__ import annotations

import asyncio
import logging
import sys
import weakref
from typing import TYPE_CHECKING

from calypso.gateway.logs import event

if TYPE_CHECKING:
    from calypso.gateway.server import Gateway

WRITE_HIGH_WATER = 256 * 1024
READ_CHUNK = 256 * 1024  # bytes read per wakeup at most; a write buffer holds at most HIGH_WATER + this
# CPython before 3.12 copies what `write` cannot send at once into the transport's own bytearray.
WRITE_COPIES = sys.version_info < (3, 12)


class Scratch:
    """The read buffer shared by every tunnel side of one event loop (reads never interleave)."""

    __slots__ = ("buffer", "view")

    def __init__(self) -> None:
        self.buffer = bytearray(READ_CHUNK)
        self.view = memoryview(self.buffer)

    def retire(self) -> None:
        """The peer's transport may still hold a view of the current buffer: read into a new one."""
        self.buffer = bytearray(READ_CHUNK)
        self.view = memoryview(self.buffer)


_SCRATCH: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, Scratch] = weakref.WeakKeyDictionary()


def scratch_for(loop: asyncio.AbstractEventLoop) -> Scratch:
    scratch = _SCRATCH.get(loop)
    if scratch is None:
        scratch = _SCRATCH[loop] = Scratch()
    return scratch


class Tunnel:
    """One client ↔ upstream pair; the gateway keeps every open tunnel in a set for the idle sweep."""

    __slots__ = (
        "bytes_down",
        "bytes_up",
        "client",
        "client_ip",
        "client_label",
        "closed",
        "eofs",
        "gateway",
        "last_active",
        "opened",
        "target_label",
        "upstream",
    )

    def __init__(
        self,
        gateway: Gateway,
        client: asyncio.Transport,
        client_ip: str,
        client_label: str,
        target_label: str,
    ) -> None:
        self.gateway = gateway
        self.client = client
        self.client_ip = client_ip
        self.upstream: asyncio.Transport | None = None
        self.client_label = client_label
        self.target_label = target_label
        self.opened = self.last_active = gateway.loop.time()
        self.bytes_up = 0
        self.bytes_down = 0
        self.eofs = 0
        self.closed = False

    def close(self, reason: str) -> None:
        if self.closed:
            return
        self.closed = True
        for transport in (self.client, self.upstream):
            if transport is not None and not transport.is_closing():
                transport.close()  # flushes what is buffered, then closes
        self.gateway.tunnel_closed(self, reason)

    def abort(self) -> None:
        for transport in (self.client, self.upstream):
            if transport is not None:
                transport.abort()
        self.close("aborted")


class Side(asyncio.BufferedProtocol):
    """One end of a tunnel: what it receives is written to `peer`."""

    __slots__ = ("is_client", "peer", "scratch", "tunnel")

    def __init__(self, tunnel: Tunnel, is_client: bool) -> None:
        self.tunnel = tunnel
        self.is_client = is_client
        self.peer: asyncio.Transport | None = None
        self.scratch = scratch_for(tunnel.gateway.loop)

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        transport.set_write_buffer_limits(high=WRITE_HIGH_WATER)

    def get_buffer(self, sizehint: int) -> memoryview:
        return self.scratch.view

    def buffer_updated(self, nbytes: int) -> None:
        peer = self.peer
        if peer is None or self.tunnel.closed:
            return
        peer.write(self.scratch.view[:nbytes])
        if not WRITE_COPIES and peer.get_write_buffer_size():
            self.scratch.retire()
        self.count(nbytes)

    def data_received(self, data: bytes) -> None:
        """Bytes that arrived before the tunnel was established (read by the handshake protocol)."""
        if self.peer is None or self.tunnel.closed:
            return
        self.peer.write(data)
        self.count(len(data))

    def count(self, n: int) -> None:
        tunnel = self.tunnel
        tunnel.last_active = tunnel.gateway.loop.time()
        if self.is_client:
            tunnel.bytes_up += n
            tunnel.gateway.counters.bytes_up += n
        else:
            tunnel.bytes_down += n
            tunnel.gateway.counters.bytes_down += n

    def eof_received(self) -> bool:
        tunnel = self.tunnel
        tunnel.eofs += 1
        if tunnel.eofs >= 2 or self.peer is None or not self.peer.can_write_eof():
            tunnel.close("closed")
            return False
        self.peer.write_eof()  # half-close: the other direction keeps flowing
        return True

    def pause_writing(self) -> None:
        if self.peer is not None:
            self.peer.pause_reading()

    def resume_writing(self) -> None:
        if self.peer is not None and not self.peer.is_closing():
            self.peer.resume_reading()

    def connection_lost(self, exc: Exception | None) -> None:
        if exc is not None:
            event(logging.DEBUG, "Tunnel side lost.", client=self.tunnel.client_label, error=exc)
        self.tunnel.close("closed")
