"""Helpers for tests that start real Calypso processes on 127.0.0.1."""

from __future__ import annotations

import json
import os
import signal
import socket
import ssl
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

CALYPSO = str(Path(sys.executable).parent / "calypso")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_for(predicate: Callable[[], Any], timeout: float, what: str, interval: float = 0.2) -> Any:
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        last = predicate()
        if last:
            return last
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what} (last: {last!r})")


def tls_ready(port: int, ca: str) -> bool:
    ctx = ssl.create_default_context(cafile=ca)
    try:
        with (
            socket.create_connection(("127.0.0.1", port), timeout=0.5) as raw,
            ctx.wrap_socket(raw, server_hostname="127.0.0.1"),
        ):
            return True
    except OSError:
        return False


def calypso(
    *args: str, check: bool = True, timeout: float = 60, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run(
        [CALYPSO, *args], capture_output=True, text=True, timeout=timeout, env={**os.environ, **(env or {})}
    )
    if check and proc.returncode != 0:
        raise AssertionError(f"calypso {' '.join(args[:3])} failed ({proc.returncode}): {proc.stderr}")
    return proc


@dataclass
class Workspace:
    data: Path
    port: int
    info: dict[str, Any]
    proc: subprocess.Popen[bytes]
    log: Path

    @property
    def url(self) -> str:
        return f"https://127.0.0.1:{self.port}"

    def query(self, kql: str) -> list[dict[str, Any]]:
        out = calypso(
            "query",
            "--url",
            self.url,
            "--workspace-id",
            self.info["workspace_id"],
            "--token",
            self.info["query_token"],
            "--ca",
            self.info["ca_cert"],
            "--format",
            "json",
            kql,
        )
        rows: list[dict[str, Any]] = json.loads(out.stdout)
        return rows

    def connect(self, state: Path, *extra: str, env: dict[str, str] | None = None) -> None:
        """`calypso agent connect` an agent state directory to this workspace, as a user would."""
        calypso(
            "agent",
            "connect",
            "--state",
            str(state),
            "--url",
            self.url,
            "--workspace-id",
            self.info["workspace_id"],
            "--key",
            self.info["primary_key"],
            "--ca",
            self.info["ca_cert"],
            *extra,
            env=env,
        )

    def start(self) -> None:
        self.proc = spawn(
            [CALYPSO, "workspace", "serve", "--data", str(self.data), "--listen", f"127.0.0.1:{self.port}"],
            self.log,
        )
        wait_for(lambda: tls_ready(self.port, self.info["ca_cert"]), 30, "the workspace to listen")


def run_agent(
    state: Path, config: Path, log: Path, env: dict[str, str] | None = None
) -> subprocess.Popen[bytes]:
    return spawn([CALYPSO, "agent", "run", "--state", str(state), "--config", str(config)], log, env)


def spawn(argv: list[str], log: Path, env: dict[str, str] | None = None) -> subprocess.Popen[bytes]:
    with log.open("ab") as f:
        return subprocess.Popen(
            argv,
            stdout=f,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            env={**os.environ, **(env or {})},
        )


def stop(proc: subprocess.Popen[bytes], timeout: float = 30) -> int:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            return proc.wait(timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
            raise AssertionError(f"process {proc.args!r} ignored SIGTERM for {timeout}s") from None
    return proc.returncode


def new_workspace(root: Path) -> Workspace:
    """Init and serve a workspace under `root` (the caller stops it)."""
    root.mkdir(parents=True, exist_ok=True)
    info = json.loads(calypso("workspace", "init", "--data", str(root / "ws")).stdout)
    ws = Workspace(root / "ws", free_port(), info, None, root / "workspace.log")  # type: ignore[arg-type]
    ws.start()
    return ws


@pytest.fixture
def workspace(tmp_path: Path) -> Iterator[Workspace]:
    ws = new_workspace(tmp_path)
    yield ws
    stop(ws.proc)
