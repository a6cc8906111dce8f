"""The HTTP Data Collector API against a real server: what real shippers send, and Azure's errors."""

from __future__ import annotations

import json
import socket
import ssl
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import pytest

from calypso.wire import sharedkey
from calypso.workspace import layout
from tests.integration.test_workspace_support import Server, datacollector_headers, running_server

pytestmark = pytest.mark.integration
URL = "/api/logs?api-version=2016-04-01"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    yield from running_server(tmp_path_factory.mktemp("dc"))


def post(server: Server, body: bytes, headers: dict[str, str], url: str = URL) -> tuple[int, bytes]:
    with server.client() as c:
        r = c.post(url, content=body, headers=headers)
    return r.status_code, r.content


def raw_post(server: Server, body: bytes, headers: dict[str, str]) -> bytes:
    """A request written byte by byte, as a hand-made shipper would (httpx refuses odd header values)."""
    ctx = ssl.create_default_context(cafile=server.ca)
    head = "".join(f"{k}: {v}\r\n" for k, v in headers.items())
    request = (
        f"POST {URL} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: {len(body)}\r\n{head}"
        "Connection: close\r\n\r\n"
    ).encode() + body
    with (
        socket.create_connection(("127.0.0.1", server.port), timeout=10) as raw,
        ctx.wrap_socket(raw, server_hostname="127.0.0.1") as tls,
    ):
        tls.sendall(request)
        chunks = []
        while chunk := tls.recv(65536):
            chunks.append(chunk)
    return b"".join(chunks)


def test_records_land_in_custom_table_with_suffixes(server: Server) -> None:
    records = [
        {
            "Name": "web",
            "Count": 3,
            "Ok": True,
            "When": "2026-01-02T03:04:05Z",
            "Id": "6f9619ff-8b86-d011-b42d-00c04fc964ff",
            "Nested": {"a": [1, 2]},
        },
        {"Name": "db", "Count": 4.5, "Ok": False, "Missing": None},
    ]
    body = json.dumps(records).encode()
    headers = datacollector_headers(server.ws_id, server.info["primary_key"], body, "Shipper")
    headers["x-ms-AzureResourceId"] = "/subscriptions/x/resourceGroups/y/providers/z/vm1"
    status, content = post(server, body, headers)
    assert (status, content) == (200, b"")
    table = server.tables()["Shipper_CL"]
    columns = {c["name"]: c["type"] for c in table["columns"]}
    assert table["rows"] == 2
    assert columns["Name_s"] == "string" and columns["Count_d"] == "real" and columns["Ok_b"] == "bool"
    assert columns["When_t"] == "datetime" and columns["Id_g"] == "string" and columns["Nested_s"] == "string"
    assert "Missing_s" not in columns


def test_field_changing_type_gets_second_column(server: Server) -> None:
    for value in ("text", 12):
        body = json.dumps([{"Mixed": value}]).encode()
        assert (
            post(server, body, datacollector_headers(server.ws_id, server.info["primary_key"], body, "Grow"))[
                0
            ]
            == 200
        )
    columns = {c["name"] for c in server.tables()["Grow_CL"]["columns"]}
    assert {"Mixed_s", "Mixed_d"} <= columns


def test_secondary_key_charset_and_trailing_whitespace_are_accepted(server: Server) -> None:
    body = b'{"Message": "hi"}'
    ct = "application/json; charset=utf-8"
    headers = datacollector_headers(
        server.ws_id, server.info["secondary_key"], body, "Tolerant", content_type=ct
    )
    headers["Authorization"] += " \t"  # what is left of a trailing newline once HTTP framing strips it
    headers["time-generated-field"] = ""
    headers["x-ms-AzureResourceId"] = ""
    assert raw_post(server, body, headers).startswith(b"HTTP/1.1 200")
    assert server.rows("Tolerant_CL") == 1


def test_wrong_key_is_403_invalid_authorization(server: Server) -> None:
    body = b'[{"a": 1}]'
    status, content = post(
        server, body, datacollector_headers(server.ws_id, layout.new_shared_key(), body, "T")
    )
    assert status == 403
    assert json.loads(content)["Error"] == "InvalidAuthorization"


def test_old_date_is_refused(server: Server) -> None:
    body = b'[{"a": 1}]'
    old = format_datetime(datetime.now(UTC) - timedelta(minutes=20), usegmt=True)
    status, content = post(
        server, body, datacollector_headers(server.ws_id, server.info["primary_key"], body, "T", date=old)
    )
    assert status == 403
    assert "15 minutes" in json.loads(content)["Message"]


@pytest.mark.parametrize(
    ("change", "code"),
    [
        ({"Log-Type": "bad-name!"}, "InvalidLogType"),
        ({"Log-Type": ""}, "MissingLogType"),
        ({"Content-Type": "text/plain"}, "UnsupportedContentType"),
    ],
)
def test_header_errors_have_azure_codes(server: Server, change: dict[str, str], code: str) -> None:
    body = b'[{"a": 1}]'
    headers = {**datacollector_headers(server.ws_id, server.info["primary_key"], body, "T"), **change}
    status, content = post(server, body, headers)
    assert status == 400
    assert json.loads(content)["Error"] == code


def test_api_version_and_invalid_json(server: Server) -> None:
    body = b'[{"a": 1}'
    headers = datacollector_headers(server.ws_id, server.info["primary_key"], body, "T")
    assert (
        json.loads(post(server, body, headers, "/api/logs?api-version=1999-01-01")[1])["Error"]
        == "InvalidApiVersion"
    )
    status, content = post(server, body, headers)
    assert status == 400
    assert json.loads(content)["Error"] == "InvalidDataFormat"


def test_time_generated_field_sets_time(server: Server) -> None:
    body = json.dumps([{"Ts": "2026-03-04T05:06:07.123Z", "v": 1}]).encode()
    headers = datacollector_headers(server.ws_id, server.info["primary_key"], body, "Timed")
    headers["time-generated-field"] = "Ts"
    assert post(server, body, headers)[0] == 200
    assert server.rows("Timed_CL") == 1


def test_unknown_workspace_is_403(server: Server) -> None:
    body = b'[{"a": 1}]'
    date = sharedkey.rfc1123_now()
    headers = datacollector_headers(
        "00000000-0000-0000-0000-000000000000", server.info["primary_key"], body, "T", date=date
    )
    assert post(server, body, headers)[0] == 403
