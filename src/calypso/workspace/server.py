"""Running the server: uvicorn over TLS (minimum TLS 1.2) with the workspace CA's server certificate.

Invariant: SIGTERM/SIGINT stop accepting connections, let in-flight requests (and the writes they
queued) finish, then close every DuckDB store; nothing is printed but one-line events.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import signal
import ssl
from collections.abc import Generator
from pathlib import Path
from typing import Any

import uvicorn

from calypso.workspace import events
from calypso.workspace.app import create_app
from calypso.workspace.state import Limits, ServerState
from calypso.workspace.tls import server_files


class _Server(uvicorn.Server):
    """uvicorn's server, with SIGTERM/SIGINT meaning "drain and exit 0" rather than re-raising the signal."""

    @contextlib.contextmanager
    def capture_signals(self) -> Generator[None, None, None]:
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, self._stop, sig)
        try:
            yield
        finally:
            for sig in (signal.SIGTERM, signal.SIGINT):
                loop.remove_signal_handler(sig)

    async def shutdown(self, sockets: Any = None) -> None:
        # Idle keep-alive TLS connections would hold the shutdown for the TLS close timeout (30 s): drop
        # them now; connections with a request in flight finish it first.
        for conn in list(self.server_state.connections):
            cycle = getattr(conn, "cycle", None)
            transport = getattr(conn, "transport", None)
            if transport is not None and (cycle is None or getattr(cycle, "response_complete", False)):
                transport.abort()
        await super().shutdown(sockets)

    def _stop(self, sig: int) -> None:
        if not self.should_exit:
            events.info("Stopping: finishing in-flight requests.", signal=signal.Signals(sig).name)
        self.should_exit = True


def parse_listen(value: str) -> tuple[str, int]:
    host, sep, port = value.rpartition(":")
    if not sep or not port.isdigit() or not host:
        raise ValueError(f"--listen must be HOST:PORT, got {value!r}")
    return host.strip("[]"), int(port)


def serve(data_dir: Path, listen: str, limits: Limits | None = None) -> int:
    host, port = parse_listen(listen)
    events.configure()
    cert, key = server_files(data_dir)
    if not cert.exists() or not key.exists():
        events.error(
            "No server certificate; run `calypso workspace init --data DIR` first.", data=str(data_dir)
        )
        return 2
    state = ServerState(data_dir, limits)
    if not state.workspaces:
        events.error(
            "No workspace under the data directory; run `calypso workspace init` first.", data=str(data_dir)
        )
        state.close()
        return 2
    config = uvicorn.Config(
        create_app(state),
        host=host,
        port=port,
        ssl_certfile=str(cert),
        ssl_keyfile=str(key),
        log_level="warning",
        access_log=False,
        lifespan="on",
        timeout_graceful_shutdown=15,
        proxy_headers=False,
        server_header=False,
    )
    config.load()
    # Everything loaded so far (the KQL compiler, sqlglot, the stores) lives as long as the server:
    # keep it out of the collector's full passes, which otherwise pause whichever query is compiling.
    gc.freeze()
    assert config.ssl is not None
    config.ssl.minimum_version = ssl.TLSVersion.TLSv1_2
    server = _Server(config)
    events.info("Listening.", url=f"https://{host}:{port}", data=str(data_dir))
    server.run()
    return 0
