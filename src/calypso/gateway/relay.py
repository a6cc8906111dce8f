"""The raw byte relay of an established tunnel: two protocols joined back to back.

Invariant: bytes leave each side in the order they arrived, unmodified (the gateway never parses
what flows in a tunnel, so TLS stays end to end); a side whose peer cannot take more (its write
buffer is above the high-water mark) stops reading until the peer drains, so a tunnel's memory is
bounded by the transports' buffers. A tunnel is closed, and accounted for, exactly once.
"""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING

from calypso.gateway.logs import event

if TYPE_CHECKING:
    from calypso.gateway.server import Gateway

WRITE_HIGH_WATER = 256 * 1024


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


class Side(asyncio.Protocol):
    """One end of a tunnel: what it receives is written to `peer`."""

    __slots__ = ("is_client", "peer", "tunnel")

    def __init__(self, tunnel: Tunnel, is_client: bool) -> None:
        self.tunnel = tunnel
        self.is_client = is_client
        self.peer: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        transport.set_write_buffer_limits(high=WRITE_HIGH_WATER)

    def data_received(self, data: bytes) -> None:
        tunnel = self.tunnel
        if self.peer is None or tunnel.closed:
            return
        self.peer.write(data)
        tunnel.last_active = tunnel.gateway.loop.time()
        if self.is_client:
            tunnel.bytes_up += len(data)
            tunnel.gateway.counters.bytes_up += len(data)
        else:
            tunnel.bytes_down += len(data)
            tunnel.gateway.counters.bytes_down += len(data)

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
