"""A client connection before it becomes a tunnel: read one request head, answer or open a tunnel.

Invariant: every client connection ends in exactly one of three ways: an established tunnel
(after `200 Connection established`, the socket is handed to `relay.Side` and nothing more is parsed),
one answer with a status and a counted refusal reason (then closed), or a silent close because the
client went away. Whatever the client sends, the handshake never raises out of the protocol; a head
must be complete within the handshake timeout and 8 KiB.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import orjson

from calypso.gateway import httphead
from calypso.gateway.allowlist import Target, parse_target
from calypso.gateway.auth import CHALLENGE, Verdict
from calypso.gateway.counters import REASONS, prometheus
from calypso.gateway.logs import event
from calypso.gateway.relay import Side, Tunnel

if TYPE_CHECKING:
    from calypso.gateway.server import Gateway

_HEAD_REASONS = {400: "bad_request", 431: "header_too_large"}
_EXTRA_HEADERS: dict[str, tuple[tuple[str, str], ...]] = {
    "auth_missing": (CHALLENGE,),
    "auth_failed": (CHALLENGE,),
    "method_not_allowed": (("Allow", "CONNECT"),),
    "tunnel_limit": (("Retry-After", "5"),),
    "client_limit": (("Retry-After", "5"),),
    "shutting_down": (("Retry-After", "5"),),
}


class UpstreamSide(Side):
    """The upstream end; `on_made` runs as soon as the socket connects, before it can deliver data."""

    __slots__ = ("on_made",)

    def __init__(self, tunnel: Tunnel, on_made: Callable[[asyncio.Transport], None]) -> None:
        super().__init__(tunnel, is_client=False)
        self.peer = tunnel.client
        self.on_made = on_made

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        super().connection_made(transport)
        assert isinstance(transport, asyncio.Transport)
        self.on_made(transport)


class ClientConnection(asyncio.Protocol):
    """Handshake phase of one accepted connection (the proxy port, or the health port if health_only)."""

    __slots__ = ("buffer", "client_ip", "done", "gateway", "health_only", "label", "timer", "transport")

    def __init__(self, gateway: Gateway, health_only: bool = False) -> None:
        self.gateway = gateway
        self.health_only = health_only
        self.buffer = bytearray()
        self.transport: asyncio.Transport | None = None
        self.timer: asyncio.TimerHandle | None = None
        self.client_ip = ""
        self.label = "?"
        self.done = False  # the head was handled: no more bytes are parsed here

    # -- lifecycle -------------------------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport
        peer = transport.get_extra_info("peername")
        self.client_ip = str(peer[0]) if peer else "?"
        self.label = f"{self.client_ip}:{peer[1]}" if peer else "?"
        refusal = self.gateway.admit(self)
        if refusal is not None:
            self.refuse(refusal, "too many connections; try again later")
            return
        self.timer = self.gateway.loop.call_later(self.gateway.config.handshake_timeout, self.timed_out)

    def connection_lost(self, exc: Exception | None) -> None:
        self.cancel_timer()
        self.done = True
        self.gateway.handshake_ended(self)

    def cancel_timer(self) -> None:
        if self.timer is not None:
            self.timer.cancel()
            self.timer = None

    def timed_out(self) -> None:
        self.timer = None
        if not self.done:
            self.refuse("handshake_timeout", "request head not received in time")

    # -- reading the head ------------------------------------------------------------------------

    def data_received(self, data: bytes) -> None:
        if self.done:
            self.buffer += data  # early tunnel bytes (e.g. a TLS ClientHello) while we connect
            return
        self.buffer += data
        end = httphead.find_head_end(self.buffer)
        if end < 0:
            if len(self.buffer) > httphead.MAX_HEAD_BYTES:
                self.refuse("header_too_large", f"request head larger than {httphead.MAX_HEAD_BYTES} bytes")
            return
        self.done = True
        self.cancel_timer()
        raw = bytes(self.buffer[:end])
        del self.buffer[:end]
        try:
            head = httphead.parse_head(raw)
        except httphead.HeadError as e:
            self.refuse(_HEAD_REASONS[e.status], str(e))
            return
        handlers = HEALTH_METHODS if self.health_only else PROXY_METHODS
        handler = handlers.get(head.method)
        if handler is None:
            self.refuse("method_not_allowed", f"method {head.method} is not served; this is a CONNECT proxy")
            return
        handler(self, head)

    def eof_received(self) -> bool:
        # EOF before the head is complete: nothing more will come, close. After it (while we connect
        # upstream) the client merely half-closed: keep the connection for the answer.
        return self.done

    # -- answers ---------------------------------------------------------------------------------

    def refuse(self, reason: str, message: str, target: str = "") -> None:
        self.done = True
        self.cancel_timer()
        self.gateway.counters.refuse(reason)
        if self.gateway.refusal_log.allow():
            fields = {"client": self.label, "reason": reason} | ({"target": target} if target else {})
            event(logging.INFO, "Request refused.", **fields)
        if self.transport is not None and not self.transport.is_closing():
            status = REASONS[reason]
            self.transport.write(httphead.response(status, message, _EXTRA_HEADERS.get(reason, ())))
            self.transport.close()

    def serve_health(self, head: httphead.RequestHead) -> None:
        render = HEALTH_PATHS.get(head.target.split("?", 1)[0])
        if render is None:
            self.refuse("method_not_allowed", "only GET /health and GET /metrics are served here")
            return
        self.gateway.counters.health_requests += 1
        if self.transport is not None:
            body, content_type = render(self.gateway.health_snapshot())
            self.transport.write(httphead.response(200, body, content_type=content_type))
            self.transport.close()

    def connect(self, head: httphead.RequestHead) -> None:
        try:
            target = parse_target(head.target)
        except ValueError as e:
            self.refuse("bad_request", f"bad CONNECT target: {e}", head.target[:100])
            return
        verdict = self.gateway.config.credentials.check(head.header("proxy-authorization"))
        if verdict is not Verdict.OK:
            self.refuse(verdict.value, "proxy authentication required", str(target))
            return
        if not self.gateway.config.allow.allows(target):
            self.refuse("not_allowed", f"{target} is not served by this gateway", str(target))
            return
        refusal = self.gateway.reserve_tunnel()
        if refusal is not None:
            self.refuse(refusal, "too many tunnels; try again later", str(target))
            return
        assert self.transport is not None
        self.transport.pause_reading()
        task = self.gateway.loop.create_task(self.open_tunnel(target))
        self.gateway.track(task)

    async def open_tunnel(self, target: Target) -> None:
        gateway, client = self.gateway, self.transport
        assert client is not None
        tunnel = Tunnel(gateway, client, self.client_ip, self.label, str(target))
        try:
            async with asyncio.timeout(gateway.config.connect_timeout):
                await gateway.loop.create_connection(lambda: self.link(tunnel), target.host, target.port)
        except TimeoutError:
            self.upstream_failed(tunnel, "upstream_timeout", f"connecting to {target} timed out")
        except OSError as e:
            self.upstream_failed(tunnel, "upstream_failed", f"cannot connect to {target}: {e.strerror or e}")

    def link(self, tunnel: Tunnel) -> Side:
        """Protocol factory for the upstream socket: joins the two sides before any byte flows."""
        return UpstreamSide(tunnel, lambda upstream: self.establish(tunnel, upstream))

    def establish(self, tunnel: Tunnel, upstream: asyncio.Transport) -> None:
        client = tunnel.client
        tunnel.upstream = upstream
        if client.is_closing():  # the client left while we connected: its slot is already released
            tunnel.closed = True
            self.gateway.release_tunnel()
            upstream.close()
            return
        self.gateway.tunnel_opened(tunnel, self)
        client_side = Side(tunnel, is_client=True)
        client_side.peer = upstream
        client.set_protocol(client_side)
        client_side.connection_made(client)
        client.write(httphead.ESTABLISHED)
        early, self.buffer = bytes(self.buffer), bytearray()
        if early:
            client_side.data_received(early)
        client.resume_reading()

    def upstream_failed(self, tunnel: Tunnel, reason: str, message: str) -> None:
        if tunnel.upstream is not None:  # connected just as the timeout fired: already accounted
            tunnel.close(reason)
            return
        self.gateway.release_tunnel()
        self.refuse(reason, message, tunnel.target_label)


Handler = Callable[[ClientConnection, httphead.RequestHead], None]
PROXY_METHODS: dict[str, Handler] = {
    "CONNECT": ClientConnection.connect,
    "GET": ClientConnection.serve_health,
}
HEALTH_METHODS: dict[str, Handler] = {"GET": ClientConnection.serve_health}
HEALTH_PATHS: dict[str, Callable[[dict[str, Any]], tuple[bytes, str]]] = {
    "/health": lambda snapshot: (orjson.dumps(snapshot), "application/json"),
    "/healthz": lambda snapshot: (orjson.dumps(snapshot), "application/json"),
    "/metrics": lambda snapshot: (prometheus(snapshot), "text/plain; version=0.0.4"),
}
