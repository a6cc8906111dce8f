"""Helpers for the workspace integration tests: a real server process on 127.0.0.1 and signed clients.

Not a test module by itself; `test_workspace_*.py` files import it.
"""

from __future__ import annotations

import base64
import json
import os
import signal
import socket
import ssl
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from calypso.wire import agentapi, sharedkey


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_for(predicate: Callable[[], Any], timeout: float, what: str, interval: float = 0.1) -> Any:
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        last = predicate()
        if last:
            return last
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what} (last: {last!r})")


def workspace_cli(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run(
        [sys.executable, "-m", "calypso.workspace", *args], capture_output=True, text=True, timeout=60
    )
    if check and proc.returncode != 0:
        raise AssertionError(f"workspace {' '.join(args[:2])} failed ({proc.returncode}): {proc.stderr}")
    return proc


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


@dataclass
class Server:
    data: Path
    info: dict[str, Any]
    port: int = 0
    proc: subprocess.Popen[bytes] | None = None
    log: Path = field(default_factory=lambda: Path("/dev/null"))
    extra: tuple[str, ...] = ()

    @property
    def url(self) -> str:
        return f"https://127.0.0.1:{self.port}"

    @property
    def ws_id(self) -> str:
        return str(self.info["workspace_id"])

    @property
    def ca(self) -> str:
        return str(self.info["ca_cert"])

    def start(self) -> None:
        self.port = self.port or free_port()
        with self.log.open("ab") as f:
            self.proc = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "calypso.workspace",
                    "serve",
                    "--data",
                    str(self.data),
                    "--listen",
                    f"127.0.0.1:{self.port}",
                    *self.extra,
                ],
                stdout=f,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                env={**os.environ},
            )
        wait_for(
            lambda: tls_ready(self.port, self.ca) or self.proc.poll() is not None, 30, "the server to listen"
        )
        assert self.proc.poll() is None, self.log.read_text()

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 30) -> int:
        assert self.proc is not None
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                return self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
                raise AssertionError("the server ignored SIGTERM") from None
        return int(self.proc.returncode)

    def tables(self) -> dict[str, dict[str, Any]]:
        """Row counts and columns per table, through the admin API."""
        with self.client() as c:
            r = c.get(
                f"/admin/v1/workspaces/{self.ws_id}/tables",
                headers={"Authorization": f"Bearer {self.info['admin_token']}"},
            )
        r.raise_for_status()
        return {t["name"]: t for t in r.json()["tables"]}

    def rows(self, table: str) -> int:
        return int(self.tables().get(table, {}).get("rows", 0))

    def client(self) -> httpx.Client:
        return httpx.Client(base_url=self.url, verify=ssl.create_default_context(cafile=self.ca), timeout=30)

    def query(self, kql: str, token: str | None = None, timespan: str | None = None) -> httpx.Response:
        with self.client() as c:
            return c.post(
                f"/v1/workspaces/{self.ws_id}/query",
                json={"query": kql, "timespan": timespan},
                headers={"Authorization": f"Bearer {token or self.info['query_token']}"},
            )


def init_server(root: Path) -> Server:
    root.mkdir(parents=True, exist_ok=True)
    info = json.loads(workspace_cli("init", "--data", str(root / "data")).stdout)
    return Server(root / "data", info, log=root / "server.log")


def running_server(root: Path, *extra: str) -> Iterator[Server]:
    server = init_server(root)
    server.extra = extra
    server.start()
    try:
        yield server
    finally:
        server.stop()


def datacollector_headers(
    ws_id: str,
    key: str,
    body: bytes,
    log_type: str,
    date: str | None = None,
    content_type: str = "application/json",
) -> dict[str, str]:
    date = date or sharedkey.rfc1123_now()
    signature = sharedkey.sign(key, date=date, content_length=len(body), content_type=content_type)
    return {
        "Authorization": f"SharedKey {ws_id}:{signature}",
        "Log-Type": log_type,
        "x-ms-date": date,
        "Content-Type": content_type,
    }


@dataclass
class Agent:
    """A minimal client of the agent path (what the real agent does, nothing more)."""

    server: Server
    key: Any = field(default_factory=agentapi.new_private_key)
    agent_id: str = ""

    def onboard(
        self, ws_id: str | None = None, key: str | None = None, hostname: str = "test-host"
    ) -> httpx.Response:
        ws_id = ws_id or self.server.ws_id
        body = json.dumps(
            {
                "workspace_id": ws_id,
                "machine_id": "m-1",
                "hostname": hostname,
                "public_key": agentapi.public_key_pem(self.key),
                "labels": {"env": "test"},
            }
        ).encode()
        date = sharedkey.rfc1123_now()
        signature = sharedkey.sign(
            key or self.server.info["primary_key"],
            date=date,
            content_length=len(body),
            resource=agentapi.ONBOARD,
        )
        with self.server.client() as c:
            r = c.post(
                agentapi.ONBOARD,
                content=body,
                headers={
                    "Authorization": f"SharedKey {ws_id}:{signature}",
                    "x-ms-date": date,
                    "Content-Type": "application/json",
                },
            )
        if r.status_code == 200:
            self.agent_id = r.json()["agent_id"]
        return r

    def signed(
        self, method: str, path: str, body: bytes = b"", headers: dict[str, str] | None = None
    ) -> httpx.Response:
        date = sharedkey.rfc1123_now()
        h = {
            agentapi.H_AGENT: self.agent_id,
            agentapi.H_DATE: date,
            agentapi.H_SIGNATURE: agentapi.sign_request(self.key, method, path, date, body),
            **(headers or {}),
        }
        with self.server.client() as c:
            return c.request(method, path, content=body, headers=h)


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()
