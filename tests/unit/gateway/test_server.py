"""The gateway in-process over real 127.0.0.1 sockets: the relay, flow control and accounting."""

from __future__ import annotations

import asyncio
import hashlib
import os
from collections.abc import Awaitable, Callable

from calypso.gateway.allowlist import Allowlist
from calypso.gateway.config import Address, GatewayConfig
from calypso.gateway.relay import WRITE_HIGH_WATER
from calypso.gateway.server import Gateway

Handler = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]


async def with_gateway(
    handler: Handler, body: Callable[[Gateway, int], Awaitable[None]], **limits: float
) -> Gateway:
    upstream = await asyncio.start_server(handler, "127.0.0.1", 0)
    port = int(upstream.sockets[0].getsockname()[1])
    config = GatewayConfig(
        listen=Address("127.0.0.1", 0),
        allow=Allowlist.parse([f"127.0.0.1:{port}"]),
        **limits,  # type: ignore[arg-type]
    )
    gateway = Gateway(config)
    await gateway.start()
    try:
        await asyncio.wait_for(body(gateway, port), 20)
    finally:
        gateway.config = GatewayConfig(listen=config.listen, allow=config.allow, grace=0.2)
        await gateway.stop()
        upstream.close()
    return gateway


async def open_tunnel(
    gateway: Gateway, port: int, early: bytes = b""
) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    reader, writer = await asyncio.open_connection("127.0.0.1", gateway.bound_port())
    writer.write(f"CONNECT 127.0.0.1:{port} HTTP/1.1\r\n\r\n".encode() + early)
    head = await reader.readuntil(b"\r\n\r\n")
    assert head == b"HTTP/1.1 200 Connection established\r\n\r\n"
    return reader, writer


async def settle(predicate: Callable[[], bool]) -> None:
    for _ in range(200):
        if predicate():
            return
        await asyncio.sleep(0.01)
    raise AssertionError("condition not reached")


async def echo(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    while data := await reader.read(65536):
        writer.write(data)
        await writer.drain()
    writer.close()


def test_bytes_pipelined_after_connect_reach_upstream_in_order() -> None:
    async def body(gateway: Gateway, port: int) -> None:
        reader, writer = await open_tunnel(gateway, port, early=b"client hello")
        writer.write(b" and more")
        assert await reader.readexactly(len(b"client hello and more")) == b"client hello and more"
        writer.close()

    asyncio.run(with_gateway(echo, body))


def test_upstream_that_speaks_first_is_relayed_after_the_200() -> None:
    async def banner(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(b"SSH-2.0-banner\r\n")
        await writer.drain()
        await reader.read()
        writer.close()

    async def body(gateway: Gateway, port: int) -> None:
        reader, writer = await open_tunnel(gateway, port)
        assert await reader.readline() == b"SSH-2.0-banner\r\n"
        writer.close()

    asyncio.run(with_gateway(banner, body))


def test_large_transfer_is_exact_and_counted_and_slots_are_released() -> None:
    payload = os.urandom(8 * 1024 * 1024 + 3)

    async def body(gateway: Gateway, port: int) -> None:
        reader, writer = await open_tunnel(gateway, port)

        async def send() -> None:
            writer.write(payload)
            await writer.drain()
            writer.write_eof()  # half-close: the echo must still come back

        sender = asyncio.create_task(send())
        received = await reader.read(-1)
        await sender
        assert hashlib.sha256(received).digest() == hashlib.sha256(payload).digest()
        writer.close()
        await settle(lambda: gateway.counters.tunnels_open == 0 and gateway.counters.connections_open == 0)
        assert gateway.counters.bytes_up == len(payload) == gateway.counters.bytes_down
        assert not gateway.per_client and not gateway.tunnels and not gateway.handshakes

    asyncio.run(with_gateway(echo, body))


def test_slow_client_pauses_upstream_so_memory_stays_bounded() -> None:
    sent = 0

    async def firehose(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        nonlocal sent
        chunk = b"x" * 65536
        try:
            for _ in range(2000):  # 128 MiB if nobody pushed back
                writer.write(chunk)
                await writer.drain()
                sent += len(chunk)
        except ConnectionError:
            pass
        writer.close()

    async def body(gateway: Gateway, port: int) -> None:
        _reader, writer = await open_tunnel(gateway, port)
        await asyncio.sleep(0.5)  # the client reads nothing
        (tunnel,) = gateway.tunnels
        buffered = tunnel.client.get_write_buffer_size()
        assert buffered <= WRITE_HIGH_WATER + 4 * 65536
        assert sent < 64 * 1024 * 1024  # kernel buffers + our bounded buffer, not the whole stream
        writer.close()

    asyncio.run(with_gateway(firehose, body))


def test_client_gone_during_handshake_releases_its_slot() -> None:
    async def body(gateway: Gateway, port: int) -> None:
        _, writer = await asyncio.open_connection("127.0.0.1", gateway.bound_port())
        writer.write(b"CONNECT 127.0.0.1:")
        await settle(lambda: gateway.counters.connections_open == 1)
        writer.close()
        await settle(lambda: gateway.counters.connections_open == 0)
        assert not gateway.per_client and sum(gateway.counters.refusals.values()) == 0

    asyncio.run(with_gateway(echo, body))


def test_idle_timeout_spares_busy_tunnels_and_closes_quiet_ones() -> None:
    async def body(gateway: Gateway, port: int) -> None:
        busy_reader, busy = await open_tunnel(gateway, port)
        quiet_reader, quiet = await open_tunnel(gateway, port)
        for _ in range(8):  # 0.8 s of traffic, twice the idle timeout
            busy.write(b"ping")
            assert await busy_reader.readexactly(4) == b"ping"
            await asyncio.sleep(0.1)
        assert await asyncio.wait_for(quiet_reader.read(), 2) == b""  # closed by the gateway
        busy.write(b"pong")
        assert await busy_reader.readexactly(4) == b"pong"
        assert gateway.counters.idle_closed == 1
        busy.close()
        quiet.close()

    asyncio.run(with_gateway(echo, body, idle_timeout=0.4))
