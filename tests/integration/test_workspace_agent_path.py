"""The agent path against a real server process: onboarding, batches (de-duplicated), config with ETags,
revocation, bad input answered without a stack trace, data surviving SIGTERM and restart."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import duckdb
import pytest

from calypso.wire import agentapi, batch
from calypso.workspace import layout
from tests.integration.test_workspace_support import Agent, Server, running_server

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    yield from running_server(tmp_path_factory.mktemp("ws"))


@pytest.fixture
def agent(server: Server) -> Agent:
    a = Agent(server)
    assert a.onboard().status_code == 200
    return a


def test_onboard_with_wrong_key_is_refused(server: Server) -> None:
    a = Agent(server)
    r = a.onboard(key=layout.new_shared_key())
    assert r.status_code == 403
    assert "Traceback" not in r.text and r.json()["error"]["code"]


def test_onboard_with_secondary_key_works(server: Server) -> None:
    r = Agent(server).onboard(key=server.info["secondary_key"])
    assert r.status_code == 200
    assert r.json()["workspace_id"] == server.ws_id


def test_batch_is_stored_once_even_when_sent_twice(server: Server, agent: Agent) -> None:
    b = batch.Batch.from_records(
        "Syslog",
        [
            {
                "Computer": "web-1",
                "SyslogMessage": f"line {i}",
                "SeverityLevel": "info",
                "ProcessID": i,
                "TimeGenerated": "2026-01-01T00:00:00.1234567Z",
            }
            for i in range(100)
        ],
    )
    body = batch.encode([b])
    before = server.rows("Syslog")
    first = agent.signed("POST", agentapi.BATCHES, body)
    again = agent.signed("POST", agentapi.BATCHES, body)
    assert first.json() == {"accepted": 1, "duplicates": 0}
    assert again.json() == {"accepted": 0, "duplicates": 1}
    assert server.rows("Syslog") == before + 100


def test_custom_table_grows_with_new_columns(server: Server, agent: Agent) -> None:
    one = batch.Batch.from_records("MyApp_CL", [{"RawData": "hello", "Computer": "c1"}])
    two = batch.Batch.from_records("MyApp_CL", [{"RawData": "again", "Level": 3, "Extra": {"a": 1}}])
    assert agent.signed("POST", agentapi.BATCHES, batch.encode([one])).status_code == 200
    r = agent.signed("POST", agentapi.BATCHES, batch.encode([two]))
    assert r.status_code == 200, r.text
    table = server.tables()["MyApp_CL"]
    columns = {c["name"]: c["type"] for c in table["columns"]}
    assert table["rows"] == 2
    assert columns["RawData"] == "string" and columns["Level"] == "long" and columns["Extra"] == "dynamic"
    assert columns["TenantId"] == "string" and columns["TimeGenerated"] == "datetime"


def test_unknown_column_of_standard_table_is_a_clear_400(server: Server, agent: Agent) -> None:
    b = batch.Batch.from_records("Syslog", [{"NoSuchColumn": "x"}])
    r = agent.signed("POST", agentapi.BATCHES, batch.encode([b]))
    assert r.status_code == 400
    assert "NoSuchColumn" in r.json()["error"]["message"]


def test_bad_value_names_column_and_row(server: Server, agent: Agent) -> None:
    b = batch.Batch.from_records("Syslog", [{"ProcessID": 1}, {"ProcessID": "not a number"}])
    r = agent.signed("POST", agentapi.BATCHES, batch.encode([b]))
    assert r.status_code == 400
    message = r.json()["error"]["message"]
    assert "ProcessID" in message and "row 1" in message


def test_garbage_body_is_400_not_500(server: Server, agent: Agent) -> None:
    r = agent.signed("POST", agentapi.BATCHES, b"definitely not zstd")
    assert r.status_code == 400
    assert "zstd" in r.json()["error"]["message"]


def test_wrong_signature_is_refused(server: Server, agent: Agent) -> None:
    body = batch.encode([batch.Batch.from_records("Syslog", [{"SyslogMessage": "x"}])])
    good = agent.signed("POST", agentapi.BATCHES, body)
    assert good.status_code == 200
    agent.key = agentapi.new_private_key()  # a different key than the one registered
    r = agent.signed("POST", agentapi.BATCHES, body)
    assert r.status_code == 403


def test_config_etag_and_304(server: Server, agent: Agent) -> None:
    with server.client() as c:
        put = c.put(
            f"/admin/v1/workspaces/{server.ws_id}/rules",
            json={"sources": {"perf": {"interval": "10s"}}},
            headers={"Authorization": f"Bearer {server.info['admin_token']}"},
        )
        assert put.status_code == 200
        denied = c.put(
            f"/admin/v1/workspaces/{server.ws_id}/rules",
            json={},
            headers={"Authorization": f"Bearer {server.info['query_token']}"},
        )
        assert denied.status_code == 403
    r = agent.signed("GET", agentapi.CONFIG)
    assert r.status_code == 200
    assert r.json()["rules"] == {"sources": {"perf": {"interval": "10s"}}}
    etag = r.headers["etag"]
    assert agent.signed("GET", agentapi.CONFIG, headers={"If-None-Match": etag}).status_code == 304
    with server.client() as c:
        c.put(
            f"/admin/v1/workspaces/{server.ws_id}/rules",
            json={"sources": {"perf": {"interval": "20s"}}},
            headers={"Authorization": f"Bearer {server.info['admin_token']}"},
        )
    changed = agent.signed("GET", agentapi.CONFIG, headers={"If-None-Match": etag})
    assert changed.status_code == 200 and changed.headers["etag"] != etag


def test_disconnect_revokes(server: Server, agent: Agent) -> None:
    assert agent.signed("POST", agentapi.DISCONNECT).status_code == 200
    r = agent.signed("GET", agentapi.CONFIG)
    assert r.status_code == 403


def test_sigterm_keeps_acknowledged_batches(tmp_path: Path) -> None:
    gen = running_server(tmp_path)
    server = next(gen)
    a = Agent(server)
    assert a.onboard().status_code == 200
    ids = [str(uuid.uuid4()) for _ in range(5)]
    for batch_id in ids:
        b = batch.Batch.from_records(
            "Heartbeat", [{"Computer": f"h{i}"} for i in range(1000)], batch_id=batch_id
        )
        assert a.signed("POST", agentapi.BATCHES, batch.encode([b])).status_code == 200
    assert server.stop() == 0
    log = server.log.read_text()
    assert "Traceback" not in log and "stores closed" in log
    con = duckdb.connect(str(next((server.data / "workspaces").glob("*/store.duckdb"))), read_only=True)
    assert con.execute("SELECT count(*) FROM Heartbeat").fetchone() == (5000,)
    assert con.execute(
        "SELECT count(DISTINCT TenantId), min(TenantId), min(Type), min(SourceSystem) FROM Heartbeat"
    ).fetchone() == (1, server.ws_id, "Heartbeat", "OpsManager")
    con.close()
    server.start()  # restart: a redelivered batch is still a duplicate
    b = batch.Batch.from_records("Heartbeat", [{"Computer": "h0"}], batch_id=ids[0])
    assert a.signed("POST", agentapi.BATCHES, batch.encode([b])).json() == {"accepted": 0, "duplicates": 1}
    assert server.rows("Heartbeat") == 5000
    server.stop()
