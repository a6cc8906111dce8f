"""Workspace server figures: ingestion rows/s (Data Collector API, agent path) and query latency.

    .venv/bin/python benchmarks/workspace_ingest.py [--rows 200000] [--query-rows 1000000,10000000]
    .venv/bin/python benchmarks/workspace_ingest.py --store-only [--rows 200000]

Ingestion runs against a real server process over HTTPS on 127.0.0.1 (clients in this process); next
to rows/s it prints the server process's CPU time per row (user + system, all threads), which moves
far less than rows/s when other programs load the machine. `--store-only` measures the store alone
(`DuckDBStore.write` of ready column batches from 4 threads, in this process, no HTTP), then the same
rows committed 50k and 250k rows per transaction with the database file checkpointed at the end.
query latency is measured in-process on a DuckDB store filled with generated Syslog rows spread over
24 hours, for `Syslog | where TimeGenerated > ago(1h) | summarize count() by Computer` (compiled by
calypso.kql, run on a reader cursor), and once more through the HTTP Query API.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from pathlib import Path
from typing import Any

import httpx
import psutil

from calypso.wire import agentapi, batch, sharedkey
from calypso.workspace import kqlbridge
from calypso.workspace.ingest.prepare import RawBatch
from calypso.workspace.store.duckdb import DuckDBStore

QUERY = "Syslog | where TimeGenerated > ago(1h) | summarize count() by Computer"


def syslog_records(n: int, offset: int = 0) -> list[dict[str, Any]]:
    return [
        {
            "Computer": f"host-{(offset + i) % 50}",
            "Facility": "daemon",
            "SeverityLevel": "info",
            "ProcessID": 1000 + i % 300,
            "ProcessName": "sshd",
            "HostIP": "10.0.0.1",
            "SyslogMessage": f"Accepted publickey for user{i % 97} from 10.1.{i % 255}.{i % 253} port {i % 65535}",
        }
        for i in range(n)
    ]


def tail_batch(n: int) -> batch.Batch:
    """A batch shaped like the agent's tail source: one RawData column, path, time and computer sent once."""
    lines = [
        f"2024-05-01 12:00:{i % 60:02d} INFO worker-{i % 8} handled request {i} in {i % 997} ms"
        for i in range(n)
    ]
    consts = {
        "TimeGenerated": "2024-05-01T12:00:00.1234567Z",
        "Computer": "bench",
        "FilePath": "/var/log/app.log",
    }
    return batch.Batch("BenchTail_CL", {"RawData": lines}, n, consts=consts)


def start_server(root: Path) -> tuple[subprocess.Popen[bytes], dict[str, Any], str]:
    info = json.loads(
        subprocess.run(
            [sys.executable, "-m", "calypso.workspace", "init", "--data", str(root)],
            capture_output=True,
            check=True,
        ).stdout
    )
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "calypso.workspace",
            "serve",
            "--data",
            str(root),
            "--listen",
            f"127.0.0.1:{port}",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"https://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            httpx.get(f"{url}/healthz", verify=info["ca_cert"], timeout=1)
            break
        except httpx.HTTPError:
            time.sleep(0.1)
    return proc, info, url


