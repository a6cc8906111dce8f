"""The relay's shared read buffer: bytes handed to a peer are never overwritten by the next read."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from calypso.gateway import relay


class KeepingTransport:
    """A peer transport that keeps the views it is given (as CPython 3.12+ does when it cannot send)."""

    def __init__(self, sends_at_once: bool) -> None:
        self.sends_at_once = sends_at_once
        self.kept: list[memoryview] = []
        self.sent = bytearray()

    def write(self, data: Any) -> None:
        if self.sends_at_once:
            self.sent += data
        else:
            self.kept.append(data)

    def get_write_buffer_size(self) -> int:
        return sum(len(v) for v in self.kept)


class FakeGateway:
    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        self.counters = type("C", (), {"bytes_up": 0, "bytes_down": 0})()


def feed(side: relay.Side, payload: bytes) -> None:
    view = side.get_buffer(-1)
    view[: len(payload)] = payload
    side.buffer_updated(len(payload))


@pytest.mark.parametrize("copies", [False, True])
def test_kept_views_survive_the_next_read(monkeypatch: pytest.MonkeyPatch, copies: bool) -> None:
    loop = asyncio.new_event_loop()
    try:
        monkeypatch.setattr(relay, "WRITE_COPIES", copies)
        gateway: Any = FakeGateway(loop)
        tunnel = relay.Tunnel(gateway, object(), "127.0.0.1", "c", "t")  # type: ignore[arg-type]
        side = relay.Side(tunnel, is_client=True)
        peer = KeepingTransport(sends_at_once=False)
        side.peer = peer  # type: ignore[assignment]
        feed(side, b"first-chunk")
        feed(side, b"SECOND")
        if copies:  # a copying transport needs no fresh buffer: the second read reuses (and overwrites) it
            assert bytes(peer.kept[0]) == b"SECONDchunk"
        else:
            assert [bytes(v) for v in peer.kept] == [b"first-chunk", b"SECOND"]
        assert tunnel.bytes_up == gateway.counters.bytes_up == 17
    finally:
        loop.close()


def test_sent_views_reuse_one_buffer_shared_by_the_loop() -> None:
    loop = asyncio.new_event_loop()
    try:
        gateway: Any = FakeGateway(loop)
        tunnel = relay.Tunnel(gateway, object(), "127.0.0.1", "c", "t")  # type: ignore[arg-type]
        up, down = relay.Side(tunnel, is_client=True), relay.Side(tunnel, is_client=False)
        peer = KeepingTransport(sends_at_once=True)
        up.peer = down.peer = peer  # type: ignore[assignment]
        buffer = relay.scratch_for(loop).buffer
        feed(up, b"abc")
        feed(down, b"defg")
        assert bytes(peer.sent) == b"abcdefg"
        assert relay.scratch_for(loop).buffer is buffer  # nothing kept: no allocation per read
        assert (tunnel.bytes_up, tunnel.bytes_down) == (3, 4)
    finally:
        loop.close()
