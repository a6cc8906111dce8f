"""The workspace sink against a real HTTPS server on 127.0.0.1 that answers as told."""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest
import uvicorn
import zstandard
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from calypso.agent.buffer import DiskBuffer
from calypso.agent.config import DeliveryConfig
from calypso.agent.identity import Connection
from calypso.agent.sinks.workspace.service import WorkspaceService
from calypso.agent.sinks.workspace.sink import WorkspaceSink, pack_entry
from calypso.agent.transport import Routes
from calypso.wire import agentapi
from calypso.wire.batch import Batch
from calypso.workspace.tls import ensure_certificates, server_files


class FakeWorkspace:
    """Stores batch ids; refuses batches for table "Bad" with 400; can be told to throttle."""

    def __init__(self) -> None:
        self.stored: dict[str, str] = {}
        self.requests = 0
        self.throttle: list[int] = []  # statuses to answer before behaving
        self.throttle_after = 0  # requests served before the throttle statuses apply
        self.arrivals: list[str] = []  # batch ids in the order they were stored, resends included

    async def batches(self, request: Request) -> Response:
        self.requests += 1
        if self.throttle and self.throttle_after <= 0:
            code = self.throttle.pop(0)
            return JSONResponse(
                {"error": {"code": "Busy", "message": "slow down"}}, code, headers={"retry-after": "1"}
            )
        body = orjson.loads(
            zstandard.ZstdDecompressor().decompress(await request.body(), max_output_size=1 << 26)
        )
        if any(b["table"] == "Bad" for b in body["batches"]):
            return JSONResponse({"error": {"code": "InvalidTable", "message": "no table Bad"}}, 400)
        self.throttle_after -= 1
        dup = sum(1 for b in body["batches"] if b["batch_id"] in self.stored)
        for b in body["batches"]:
            self.stored[b["batch_id"]] = b["table"]
            self.arrivals.append(b["batch_id"])
        return JSONResponse({"accepted": len(body["batches"]), "duplicates": dup})


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[FakeWorkspace, str, Path]]:
    d = tmp_path_factory.mktemp("tls")
    ca = ensure_certificates(d)
    cert, key = server_files(d)
    fake = FakeWorkspace()
    app = Starlette(routes=[Route(agentapi.BATCHES, fake.batches, methods=["POST"])])
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    config = uvicorn.Config(
        app, host="127.0.0.1", port=port, ssl_certfile=str(cert), ssl_keyfile=str(key), log_level="error"
    )
    srv = uvicorn.Server(config)
    t = threading.Thread(target=srv.run, daemon=True)
    t.start()
    deadline = time.monotonic() + 10
    while not srv.started and time.monotonic() < deadline:
        time.sleep(0.05)
    yield fake, f"https://127.0.0.1:{port}", ca
    srv.should_exit = True
    t.join(5)


def entry(table: str, n: int = 2) -> bytes:
    b = Batch.from_records(table, [{"RawData": f"r{i}"} for i in range(n)])
    return pack_entry(b.count, orjson.dumps(b.to_json()))


async def deliver(
    url: str,
    ca: Path,
    buffer: DiskBuffer,
    tmp: Path,
    until: Any,
    timeout: float = 15,
    delivery: DeliveryConfig | None = None,
) -> WorkspaceSink:
    conn = Connection(url=url, workspace_id="ws1", agent_id="a1", machine="m")
    routes = Routes(ca, None, [])
    sink = WorkspaceSink(
        WorkspaceService(conn, agentapi.new_private_key(), routes),
        buffer,
        delivery or DeliveryConfig(max_retry_delay=1.0),
        tmp,
    )
    task = asyncio.create_task(sink.run())
    deadline = time.monotonic() + timeout
    while not until(sink) and time.monotonic() < deadline:
        await asyncio.sleep(0.05)
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)
    await routes.aclose()
    return sink


def test_one_bad_batch_is_set_aside_and_the_rest_delivered(server: Any, tmp_path: Path) -> None:
    _fake, url, ca = server
    buffer = DiskBuffer(tmp_path / "buf")
    buffer.add_reader("workspace-ws1")
    buffer.append_many([entry("Good"), entry("Bad"), entry("Good"), entry("Good")])
    sink = asyncio.run(deliver(url, ca, buffer, tmp_path, lambda s: s.status()["pending"] == 0))
    assert sink.counters["dead_lettered"] == 1
    assert sink.counters["batches_out"] == 3 and sink.counters["records_out"] == 6
    lines = (tmp_path / "dead-letter.jsonl").read_bytes().splitlines()
    assert len(lines) == 1 and orjson.loads(lines[0])["table"] == "Bad"
    buffer.close()


def test_throttling_is_honoured_then_everything_arrives_once(server: Any, tmp_path: Path) -> None:
    fake, url, ca = server
    fake.throttle = [429, 503]
    before = len(fake.stored)
    buffer = DiskBuffer(tmp_path / "buf")
    buffer.add_reader("workspace-ws1")
    buffer.append_many([entry("T") for _ in range(5)])
    started = time.monotonic()
    sink = asyncio.run(deliver(url, ca, buffer, tmp_path, lambda s: s.status()["pending"] == 0))
    assert time.monotonic() - started >= 2.0  # two Retry-After: 1 answers were waited out
    assert sink.counters["retries"] == 2
    assert len(fake.stored) - before == 5
    assert sink.counters["dead_lettered"] == 0
    buffer.close()


def test_a_retry_while_the_next_request_flies_skips_nothing_and_stores_nothing_twice(
    server: Any, tmp_path: Path
) -> None:
    """One request per batch; the third is throttled while the next one is already sent: after
    the retry every batch is stored, and each one sent again is answered as a duplicate."""
    fake, url, ca = server
    fake.throttle, fake.throttle_after = [503], 2
    before = len(fake.arrivals)
    buffer = DiskBuffer(tmp_path / "buf")
    buffer.add_reader("workspace-ws1")
    sent = [entry("T", 50) for _ in range(8)]
    buffer.append_many(sent)
    ids = [orjson.loads(e[4:])["batch_id"] for e in sent]
    one_per_request = DeliveryConfig(max_retry_delay=1.0, max_request_bytes=len(sent[0]))
    sink = asyncio.run(
        deliver(url, ca, buffer, tmp_path, lambda s: s.status()["pending"] == 0, delivery=one_per_request)
    )
    assert sink.counters["retries"] == 1
    arrived = fake.arrivals[before:]
    assert sorted(set(arrived)) == sorted(ids)
    assert len(arrived) - len(ids) == sink.counters["duplicates"]  # every repeat was recognised
    assert sink.status()["pending"] == 0 and sink.counters["dead_lettered"] == 0
    buffer.close()


def test_unreachable_workspace_keeps_data_buffered(tmp_path: Path, server: Any) -> None:
    _, _, ca = server
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        dead = f"https://127.0.0.1:{s.getsockname()[1]}"
    buffer = DiskBuffer(tmp_path / "buf")
    buffer.add_reader("workspace-ws1")
    buffer.append_many([entry("T")])
    sink = asyncio.run(deliver(dead, ca, buffer, tmp_path, lambda s: s.counters["retries"] >= 2, timeout=10))
    assert sink.status()["pending"] == 1
    assert "Connect" in (sink.counters["last_error"] or "")
    buffer.close()
