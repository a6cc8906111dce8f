"""Gateway figures: bulk HTTPS upload and the agent through the gateway vs direct, and idle tunnels.

    .venv/bin/python benchmarks/gateway_throughput.py [--mib 256] [--rounds 5] [--idle 5000]
                                                      [--agent-mb 100] [--agent-rounds 3]

Runs everything on 127.0.0.1 in separate processes: an HTTPS sink (asyncio + ssl, certificate made
on the fly), the gateway (`python -m calypso.gateway serve`), and the client in this process (httpx,
the agent's HTTP client, uploading 8 MiB bodies over one keep-alive connection). Then it opens
`--idle` tunnels to a TCP echo server through the gateway, checks one still relays, and reads the
gateway's RSS with psutil. Last, the figure issue 7 asks for: the Calypso agent (`calypso agent
run`) tailing a generated file of ~150-byte lines (`--agent-mb` MB, 0 skips it) from its first byte to
an acknowledge-only HTTPS endpoint (benchmarks/_agentbench/sinks.py), once direct and once through
`calypso gateway serve` (`agent connect --gateway`), alternating `--agent-rounds` times; lines/s is
counted from the agent's start until the endpoint has acknowledged every line. Prints a table.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime
import os
import re
import resource
import signal
import ssl
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from statistics import median
from typing import IO

import httpx
import psutil
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _agentbench import contenders as agentbench
from _agentbench.measure import read_count

BODY = 8 * 1024 * 1024


def make_cert(directory: Path) -> tuple[Path, Path]:
    now = datetime.datetime.now(datetime.UTC)
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName("localhost")]), critical=False)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = directory / "cert.pem", directory / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    return cert_path, key_path


# -- server processes (this script re-runs itself with --serve-sink / --serve-echo) ---------------


async def sink_connection(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while True:
            head = await reader.readuntil(b"\r\n\r\n")
            match = re.search(rb"(?i)content-length:\s*(\d+)", head)
            remaining = int(match.group(1)) if match else 0
            while remaining:
                chunk = await reader.read(min(remaining, 1 << 20))
                if not chunk:
                    return
                remaining -= len(chunk)
            writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
            await writer.drain()
    except (asyncio.IncompleteReadError, ConnectionError):
        pass
    finally:
        writer.close()


async def echo_connection(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while data := await reader.read(65536):
            writer.write(data)
            await writer.drain()
    except ConnectionError:
        pass
    finally:
        writer.close()


async def serve(kind: str, cert: str | None, key: str | None) -> None:
    context = None
    if cert and key:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(cert, key)
    handler = sink_connection if kind == "sink" else echo_connection
    server = await asyncio.start_server(handler, "127.0.0.1", 0, ssl=context, backlog=4096)
    print(server.sockets[0].getsockname()[1], flush=True)
    await server.serve_forever()


def spawn_server(
    kind: str, cert: Path | None = None, key: Path | None = None
) -> tuple[subprocess.Popen[str], int]:
    args = [sys.executable, __file__, "--serve", kind] + ([str(cert), str(key)] if cert and key else [])
    proc = subprocess.Popen(args, stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    return proc, int(proc.stdout.readline())


def spawn_gateway(allow: list[str], *extra: str) -> tuple[subprocess.Popen[str], int]:
    args = [sys.executable, "-m", "calypso.gateway", "serve", "--listen", "127.0.0.1:0", "--allow", *allow]
    proc = subprocess.Popen([*args, "--log-level", "info", *extra], stderr=subprocess.PIPE, text=True)
    assert proc.stderr is not None
    for line in proc.stderr:
        if m := re.search(r"listen=\S+:(\d+) kind=proxy", line):
            # keep draining its log (one line per tunnel) so the gateway never blocks on a full pipe
            threading.Thread(target=drain, args=(proc.stderr,), daemon=True).start()
            return proc, int(m.group(1))
    raise RuntimeError("gateway did not start")


def drain(stream: IO[str]) -> None:
    for line in stream:
        if " WARNING " in line or " ERROR " in line:
            print(line, end="", file=sys.stderr)


def stop(proc: subprocess.Popen[str]) -> None:
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(15)
    except subprocess.TimeoutExpired:
        proc.kill()


# -- measurements ----------------------------------------------------------------------------------


def upload_rate(url: str, cert: Path, proxy: str | None, total: int) -> float:
    body = os.urandom(BODY)
    with httpx.Client(proxy=proxy, verify=ssl.create_default_context(cafile=str(cert)), timeout=60) as client:
        client.post(url, content=body[:1024])  # connect (and tunnel) outside the timing
        started = time.perf_counter()
        for _ in range(max(1, total // BODY)):
            client.post(url, content=body).raise_for_status()
        elapsed = time.perf_counter() - started
    return max(1, total // BODY) * BODY / elapsed / 1e6


async def hold_idle_tunnels(gw_port: int, echo_port: int, count: int) -> tuple[float, int, bool]:
    writers: list[asyncio.StreamWriter] = []
    readers: list[asyncio.StreamReader] = []
    request = f"CONNECT 127.0.0.1:{echo_port} HTTP/1.1\r\n\r\n".encode()
    started = time.perf_counter()
    failures = 0
    semaphore = asyncio.Semaphore(200)

    async def one() -> None:
        nonlocal failures
        async with semaphore:
            try:
                reader, writer = await asyncio.open_connection("127.0.0.1", gw_port)
                writer.write(request)
                head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 30)
                if not head.startswith(b"HTTP/1.1 200"):
                    failures += 1
                    writer.close()
                    return
                readers.append(reader)
                writers.append(writer)
            except (OSError, TimeoutError, asyncio.IncompleteReadError):
                failures += 1

    await asyncio.gather(*(one() for _ in range(count)))
    elapsed = time.perf_counter() - started
    relays = False
    if writers:
        writers[-1].write(b"still alive?")
        relays = await asyncio.wait_for(readers[-1].readexactly(12), 10) == b"still alive?"
    hold_idle_tunnels.writers = writers  # type: ignore[attr-defined]  # keep open for the RSS reading
    return elapsed, len(writers), relays


def agent_rate(root: Path, log: Path, lines: int, via_gateway: bool, timeout: float) -> float:
    """Lines/s of one `calypso agent run` shipping `log` to a fresh acknowledge-only endpoint."""
    from calypso.workspace.tls import ensure_certificates

    name = "gateway" if via_gateway else "direct"
    ctx = agentbench.Ctx(Path(tempfile.mkdtemp(prefix=f"{name}-", dir=root)), log, lines)
    procs = agentbench.Procs()
    try:
        ca = ensure_certificates(ctx.root / "acktls")
        port, counts, sink = agentbench._sink(procs, ctx, "ack", "--tls-dir", str(ctx.root / "acktls"))
        agentbench.wait_for(lambda: agentbench.tls_listening(port, ca), 30, "the endpoint", sink)
        extra: list[str] = []
        if via_gateway:
            gw_port = agentbench.free_port()
            gw_log = ctx.root / "gateway.log"
            gateway = procs.spawn(
                [
                    *(sys.executable, "-m", "calypso.gateway", "serve"),
                    *("--listen", f"127.0.0.1:{gw_port}", "--allow", f"127.0.0.1:{port}"),
                ],
                gw_log,
            )
            agentbench.wait_for(lambda: agentbench.listening(gw_port), 30, "the gateway", gateway, gw_log)
            extra = ["--gateway", f"http://127.0.0.1:{gw_port}"]
        connect = [agentbench.CALYPSO, "agent", "connect", "--state", str(ctx.root / "agent")]
        connect += ["--url", f"https://127.0.0.1:{port}", "--workspace-id", agentbench.ACK_WORKSPACE_ID]
        connect += ["--key", "YmVuY2gtbm90LWEtcmVhbC1rZXk=", "--ca", str(ca), *extra]
        out = subprocess.run(connect, capture_output=True, text=True, timeout=60)
        if out.returncode != 0:
            raise RuntimeError(f"calypso agent connect failed: {out.stderr.strip()[-1000:]}")
        agent = agentbench._agent(procs, ctx, ctx.root / "agent")
        started = time.monotonic()
        while (arrived := read_count(counts)) < lines:
            if agent.poll() is not None or time.monotonic() - started > timeout:
                raise RuntimeError(f"agent ({name}) delivered {arrived} of {lines} lines; see {ctx.root}")
            time.sleep(0.05)
        return lines / (time.monotonic() - started)
    finally:
        procs.close()


def agent_rows(mb: float, rounds: int, timeout: float) -> list[tuple[str, str]]:
    from agent_throughput import generate

    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        lines, size = generate(root / "app.log", mb)
        direct, via, ratios = [], [], []
        for _ in range(rounds):  # alternate, like the upload rounds
            direct.append(agent_rate(root, root / "app.log", lines, False, timeout))
            via.append(agent_rate(root, root / "app.log", lines, True, timeout))
            ratios.append(via[-1] / direct[-1])
    return [
        (f"agent: lines shipped per run ({size / 1e6:.0f} MB file)", f"{lines:,}"),
        ("agent direct, lines/s (median of rounds)", f"{median(direct):,.0f}"),
        ("agent via gateway, lines/s (median of rounds)", f"{median(via):,.0f}"),
        ("agent ratio via/direct, median of rounds (target >= 0.9)", f"{median(ratios):.2f}"),
        ("agent ratio via/direct, min..max of rounds", f"{min(ratios):.2f}..{max(ratios):.2f}"),
    ]


def health(port: int) -> dict[str, object]:
    result: dict[str, object] = httpx.get(f"http://127.0.0.1:{port}/health", timeout=10).json()
    return result


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--mib", type=int, default=256, help="MiB uploaded per round and per path")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--idle", type=int, default=5000, help="idle tunnels to hold")
    parser.add_argument("--agent-mb", type=float, default=100, help="MB of lines the agent ships (0: skip)")
    parser.add_argument("--agent-rounds", type=int, default=3)
    parser.add_argument("--agent-timeout", type=float, default=600, help="seconds one agent run may take")
    parser.add_argument("--serve", nargs="+", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        resource.setrlimit(resource.RLIMIT_NOFILE, (resource.getrlimit(resource.RLIMIT_NOFILE)[1],) * 2)
        asyncio.run(serve(args.serve[0], *(args.serve[1:3] or [None, None])))
        return 0
    resource.setrlimit(resource.RLIMIT_NOFILE, (resource.getrlimit(resource.RLIMIT_NOFILE)[1],) * 2)
    rows: list[tuple[str, str]] = []
    with tempfile.TemporaryDirectory() as tmp:
        cert, key = make_cert(Path(tmp))
        sink, sink_port = spawn_server("sink", cert, key)
        gateway, gw_port = spawn_gateway([f"localhost:{sink_port}"])
        try:
            url, proxy = f"https://localhost:{sink_port}/upload", f"http://127.0.0.1:{gw_port}"
            direct, via, ratios = [], [], []
            gw_proc, total = psutil.Process(gateway.pid), args.mib * 1024 * 1024
            cpu_before = sum(gw_proc.cpu_times()[:2])
            for _ in range(args.rounds):  # alternate so drift on a shared machine hits both alike
                direct.append(upload_rate(url, cert, None, total))
                via.append(upload_rate(url, cert, proxy, total))
                ratios.append(via[-1] / direct[-1])
            gw_cpu = sum(gw_proc.cpu_times()[:2]) - cpu_before
            rows += [
                ("upload direct, MB/s (median of rounds)", f"{median(direct):.0f}"),
                ("upload via gateway, MB/s (median of rounds)", f"{median(via):.0f}"),
                ("ratio via/direct, median of rounds (target >= 0.9)", f"{median(ratios):.2f}"),
                ("ratio via/direct, min..max of rounds", f"{min(ratios):.2f}..{max(ratios):.2f}"),
                ("gateway CPU seconds per GiB relayed", f"{gw_cpu / (args.rounds * total / 2**30):.2f}"),
            ]
        finally:
            stop(gateway)
            sink.kill()

        echo, echo_port = spawn_server("echo")
        gateway, gw_port = spawn_gateway(
            [f"127.0.0.1:{echo_port}"],
            "--max-tunnels",
            str(args.idle + 100),
            "--max-per-client",
            str(args.idle + 100),
        )
        try:
            rss_before = psutil.Process(gateway.pid).memory_info().rss
            elapsed, held, relays = asyncio.run(
                asyncio.wait_for(hold_idle_tunnels(gw_port, echo_port, args.idle), 600)
            )
            time.sleep(0.5)
            # reading health needs the loop of a fresh client, the tunnels above stay open in this process
            snapshot = health(gw_port)
            rss = psutil.Process(gateway.pid).memory_info().rss
            cpu = psutil.Process(gateway.pid).cpu_times()
            rows += [
                ("idle tunnels requested", str(args.idle)),
                ("idle tunnels held (client side)", str(held)),
                ("tunnels_open reported by /health", str(snapshot["tunnels_open"])),
                ("one tunnel still relays at load", "yes" if relays else "NO"),
                ("seconds to open them all", f"{elapsed:.2f}"),
                ("gateway RSS idle, MiB", f"{rss_before / 2**20:.1f}"),
                ("gateway RSS at load, MiB", f"{rss / 2**20:.1f}"),
                ("RSS per idle tunnel, KiB", f"{(rss - rss_before) / max(1, held) / 1024:.1f}"),
                ("gateway CPU seconds (user+sys)", f"{cpu.user + cpu.system:.2f}"),
            ]
        finally:
            stop(gateway)
            echo.kill()
    if args.agent_mb > 0:
        rows += agent_rows(args.agent_mb, args.agent_rounds, args.agent_timeout)
    width = max(len(name) for name, _ in rows)
    print(f"{'figure':<{width}}  value")
    print(f"{'-' * width}  -----")
    for name, value in rows:
        print(f"{name:<{width}}  {value}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
