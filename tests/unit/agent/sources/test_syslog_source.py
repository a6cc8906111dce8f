"""The syslog source on real sockets: UDP, TCP, Unix datagram and stream; filters; hostile input."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest

from calypso.agent.sources import factory
from calypso.agent.sources.base import Record, SourceContext
from calypso.agent.sources.syslog import SyslogConfig, SyslogSource

Collected = list[tuple[str, Record]]


async def _run(
    tmp_path: Path, config: dict[str, Any], body: Callable[[SyslogSource, Collected], Awaitable[None]]
) -> tuple[SourceContext, Collected]:
    ctx = SourceContext(tmp_path, "testhost")
    source = factory("syslog")(config, ctx)
    assert isinstance(source, SyslogSource)
    got: Collected = []
    batches: list[int] = []

    async def emit(table: str, records: list[Record], commit: Any = None) -> None:
        batches.append(len(records))
        got.extend((table, r) for r in records)

    task = asyncio.create_task(source.run(emit))
    for _ in range(200):
        if source.status()["state"] == "running":
            break
        await asyncio.sleep(0.01)
    try:
        await body(source, got)
    finally:
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
    assert all(n <= source.config.batch_size for n in batches)
    return ctx, got


async def _wait_for(got: Collected, n: int, timeout: float = 5.0) -> None:
    for _ in range(int(timeout / 0.02)):
        if len(got) >= n:
            return
        await asyncio.sleep(0.02)
    raise AssertionError(f"expected {n} records, got {len(got)}")


def _addr(source: SyslogSource, kind: str) -> tuple[str, int]:
    host, _, port = source.status()["listening"][kind].rpartition(":")
    return host, int(port)


def test_udp_messages_reach_emit_in_batches(tmp_path: Path) -> None:
    async def body(source: SyslogSource, got: Collected) -> None:
        sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        for i in range(2500):
            sock.sendto(b"<38>Nov 25 09:00:00 web1 sshd[%d]: login %d" % (i, i), _addr(source, "udp"))
            if i % 200 == 0:
                await asyncio.sleep(0)
        await _wait_for(got, 2500)

    ctx, got = asyncio.run(_run(tmp_path, {"udp": "127.0.0.1:0", "batch_size": 1000}, body))
    assert len(got) == 2500
    assert {r["SyslogMessage"] for _, r in got} == {f"login {i}" for i in range(2500)}
    table, rec = got[0]
    assert table == "Syslog"
    assert (rec["HostIP"], rec["HostName"], rec["Facility"], rec["SeverityLevel"]) == (
        "127.0.0.1", "web1", "auth", "info"
    )  # fmt: skip
    assert ctx.counters["received"] == 2500


def test_tcp_newline_and_octet_counting(tmp_path: Path) -> None:
    async def body(source: SyslogSource, got: Collected) -> None:
        _, writer = await asyncio.open_connection(*_addr(source, "tcp"))
        multi = b"<13>Nov 25 09:00:00 h app: first\nsecond line"
        writer.write(b"<13>Nov 25 09:00:00 h app: plain\n" + b"%d " % len(multi) + multi)
        writer.write(b"<13>1 2026-11-25T09:00:00Z h app 9 - - no newline at close")
        await writer.drain()
        writer.close()
        await _wait_for(got, 3)

    _, got = asyncio.run(_run(tmp_path, {"tcp": "127.0.0.1:0"}, body))
    assert [r["SyslogMessage"] for _, r in got] == ["plain", "first\nsecond line", "no newline at close"]
    assert got[2][1]["ProcessID"] == 9


def test_unix_datagram_and_stream_sockets(tmp_path: Path) -> None:
    dgram, stream = tmp_path / "log.sock", tmp_path / "stream.sock"

    async def body(source: SyslogSource, got: Collected) -> None:
        s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        s.sendto(b"<14>Nov 25 09:00:00 myprog[5]: via dgram", str(dgram))
        _, writer = await asyncio.open_unix_connection(str(stream))
        writer.write(b"<14>Nov 25 09:00:00 myprog[6]: via stream\n")
        await writer.drain()
        writer.close()
        await _wait_for(got, 2)

    _, got = asyncio.run(_run(tmp_path, {"unix": str(dgram), "unix_stream": str(stream)}, body))
    by_msg = {r["SyslogMessage"]: r for _, r in got}
    assert set(by_msg) == {"via dgram", "via stream"}
    assert by_msg["via dgram"]["HostName"] == "testhost"  # local message without hostname
    assert not dgram.exists() and not stream.exists()  # removed on stop


def test_facility_and_level_filters(tmp_path: Path) -> None:
    config = {"udp": "127.0.0.1:0", "facilities": ["auth", "daemon"], "levels": {"auth": "warning"}}

    async def body(source: SyslogSource, got: Collected) -> None:
        sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        for pri, text in [(36, b"auth warning"), (38, b"auth info"), (30, b"daemon info"), (13, b"user")]:
            sock.sendto(b"<%d>Nov 25 09:00:00 h p: %s" % (pri, text), _addr(source, "udp"))
        await _wait_for(got, 2)
        await asyncio.sleep(0.2)

    ctx, got = asyncio.run(_run(tmp_path, config, body))
    assert sorted(r["SyslogMessage"] for _, r in got) == ["auth warning", "daemon info"]
    assert ctx.counters["filtered"] == 2


def test_hostile_input_is_counted_and_listener_keeps_working(tmp_path: Path) -> None:
    config = {"udp": "127.0.0.1:0", "tcp": "127.0.0.1:0", "max_message_bytes": 512}

    async def body(source: SyslogSource, got: Collected) -> None:
        sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        udp = _addr(source, "udp")
        sock.sendto(b"", udp)
        sock.sendto(bytes(range(256)) * 4, udp)  # binary and oversized
        sock.sendto(b"<13>" + b"A" * 5000, udp)
        sock.sendto(b"<134>Nov 25 09:00:00 fw CEF:0|broken", udp)
        _, writer = await asyncio.open_connection(*_addr(source, "tcp"))
        writer.write(b"99999999999 " + b"z" * 2000 + b"\n")  # absurd length prefix
        writer.write(b"\x00\x00\n" * 3)
        await writer.drain()
        writer.close()
        sock.sendto(b"<13>Nov 25 09:00:00 h p: still alive", udp)
        await _wait_for(got, 5)
        for _ in range(100):
            if any(r["SyslogMessage"] == "still alive" for _, r in got):
                break
            await asyncio.sleep(0.02)

    ctx, got = asyncio.run(_run(tmp_path, config, body))
    messages = [r["SyslogMessage"] for _, r in got]
    assert "still alive" in messages
    assert all(len(m) <= 512 for m in messages)  # cut at 512 bytes (invalid bytes become U+FFFD)
    assert ctx.counters["oversized"] >= 2
    assert ctx.counters["parse_errors"] >= 1
    assert ctx.counters["cef_errors"] == 1
    assert ctx.counters["empty"] >= 1


@pytest.mark.parametrize(
    ("config", "needle"),
    [
        ({}, "at least one"),
        ({"udp": "nohost"}, "sources.syslog.udp"),
        ({"udp": "127.0.0.1:99999"}, "bad port"),
        ({"udp": "127.0.0.1:0", "facilities": ["bogus"]}, "unknown syslog facility"),
        ({"udp": "127.0.0.1:0", "levels": {"auth": "loud"}}, "unknown syslog severity"),
        ({"udp": "127.0.0.1:0", "timezone": "Mars/Olympus"}, "unknown zone"),
        ({"udp": "127.0.0.1:0", "max_message_bytes": 0}, "max_message_bytes"),
    ],
)
def test_config_errors_name_the_key(config: dict[str, Any], needle: str) -> None:
    with pytest.raises(ValueError, match=needle):
        SyslogConfig.from_mapping(config)


def test_port_in_use_fails_with_state_reported(tmp_path: Path) -> None:
    taken = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    taken.bind(("127.0.0.1", 0))
    port = taken.getsockname()[1]
    ctx = SourceContext(tmp_path, "testhost")
    source = factory("syslog")({"udp": f"127.0.0.1:{port}"}, ctx)

    async def emit(table: str, records: list[Record], commit: Any = None) -> None:
        return None

    with pytest.raises(OSError):
        asyncio.run(source.run(emit))
    assert source.status()["state"] == "failed"
    assert "Address already in use" in str(source.status()["error"])
    taken.close()
