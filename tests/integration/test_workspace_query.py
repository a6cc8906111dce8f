"""The Query API against a real server: Azure's response shape and types, errors with the KQL position,
timespan, $batch, result limits, and the azure-monitor-query LogsQueryClient unchanged."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from azure.core.credentials import AccessToken

from calypso.wire import agentapi, batch
from tests.integration.test_workspace_support import Agent, Server, running_server

pytestmark = pytest.mark.integration
pytest.importorskip("calypso.kql.compiler")
monitor_query = pytest.importorskip("azure.monitor.query")
NOW = datetime.now(UTC)  # reset when the module's server starts: rows are placed relative to it


class CalypsoToken:
    def __init__(self, token: str) -> None:
        self.token = token

    def get_token(self, *scopes: str, **kwargs: Any) -> AccessToken:
        return AccessToken(self.token, int(time.time()) + 3600)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    global NOW
    NOW = datetime.now(UTC)
    for server in running_server(tmp_path_factory.mktemp("q"), "--max-result-rows", "500"):
        agent = Agent(server)
        assert agent.onboard().status_code == 200
        records = [
            {
                "Computer": f"web-{i % 3}",
                "SyslogMessage": f"message {i}",
                "ProcessID": i,
                "SeverityLevel": "err" if i % 10 == 0 else "info",
                "TimeGenerated": (NOW - timedelta(minutes=i)).isoformat(),
            }
            for i in range(600)
        ]
        r = agent.signed(
            "POST", agentapi.BATCHES, batch.encode([batch.Batch.from_records("Syslog", records)])
        )
        assert r.status_code == 200, r.text
        yield server


def test_summarize_has_azure_shape(server: Server) -> None:
    r = server.query(
        "Syslog | where TimeGenerated > ago(1h) | summarize count() by Computer | order by Computer asc"
    )
    assert r.status_code == 200, r.text
    table = r.json()["tables"][0]
    assert table["name"] == "PrimaryResult"
    assert table["columns"] == [{"name": "Computer", "type": "string"}, {"name": "count_", "type": "long"}]
    # minutes 0..59 are inside the last hour (the 60th is on the edge): 20 per computer
    assert [row[0] for row in table["rows"]] == ["web-0", "web-1", "web-2"]
    assert sum(row[1] for row in table["rows"]) in (60, 61)


def test_datetimes_are_iso_with_z(server: Server) -> None:
    r = server.query("Syslog | top 1 by TimeGenerated desc | project TimeGenerated, TenantId, Type")
    row = r.json()["tables"][0]["rows"][0]
    assert row[0].endswith("Z")
    assert row[1] == server.ws_id and row[2] == "Syslog"


def test_timespan_limits_rows(server: Server) -> None:
    small = server.query("Syslog | count", timespan="PT30M").json()["tables"][0]["rows"][0][0]
    interval = f"{(NOW - timedelta(hours=3)).isoformat()}/{(NOW + timedelta(minutes=1)).isoformat()}"
    larger = server.query("Syslog | count", timespan=interval).json()["tables"][0]["rows"][0][0]
    assert 29 <= small <= 31
    assert 179 <= larger <= 181
    bad = server.query("Syslog | count", timespan="yesterday")
    assert bad.status_code == 400 and "timespan" in bad.json()["error"]["message"]


def test_result_over_the_limit_is_partial(server: Server) -> None:
    body = server.query("Syslog | project SyslogMessage").json()
    assert len(body["tables"][0]["rows"]) == 500
    assert body["error"]["code"] == "PartialError"
    assert "500" in body["error"]["details"][0]["message"]
    client = monitor_query.LogsQueryClient(
        CalypsoToken(server.info["query_token"]), endpoint=f"{server.url}/v1", connection_verify=server.ca
    )
    with client:
        result = client.query_workspace(server.ws_id, "Syslog", timespan=None)
    assert result.status == monitor_query.LogsQueryStatus.PARTIAL
    assert len(result.partial_data[0].rows) == 500


def test_kql_error_has_position(server: Server) -> None:
    r = server.query("Syslog\n| where Computr == 'x'")
    assert r.status_code == 400
    error = r.json()["error"]
    assert error["code"] == "BadArgumentError"
    assert error["innererror"]["line"] == 2
    assert "Computr" in error["innererror"]["message"]


def test_reader_of_no_workspace_and_missing_token(server: Server) -> None:
    assert server.query("Syslog | count", token="calr_nope").status_code == 401
    with server.client() as c:
        assert c.post(f"/v1/workspaces/{server.ws_id}/query", json={"query": "Syslog"}).status_code == 401


def test_batch_endpoint(server: Server) -> None:
    with server.client() as c:
        r = c.post(
            "/v1/$batch",
            headers={"Authorization": f"Bearer {server.info['query_token']}"},
            json={
                "requests": [
                    {
                        "id": "a",
                        "workspace": server.ws_id,
                        "path": "/query",
                        "method": "POST",
                        "body": {"query": "Syslog | count", "timespan": "P1D"},
                    },
                    {
                        "id": "b",
                        "workspace": server.ws_id,
                        "path": "/query",
                        "method": "POST",
                        "body": {"query": "Syslog | where"},
                    },
                    {
                        "id": "c",
                        "workspace": "00000000-0000-0000-0000-000000000000",
                        "path": "/query",
                        "method": "POST",
                        "body": {"query": "Syslog | count"},
                    },
                ]
            },
        )
    responses = {x["id"]: x for x in r.json()["responses"]}
    assert responses["a"]["status"] == 200 and responses["a"]["body"]["tables"][0]["rows"] == [[600]]
    assert responses["b"]["status"] == 400
    assert responses["c"]["status"] == 403


def test_logs_query_client_unchanged(server: Server) -> None:
    client = monitor_query.LogsQueryClient(
        CalypsoToken(server.info["query_token"]), endpoint=f"{server.url}/v1", connection_verify=server.ca
    )
    with client:
        result = client.query_workspace(
            server.ws_id, "Syslog | summarize n = count() by SeverityLevel", timespan=timedelta(days=1)
        )
        assert result.status == monitor_query.LogsQueryStatus.SUCCESS
        rows = {row["SeverityLevel"]: row["n"] for row in result.tables[0].rows}
        assert rows == {"err": 60, "info": 540}
        results = client.query_batch(
            [
                monitor_query.LogsBatchQuery(server.ws_id, "Syslog | take 5", timespan=timedelta(days=1)),
                monitor_query.LogsBatchQuery(server.ws_id, "Syslog | count", timespan=timedelta(hours=1)),
            ]
        )
        assert len(results[0].tables[0].rows) == 5
        assert results[1].tables[0].rows[0][0] in (60, 61)
        stamp = (
            client.query_workspace(
                server.ws_id,
                "Syslog | top 1 by TimeGenerated desc | project TimeGenerated",
                timespan=timedelta(days=1),
            )
            .tables[0]
            .rows[0][0]
        )
        assert isinstance(stamp, datetime) and abs(stamp - NOW) < timedelta(seconds=5)
