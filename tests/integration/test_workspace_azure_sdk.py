"""Acceptance: Azure's own SDKs, unchanged, against the server on 127.0.0.1 — only the endpoint, a
credential returning a Calypso token, and the CA (connection_verify) differ from talking to Azure."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from azure.core.credentials import AccessToken
from azure.core.exceptions import HttpResponseError

from tests.integration.test_workspace_support import Server, running_server, workspace_cli

pytestmark = pytest.mark.integration
monitor_ingestion = pytest.importorskip("azure.monitor.ingestion")
monitor_query = pytest.importorskip("azure.monitor.query")

RULE = "dcr-00000000000000000000000000000001"


class CalypsoToken:
    """The only piece of code a user writes: a credential that hands out a Calypso token."""

    def __init__(self, token: str) -> None:
        self.token = token

    def get_token(self, *scopes: str, **kwargs: Any) -> AccessToken:
        return AccessToken(self.token, int(time.time()) + 3600)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    root = tmp_path_factory.mktemp("sdk")
    for server in running_server(root):
        rule = root / "rule.json"
        rule.write_text(
            json.dumps(
                {
                    "streams": {
                        "Custom-Orders": {
                            "table": "Orders_CL",
                            "columns": [
                                {"name": "TimeGenerated", "type": "datetime"},
                                {"name": "OrderId", "type": "string"},
                                {"name": "Amount", "type": "real"},
                                {"name": "Paid", "type": "bool"},
                            ],
                        },
                        "Custom-Beats": {"table": "Heartbeat"},
                        "Custom-Raw": {
                            "table": "Heartbeat",
                            "transformKql": "source | where Level != 'debug' | project Computer = Host, Category = Level, "
                            "TimeGenerated = now()",
                        },
                    }
                }
            )
        )
        workspace_cli("dcr", "--data", str(server.data), "--rule-id", RULE, str(rule))
        yield server


def ingestion_client(server: Server, token: str | None = None) -> Any:
    return monitor_ingestion.LogsIngestionClient(
        server.url, CalypsoToken(token or server.info["ingest_token"]), connection_verify=server.ca
    )


def test_logs_ingestion_client_uploads(server: Server) -> None:
    now = datetime.now(UTC)
    logs = [
        {
            "TimeGenerated": (now - timedelta(seconds=i)).isoformat(),
            "OrderId": f"o-{i}",
            "Amount": i * 1.5,
            "Paid": i % 2 == 0,
        }
        for i in range(3000)
    ]  # > 1 MB in total: the SDK splits and gzips
    with ingestion_client(server) as client:
        client.upload(rule_id=RULE, stream_name="Custom-Orders", logs=logs)
        client.upload(
            rule_id=RULE,
            stream_name="Custom-Beats",
            logs=[{"Computer": "sdk-host", "Category": "Direct Agent"}],
        )
    tables = server.tables()
    assert tables["Orders_CL"]["rows"] == 3000
    types = {c["name"]: c["type"] for c in tables["Orders_CL"]["columns"]}
    assert types["Amount"] == "real" and types["Paid"] == "bool" and types["OrderId"] == "string"
    assert tables["Heartbeat"]["rows"] >= 1


def test_transform_kql_reshapes_rows(server: Server) -> None:
    before = server.rows("Heartbeat")
    logs = [{"Host": f"h{i}", "Level": "debug" if i % 4 == 0 else "info"} for i in range(40)]
    with ingestion_client(server) as client:
        client.upload(rule_id=RULE, stream_name="Custom-Raw", logs=logs)
    assert server.rows("Heartbeat") == before + 30
    with server.client() as c:
        r = c.post(
            f"/v1/workspaces/{server.ws_id}/query",
            headers={"Authorization": f"Bearer {server.info['query_token']}"},
            json={"query": "Heartbeat | where Computer startswith 'h' | summarize by Category"},
        )
    assert r.status_code == 200, r.text
    assert r.json()["tables"][0]["rows"] == [["info"]]


def test_reader_token_cannot_ingest(server: Server) -> None:
    with (
        ingestion_client(server, server.info["query_token"]) as client,
        pytest.raises(HttpResponseError) as e,
    ):
        client.upload(rule_id=RULE, stream_name="Custom-Orders", logs=[{"OrderId": "x"}])
    assert e.value.status_code == 403


def test_unknown_stream_and_bad_field(server: Server) -> None:
    with ingestion_client(server) as client:
        with pytest.raises(HttpResponseError) as e:
            client.upload(rule_id=RULE, stream_name="Custom-Nope", logs=[{"a": 1}])
        assert e.value.status_code == 404
        with pytest.raises(HttpResponseError) as e:
            client.upload(rule_id=RULE, stream_name="Custom-Orders", logs=[{"Amount": "lots"}])
        assert e.value.status_code == 400 and "Amount" in str(e.value)
        with pytest.raises(HttpResponseError) as e:
            client.upload(rule_id=RULE, stream_name="Custom-Beats", logs=[{"NotAColumn": 1}])
        assert e.value.status_code == 400 and "NotAColumn" in str(e.value)


def test_oversized_body_is_413_with_message(server: Server) -> None:
    body = json.dumps([{"OrderId": "x" * 1000}] * 1200).encode()
    with server.client() as c:
        r = c.post(
            f"/dataCollectionRules/{RULE}/streams/Custom-Orders?api-version=2023-01-01",
            content=body,
            headers={
                "Authorization": f"Bearer {server.info['ingest_token']}",
                "Content-Type": "application/json",
            },
        )
    assert r.status_code == 413
    assert "limit" in r.json()["error"]["message"]