def bench_datacollector(
    url: str, info: dict[str, Any], rows: int, per_post: int = 5000, clients: int = 2
) -> float:
    body = json.dumps(syslog_records(per_post)).encode()
    posts = max(1, rows // per_post)

    local = threading.local()  # one keep-alive connection per client thread, as real shippers keep

    def post(_: int) -> None:
        date = sharedkey.rfc1123_now()
        sig = sharedkey.sign(info["primary_key"], date=date, content_length=len(body))
        if not hasattr(local, "client"):
            local.client = httpx.Client(verify=info["ca_cert"], timeout=120)
        c = local.client
        r = c.post(
            f"{url}/api/logs?api-version=2016-04-01",
            content=body,
            headers={
                "Authorization": f"SharedKey {info['workspace_id']}:{sig}",
                "Log-Type": "Bench",
                "x-ms-date": date,
                "Content-Type": "application/json",
            },
        )
        r.raise_for_status()

    start = time.perf_counter()
    with ThreadPoolExecutor(clients) as pool:
        list(pool.map(post, range(posts)))
    return posts * per_post / (time.perf_counter() - start)


def bench_agent(
    url: str, info: dict[str, Any], rows: int, per_batch: int = 50_000, clients: int = 4, tail: bool = False
) -> float:
    key = agentapi.new_private_key()
    onboard = json.dumps(
        {
            "workspace_id": info["workspace_id"],
            "machine_id": "bench",
            "hostname": "bench",
            "public_key": agentapi.public_key_pem(key),
            "labels": {},
        }
    ).encode()
    date = sharedkey.rfc1123_now()
    sig = sharedkey.sign(
        info["primary_key"], date=date, content_length=len(onboard), resource=agentapi.ONBOARD
    )
    agent_id = httpx.post(
        f"{url}{agentapi.ONBOARD}",
        content=onboard,
        verify=info["ca_cert"],
        headers={
            "Authorization": f"SharedKey {info['workspace_id']}:{sig}",
            "x-ms-date": date,
            "Content-Type": "application/json",
        },
    ).json()["agent_id"]
    records = syslog_records(per_batch)
    posts = max(1, rows // per_batch)
    shape = tail_batch(per_batch) if tail else batch.Batch.from_records("Syslog", records)
    bodies = [batch.encode([replace(shape, batch_id=str(uuid.uuid4()))]) for _ in range(posts)]

    def post(body: bytes) -> None:
        d = sharedkey.rfc1123_now()
        with httpx.Client(verify=info["ca_cert"], timeout=120) as c:
            r = c.post(
                f"{url}{agentapi.BATCHES}",
                content=body,
                headers={
                    agentapi.H_AGENT: agent_id,
                    agentapi.H_DATE: d,
                    agentapi.H_SIGNATURE: agentapi.sign_request(key, "POST", agentapi.BATCHES, d, body),
                    "Content-Type": batch.CONTENT_TYPE,
                },
            )
            r.raise_for_status()

    start = time.perf_counter()
    with ThreadPoolExecutor(clients) as pool:
        list(pool.map(post, bodies))
    return posts * per_batch / (time.perf_counter() - start)


def server_cpu(proc: subprocess.Popen[bytes]) -> float:
    times = psutil.Process(proc.pid).cpu_times()
    return float(times.user + times.system)


def per_row(cpu_seconds: float, rows: int) -> str:
    return f"{cpu_seconds * 1e6 / max(rows, 1):.2f} µs CPU/row"


def bench_decode(per_batch: int = 50_000, repeats: int = 9) -> list[tuple[str, str]]:
    """Request body -> typed columns, per batch: today's JSON envelope vs an Arrow IPC stream (zstd).
    Both hold the GIL for most of it; the JSON path builds a Python object per value."""
    import pyarrow as pa

    from calypso.wire.schemas import standard_tables
    from calypso.workspace.ingest.prepare import prepare

    b = batch.Batch.from_records("Syslog", syslog_records(per_batch))
    body = batch.encode([b])
    catalog = dict(standard_tables())
    ws = "00000000-0000-0000-0000-000000000000"

    def json_path() -> None:
        for d in batch.decode(body):
            prepare(RawBatch(d.table, d.columns, d.count, d.batch_id), catalog, ws)

    table = prepare(RawBatch("Syslog", b.columns, b.count), catalog, ws).data.select(list(b.columns))
    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, table.schema, options=pa.ipc.IpcWriteOptions(compression="zstd")) as w:
        w.write_table(table)
    ipc = sink.getvalue()

    def ipc_path() -> None:  # the agent's columns arrive typed; the server adds TenantId, Type, ...
        got = pa.ipc.open_stream(ipc).read_all().combine_chunks()
        columns = {name: got.column(name).chunk(0) for name in got.column_names}
        prepare(RawBatch("Syslog", columns, got.num_rows), catalog, ws)

    out = []
    for label, size, fn in (
        ("JSON envelope (zstd)", len(body), json_path),
        ("Arrow IPC (zstd)", ipc.size, ipc_path),
    ):
        times = []
        for _ in range(repeats):
            start = time.process_time()
            fn()
            times.append(time.process_time() - start)
        out.append(
            (
                f"decode + convert one {per_batch // 1000}k-row Syslog batch, {label}",
                f"{statistics.median(times) * 1000:.1f} ms CPU, {size / 1e6:.1f} MB on the wire",
            )
        )
    return out


def bench_store(rows: int, per_batch: int = 50_000, clients: int = 4) -> list[tuple[str, str]]:
    """The store alone: rows/s and CPU/row of DuckDBStore.write, then commit size alone."""
    from calypso.workspace.store.group import GroupPolicy  # here: the rest also runs against older builds

    b = batch.Batch.from_records("Syslog", syslog_records(per_batch))
    posts = max(1, rows // per_batch)
    out: list[tuple[str, str]] = []
    with tempfile.TemporaryDirectory() as tmp:
        store = DuckDBStore(Path(tmp) / "s.duckdb", "00000000-0000-0000-0000-000000000000")
        try:

            def post(i: int) -> None:
                store.write([RawBatch("Syslog", b.columns, b.count, f"b{i}")]).result()

            cpu, start = time.process_time(), time.perf_counter()
            with ThreadPoolExecutor(clients) as pool:
                list(pool.map(post, range(posts)))
            store.submit(lambda db: db.execute("CHECKPOINT")).result()
            wall, cpu = time.perf_counter() - start, time.process_time() - cpu
        finally:
            store.close()
        out.append(
            (
                f"store.write, {per_batch // 1000}k-row batches from {clients} threads, incl. checkpoint",
                f"{posts * per_batch / wall:,.0f} rows/s, {per_row(cpu, posts * per_batch)}",
            )
        )
    for group_rows in (per_batch, 250_000):
        with tempfile.TemporaryDirectory() as tmp:  # one writer, fixed commit size: no grouping luck
            store = DuckDBStore(
                Path(tmp) / "s.duckdb",
                "00000000-0000-0000-0000-000000000000",
                GroupPolicy(target_rows=group_rows, max_rows=group_rows, linger=1.0),
            )
            try:
                release = threading.Event()
                blocker = store.submit(lambda db, hold=release: hold.wait(60))
                futures = [
                    store.write([RawBatch("Syslog", b.columns, b.count, f"c{i}")]) for i in range(posts)
                ]
                deadline = time.monotonic() + 60
                while store.preparing() and time.monotonic() < deadline:  # all queued behind the blocker
                    time.sleep(0.05)
                cpu, start = time.process_time(), time.perf_counter()
                release.set()
                blocker.result()
                for f in futures:
                    f.result()
                store.submit(lambda db: db.execute("CHECKPOINT")).result()
                wall, cpu = time.perf_counter() - start, time.process_time() - cpu
            finally:
                store.close()
        out.append(
            (
                f"DuckDB insert + commit, {group_rows:,} rows per transaction, incl. checkpoint",
                f"{posts * per_batch / wall:,.0f} rows/s, {per_row(cpu, posts * per_batch)}",
            )
        )
    return out


def fill_syslog(store: DuckDBStore, rows: int) -> None:
    def run(db: Any) -> None:
        db.execute(f"""
            INSERT INTO "Syslog" (SourceSystem, Computer, Facility, SeverityLevel, ProcessID,
                                  SyslogMessage, TimeGenerated)
            SELECT 'OpsManager', 'host-' || (i % 500), 'daemon', 'info',
                   (i % 30000)::INTEGER, 'message ' || i,
                   CAST(now() AS TIMESTAMP) - to_microseconds((i * 86400000000 // {rows})::BIGINT)
            FROM range({rows}) t(i)""")

    store.submit(run).result()


def bench_query(rows: int, repeats: int = 15) -> tuple[float, float, int]:
    with tempfile.TemporaryDirectory() as tmp:
        store = DuckDBStore(Path(tmp) / "q.duckdb", "00000000-0000-0000-0000-000000000000")
        try:
            fill_syslog(store, rows)
            times = []
            groups = 0
            for _ in range(repeats):
                start = time.perf_counter()
                compiled = kqlbridge.compile_query(QUERY, store.catalog())
                result = store.query(compiled.sql, 10_000)
                times.append((time.perf_counter() - start) * 1000)
                groups = len(result.rows)
            times.sort()
            return statistics.median(times), times[int(len(times) * 0.9)], groups
        finally:
            store.close()


def bench_query_http(url: str, info: dict[str, Any], repeats: int = 15) -> float:
    times = []
    with httpx.Client(verify=info["ca_cert"], timeout=60) as c:
        for _ in range(repeats):
            start = time.perf_counter()
            r = c.post(
                f"{url}/v1/workspaces/{info['workspace_id']}/query",
                json={"query": QUERY},
                headers={"Authorization": f"Bearer {info['query_token']}"},
            )
            r.raise_for_status()
            times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=200_000, help="rows per ingestion run")
    parser.add_argument("--query-rows", default="1000000,10000000")
    parser.add_argument("--store-only", action="store_true", help="only the in-process store figures")
    args = parser.parse_args()
    results: list[tuple[str, str]] = []
    if args.store_only:
        results.extend(bench_store(args.rows * 5))
        results.extend(bench_decode())
        print_table(results)
        return 0
    with tempfile.TemporaryDirectory() as tmp:
        proc, info, url = start_server(Path(tmp) / "data")
        try:
            cpu = server_cpu(proc)
            dc = bench_datacollector(url, info, args.rows)
            used = server_cpu(proc) - cpu
            cpu += used
            results.append(
                (
                    "Data Collector API ingest (5k records/post, 2 clients)",
                    f"{dc:,.0f} rows/s, server {per_row(used, args.rows)}",
                )
            )
            # A workspace serves a fleet: each agent keeps up to 2 batches in flight, so 4 clients is
            # two agents and 8 is four. Fewer senders leave DuckDB idle while the next batches decode.
            syslog_rows = 0
            for clients, tail in ((4, False), (8, False), (4, True), (8, True)):
                ag = bench_agent(url, info, args.rows * 5, clients=clients, tail=tail)
                used = server_cpu(proc) - cpu
                cpu += used
                shape = "tail batches (RawData + 3 consts)" if tail else "Syslog batches (7 columns)"
                syslog_rows += 0 if tail else args.rows * 5
                results.append(
                    (
                        f"agent path ingest, {shape}, 50k rows/batch, {clients} clients",
                        f"{ag:,.0f} rows/s, server {per_row(used, args.rows * 5)}",
                    )
                )
            http_ms = bench_query_http(url, info)
            results.append((f"query over HTTPS, {syslog_rows:,} Syslog rows (median)", f"{http_ms:.1f} ms"))
        finally:
            proc.terminate()
            proc.wait(30)
    for n in (int(x) for x in args.query_rows.split(",") if x):
        median, p90, groups = bench_query(n)
        results.append(
            (
                f"query in store, {n:,} Syslog rows, last hour by Computer ({groups} groups)",
                f"median {median:.1f} ms, p90 {p90:.1f} ms",
            )
        )
    print_table(results)
    return 0


def print_table(results: list[tuple[str, str]]) -> None:
    width = max(len(k) for k, _ in results)
    print(f"{'measure'.ljust(width)}  result")
    print(f"{'-' * width}  {'-' * 30}")
    for k, v in results:
        print(f"{k.ljust(width)}  {v}")


if __name__ == "__main__":
    sys.exit(main())
