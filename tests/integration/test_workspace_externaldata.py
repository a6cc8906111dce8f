"""KQL's externaldata against a real server: rows fetched over HTTPS (a feed server on 127.0.0.1 with
a certificate from its own CA) only from the prefixes the operator allowed, typed as declared."""

from __future__ import annotations

import gzip
import http.server
import io
import threading
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from calypso.workspace.tls import ensure_certificates, server_context
from tests.integration.conftest import free_port
from tests.integration.test_workspace_support import Server, running_server

pytestmark = pytest.mark.integration
pytest.importorskip("calypso.kql.compiler")

TOP = b"Rank,Domain,Seen\n1,example.com,2024-05-01T10:00:00Z\n2,example.org,not a date\nx,example.net,\n"
MULTIJSON = b'{"Hash":"ab12","Tags":["covid","lure"],"Score":7}\n{"Hash":"cd34","Tags":[],"Score":null}\n'
FEEDS = {
    "/feeds/top.csv": TOP,
    "/feeds/top.csv.gz": gzip.compress(TOP),
    "/feeds/iocs.json": MULTIJSON,
    "/private/secret.csv": b"1,secret\n",
}


def _zipped(name: str, data: bytes) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as z:
        z.writestr(name, data)
        z.writestr("README.txt", b"not data")
    return out.getvalue()


FEEDS["/feeds/top-1m.csv.zip"] = _zipped("top-1m.csv", TOP)


class _Feed(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        body = FEEDS.get(self.path.split("?")[0])
        if self.path.startswith("/feeds/moved"):
            self.send_response(302)
            self.send_header("Location", "/private/secret.csv")
            self.end_headers()
            return
        self.send_response(200 if body is not None else 404)
        self.send_header("Content-Length", str(len(body or b"")))
        self.end_headers()
        self.wfile.write(body or b"")

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture(scope="module")
def feed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path]]:
    tls = tmp_path_factory.mktemp("feed")
    ca = ensure_certificates(tls)
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", free_port()), _Feed)
    httpd.socket = server_context(tls).wrap_socket(httpd.socket, server_side=True)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    try:
        yield f"https://127.0.0.1:{httpd.server_address[1]}", ca
    finally:
        httpd.shutdown()


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory, feed: tuple[str, Path]) -> Iterator[Server]:
    url, ca = feed
    root = tmp_path_factory.mktemp("ws")
    yield from running_server(root, "--externaldata-allow", f"{url}/feeds/", "--externaldata-ca", str(ca))


def _rows(server: Server, kql: str) -> list[list[object]]:
    r = server.query(kql)
    assert r.status_code == 200, r.text
    return [list(row) for row in r.json()["tables"][0]["rows"]]


def test_csv_rows_arrive_typed_and_bad_values_are_null(server: Server, feed: tuple[str, Path]) -> None:
    url = feed[0]
    kql = (
        f'externaldata (Rank:long, Domain:string, Seen:datetime) [@"{url}/feeds/top.csv"]'
        ' with (format="csv", ignoreFirstRecord=true) | order by Domain asc'
    )
    assert _rows(server, kql) == [
        [1, "example.com", "2024-05-01T10:00:00.0000000Z"],
        [None, "example.net", None],
        [2, "example.org", None],
    ]
    columns = server.query(kql).json()["tables"][0]["columns"]
    assert [(c["name"], c["type"]) for c in columns] == [
        ("Rank", "long"),
        ("Domain", "string"),
        ("Seen", "datetime"),
    ]


def test_compressed_feeds_and_json_records(server: Server, feed: tuple[str, Path]) -> None:
    url = feed[0]
    for path, props in (("top.csv.gz", ""), ("top-1m.csv.zip", ', zipPattern="*.csv"')):
        kql = (
            f'externaldata (Rank:long, Domain:string) [@"{url}/feeds/{path}"] with (format="csv"{props})'
            " | where isnotnull(Rank) | summarize count()"
        )
        assert _rows(server, kql) == [[2]], path
    kql = (
        f'externaldata (Hash:string, Tags:dynamic, Score:int) [@"{url}/feeds/iocs.json"] with (format="multijson")'
        " | extend n = array_length(Tags) | project Hash, n, Score | order by Hash asc"
    )
    assert _rows(server, kql) == [["ab12", 2, 7], ["cd34", 0, None]]


def test_urls_outside_the_allowed_prefixes_are_refused(server: Server, feed: tuple[str, Path]) -> None:
    url = feed[0]
    for target in (f"{url}/private/secret.csv", "https://example.invalid/feeds/x.csv", "file:///etc/passwd"):
        r = server.query(f'externaldata (a:string) [@"{target}"]')
        assert r.status_code == 400, target
        inner = r.json()["error"]["innererror"]
        assert inner["code"] == "ExternalDataError" and "externaldata" in inner["message"]
    # An allowed URL that redirects elsewhere is not followed.
    r = server.query(f'externaldata (a:string) [@"{url}/feeds/moved"]')
    assert r.status_code == 400 and "302" in r.json()["error"]["innererror"]["message"]


def test_a_join_with_a_feed_and_a_missing_feed(server: Server, feed: tuple[str, Path]) -> None:
    url = feed[0]
    kql = (
        f'let top = externaldata (Rank:long, Domain:string) [@"{url}/feeds/top.csv"] with (ignoreFirstRecord=true);'
        ' datatable (Domain:string, Hits:long) ["example.org", 5, "other.io", 1]'
        " | join kind=inner top on Domain | project Domain, Hits, Rank"
    )
    assert _rows(server, kql) == [["example.org", 5, 2]]
    r = server.query(f'externaldata (a:string) [@"{url}/feeds/absent.csv"]')
    assert r.status_code == 400 and "404" in r.json()["error"]["innererror"]["message"]
