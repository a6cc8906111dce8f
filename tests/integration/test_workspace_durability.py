"""kill -9 of the server at arbitrary moments: every acknowledged batch survives, none is torn."""

from __future__ import annotations

import signal
import threading
import time
import uuid
from pathlib import Path

import httpx
import pytest

from calypso.wire import agentapi, batch
from tests.integration.test_workspace_support import Agent, init_server

pytestmark = pytest.mark.integration
ROWS = 250


def test_kill_9_keeps_every_acknowledged_batch_whole(tmp_path: Path) -> None:
    server = init_server(tmp_path)
    server.start()
    agent = Agent(server)
    assert agent.onboard().status_code == 200
    acknowledged: set[str] = set()
    sent: set[str] = set()
    stop = threading.Event()

    def sender() -> None:
        while not stop.is_set():
            batch_id = str(uuid.uuid4())
            records = [{"Computer": f"c{i}", "Category": batch_id} for i in range(ROWS)]
            sent.add(batch_id)
            try:
                r = agent.signed(
                    "POST",
                    agentapi.BATCHES,
                    batch.encode([batch.Batch.from_records("Heartbeat", records, batch_id)]),
                )
            except httpx.HTTPError:
                time.sleep(0.05)
                continue
            if r.status_code == 200:
                acknowledged.add(batch_id)

    try:
        for round_ in range(3):
            stop.clear()
            threads = [threading.Thread(target=sender) for _ in range(3)]
            for t in threads:
                t.start()
            time.sleep(0.6 + 0.3 * round_)
            server.stop(signal.SIGKILL)
            stop.set()
            for t in threads:
                t.join(30)
            server.start()
        r = server.query("Heartbeat | summarize n = count() by Category")
        assert r.status_code == 200, r.text
        counts = {row[0]: row[1] for row in r.json()["tables"][0]["rows"]}
    finally:
        server.stop()
    assert len(acknowledged) > 10, "the test did not manage to send enough batches"
    missing = acknowledged - set(counts)
    assert not missing, f"{len(missing)} acknowledged batches lost"
    torn = {k: v for k, v in counts.items() if v != ROWS}
    assert not torn, f"torn batches: {torn}"
    assert set(counts) <= sent
