"""The gateway process: listening sockets, admission limits, the idle sweep and a clean shutdown.

Invariant: `connections_open` counts accepted client sockets not yet closed, `per_client[ip]` the
same per client address, and `tunnels_open` the established tunnels in `self.tunnels`; each is
released exactly once. On stop, no new connection is accepted, handshakes in progress are answered
503, open tunnels get `grace` seconds to finish, and whatever is left is aborted. A reload (SIGHUP)
swaps the whole configuration at once for new connections, or not at all.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import resource
import signal
from collections import Counter
from collections.abc import Callable
from typing import Any

from calypso.gateway.config import Address, GatewayConfig
from calypso.gateway.counters import Counters
from calypso.gateway.logs import Throttle, event
from calypso.gateway.proxy import ClientConnection
from calypso.gateway.relay import Tunnel
from calypso.wire.errors import ConfigError

FDS_PER_TUNNEL = 2


def raise_fd_limit() -> int:
    """Raise the soft limit on open files to the hard limit; return the limit now in force."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard == resource.RLIM_INFINITY or soft < hard:
        target = hard if hard != resource.RLIM_INFINITY else max(soft, 1_048_576)
        with contextlib.suppress(ValueError, OSError):
            resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


class Gateway:
    def __init__(self, config: GatewayConfig, loop: asyncio.AbstractEventLoop | None = None) -> None:
        self.config = config
        self.loop = loop or asyncio.get_running_loop()
        self.counters = Counters()
        self.per_client: Counter[str] = Counter()
        self.handshakes: set[ClientConnection] = set()
        self.tunnels: set[Tunnel] = set()
        self.pending_tunnels = 0
        self.servers: list[asyncio.Server] = []
        self.tasks: set[asyncio.Task[Any]] = set()
        self.stopping = asyncio.Event()
        self.fd_limit = 0
        self.refusal_log = Throttle("Request refused.")

    # -- admission and accounting (called by ClientConnection and Tunnel) ----------------------------

    def admit(self, connection: ClientConnection) -> str | None:
        self.counters.connections_open += 1
        self.counters.connections_total += 1
        self.per_client[connection.client_ip] += 1
        self.handshakes.add(connection)
        if self.counters.draining and not connection.health_only:
            return "shutting_down"
        if self.per_client[connection.client_ip] > self.config.max_per_client:
            return "client_limit"
        return None

    def _release_client(self, client_ip: str) -> None:
        self.counters.connections_open -= 1
        self.per_client[client_ip] -= 1
        if self.per_client[client_ip] <= 0:
            del self.per_client[client_ip]

    def handshake_ended(self, connection: ClientConnection) -> None:
        if connection in self.handshakes:
            self.handshakes.discard(connection)
            self._release_client(connection.client_ip)

    def reserve_tunnel(self) -> str | None:
        if self.counters.draining:
            return "shutting_down"
        if self.counters.tunnels_open + self.pending_tunnels >= self.config.max_tunnels:
            return "tunnel_limit"
        self.pending_tunnels += 1
        return None

    def release_tunnel(self) -> None:
        self.pending_tunnels -= 1

    def tunnel_opened(self, tunnel: Tunnel, connection: ClientConnection) -> None:
        self.pending_tunnels -= 1
        self.handshakes.discard(connection)
        self.tunnels.add(tunnel)
        self.counters.tunnels_open += 1
        self.counters.tunnels_total += 1
        event(logging.INFO, "Tunnel opened.", client=tunnel.client_label, target=tunnel.target_label)

    def tunnel_closed(self, tunnel: Tunnel, reason: str) -> None:
        if tunnel not in self.tunnels:
            return
        self.tunnels.discard(tunnel)
        self.counters.tunnels_open -= 1
        self._release_client(tunnel.client_ip)
        event(
            logging.INFO,
            "Tunnel closed.",
            client=tunnel.client_label,
            target=tunnel.target_label,
            reason=reason,
            bytes_up=tunnel.bytes_up,
            bytes_down=tunnel.bytes_down,
            seconds=round(self.loop.time() - tunnel.opened, 3),
        )

    def track(self, task: asyncio.Task[Any]) -> None:
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)

    def health_snapshot(self) -> dict[str, Any]:
        snapshot = self.counters.snapshot()
        snapshot["max_tunnels"] = self.config.max_tunnels
        return snapshot

    # -- lifecycle -----------------------------------------------------------------------------------

    async def start(self) -> None:
        self.fd_limit = raise_fd_limit()
        needed = self.config.max_tunnels * FDS_PER_TUNNEL + 64
        if needed > self.fd_limit:
            event(
                logging.WARNING,
                "Open-file limit is below what max_tunnels needs; raise `ulimit -n` or lower max_tunnels.",
                fd_limit=self.fd_limit,
                needed=needed,
            )
        await self._listen(self.config.listen, health_only=False)
        if self.config.health is not None:
            await self._listen(self.config.health, health_only=True)
        self.track(self.loop.create_task(self._sweep_idle()))

    async def _listen(self, address: Address, health_only: bool) -> None:
        server = await self.loop.create_server(
            lambda: ClientConnection(self, health_only), address.host, address.port, backlog=4096
        )
        self.servers.append(server)
        for sock in server.sockets:
            host, port = sock.getsockname()[:2]
            kind = "health" if health_only else "proxy"
            bound = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
            fields: dict[str, Any] = {"listen": bound, "kind": kind}
            if not health_only:
                fields |= {"allow": str(self.config.allow), "auth": self.config.credentials.required}
            event(logging.INFO, "Listening.", **fields)

    def bound_port(self, index: int = 0) -> int:
        return int(self.servers[index].sockets[0].getsockname()[1])

    async def _sweep_idle(self) -> None:
        timeout = self.config.idle_timeout
        interval = max(0.05, min(1.0, timeout / 4))
        while True:
            await asyncio.sleep(interval)
            self.refusal_log.flush()
            horizon = self.loop.time() - timeout
            idle = [t for t in self.tunnels if t.last_active < horizon]
            for tunnel in idle:
                self.counters.idle_closed += 1
                event(
                    logging.INFO,
                    "Idle tunnel closing.",
                    client=tunnel.client_label,
                    target=tunnel.target_label,
                )
                tunnel.close("idle")

    def reload(self, read: Callable[[], GatewayConfig]) -> None:
        """Apply a re-read configuration to new connections; open tunnels are left alone.

        The listening addresses cannot change without a restart; a bad file keeps the running one."""
        try:
            fresh = read()
        except ConfigError as e:
            event(logging.ERROR, "Reload failed; keeping the running configuration.", error=str(e))
            return
        if (fresh.listen, fresh.health) != (self.config.listen, self.config.health):
            event(logging.WARNING, "Listening addresses change only on restart.", listen=fresh.listen)
        self.config = dataclasses.replace(fresh, listen=self.config.listen, health=self.config.health)
        event(
            logging.INFO,
            "Configuration reloaded.",
            allow=str(self.config.allow),
            auth=self.config.credentials.required,
            max_tunnels=self.config.max_tunnels,
        )

    def request_stop(self) -> None:
        self.stopping.set()

    async def stop(self) -> None:
        """Stop accepting, let tunnels finish for `grace` seconds, then abort what is left."""
        self.counters.draining = True
        for server in self.servers[:1]:
            server.close()
        for connection in list(self.handshakes):
            if not connection.done:
                connection.refuse("shutting_down", "the gateway is shutting down")
        event(logging.INFO, "Draining.", tunnels_open=len(self.tunnels), grace=self.config.grace)
        deadline = self.loop.time() + self.config.grace
        while (self.tunnels or self.pending_tunnels) and self.loop.time() < deadline:
            await asyncio.sleep(0.05)
        left = len(self.tunnels)
        for tunnel in list(self.tunnels):
            tunnel.abort()
        for server in self.servers:
            server.close()
        for task in list(self.tasks):
            task.cancel()
        event(logging.INFO, "Stopped.", aborted=left, tunnels_total=self.counters.tunnels_total)


def _log_unexpected(loop: asyncio.AbstractEventLoop, context: dict[str, Any]) -> None:
    """One readable line instead of a stack trace; the connection concerned is already closed."""
    error = context.get("exception") or context.get("message", "unknown")
    event(logging.ERROR, "Unexpected error; connection dropped.", error=repr(error))


async def serve(config: GatewayConfig, reload: Callable[[], GatewayConfig] | None = None) -> int:
    """Run until SIGTERM or SIGINT, then drain; SIGHUP re-reads the configuration through `reload`.

    Returns the process exit status."""
    gateway = Gateway(config)
    gateway.loop.set_exception_handler(_log_unexpected)
    await gateway.start()
    for signum in (signal.SIGTERM, signal.SIGINT):
        gateway.loop.add_signal_handler(signum, gateway.request_stop)
    if reload is not None:
        gateway.loop.add_signal_handler(signal.SIGHUP, gateway.reload, reload)
    await gateway.stopping.wait()
    await gateway.stop()
    return 0
