"""W3C/IIS source on the real samples (against EXPECTED.json) and on files written here."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from calypso.agent.sources import factory
from calypso.agent.sources.base import Commit, Record, SourceContext
from calypso.agent.sources.w3c import COLUMN_TYPES, W3CHandler, W3CSource, tokenize
from calypso.wire.schemas import standard_tables

SAMPLES = Path(__file__).resolve().parents[4] / ".." / "shared" / "samples" / "w3c"
needs_samples = pytest.mark.skipif(
    not (SAMPLES / "EXPECTED.json").exists(), reason=f"W3C samples not found at {SAMPLES}"
)


class Sink:
    def __init__(self) -> None:
        self.records: list[Record] = []
        self.tables: set[str] = set()

    async def __call__(self, table: str, records: list[Record], commit: Commit | None = None) -> None:
        self.tables.add(table)
        self.records.extend(records)
        if commit:
            commit()


def collect(src: W3CSource, sink: Sink) -> None:
    async def go() -> None:
        for _ in range(3):
            while await src.poll_once(sink):
                pass

    asyncio.run(go())


def source(tmp_path: Path, paths: list[str], **extra: Any) -> W3CSource:
    cfg = {"paths": paths, "start_at": "beginning", **extra}
    src = factory("w3c")(cfg, SourceContext(tmp_path / "state", "iis01"))
    assert isinstance(src, W3CSource)
    return src


def expected_column(col: str, raw: str) -> Any:
    if COLUMN_TYPES.get(col, "string") == "string":
        return "" if raw == "-" else raw
    return None if raw == "-" else int(raw)


@needs_samples
@pytest.mark.parametrize(
    "name",
    sorted(json.loads((SAMPLES / "EXPECTED.json").read_text())["files"])
    if (SAMPLES / "EXPECTED.json").exists()
    else [],
)
def test_real_samples_match_expected(tmp_path: Path, name: str) -> None:
    facts = json.loads((SAMPLES / "EXPECTED.json").read_text())["files"][name]
    src, sink = source(tmp_path, [str(SAMPLES / name)]), Sink()
    collect(src, sink)
    mismatches = len(facts["rows_with_field_count_mismatch"])
    assert len(sink.records) == facts["data_rows"] - mismatches
    assert src.status()["field_count_mismatch"] == mismatches
    assert src.status()["directives"] == facts["directive_lines"]
    assert sink.tables == {"W3CIISLog"}
    columns = {c for c, _ in standard_tables()["W3CIISLog"]}
    assert all(set(r) <= columns for r in sink.records)
    # locate each expected sample row among ours by its position among the file's data lines
    lines = (SAMPLES / name).read_text(encoding="utf-8", errors="replace").splitlines()
    data_lines = [i + 1 for i, line in enumerate(lines) if line.strip() and not line.startswith("#")]
    kept = [n for n in data_lines if n not in facts["rows_with_field_count_mismatch"]]
    for sample in facts["sample_rows"]:
        if "W3CIISLog" not in sample:
            continue
        rec = sink.records[kept.index(sample["line"])]
        for col, raw in sample["W3CIISLog"].items():
            if col == "TimeGenerated":
                assert rec[col].startswith(raw.removesuffix("Z")), (col, rec[col], raw)
            else:
                want = expected_column(col, raw)
                assert rec.get(col) == want, (name, sample["line"], col)


def write(path: Path, text: str) -> None:
    with open(path, "a", encoding="utf-8") as f:
        f.write(text)


def test_fields_change_mid_file_and_survive_restart(tmp_path: Path) -> None:
    log = tmp_path / "u_ex240101.log"
    write(log, "#Fields: date time cs-method sc-status\n2024-01-01 00:00:01 GET 200\n")
    src, sink = source(tmp_path, [str(tmp_path / "*.log")]), Sink()
    collect(src, sink)
    write(log, "#Fields: date time c-ip sc-bytes time-taken\n2024-01-01 00:00:02 10.0.0.1 512 15\n")
    collect(src, sink)
    # restart: the new instance resumes after the second #Fields and must still know it
    src2, sink2 = source(tmp_path, [str(tmp_path / "*.log")]), Sink()
    write(log, "2024-01-01 00:00:03 10.0.0.2 - 7\n")
    collect(src2, sink2)
    assert [r.get("csMethod") for r in sink.records] == ["GET", None]
    assert sink.records[1]["scBytes"] == 512 and sink.records[1]["TimeTaken"] == 15
    assert len(sink2.records) == 1
    r = sink2.records[0]
    assert r["cIP"] == "10.0.0.2" and "scBytes" not in r and r["TimeTaken"] == 7
    assert r["TimeGenerated"] == "2024-01-01T00:00:03.000000Z"
    assert r["Computer"] == "iis01"


def test_bad_lines_are_counted_not_fatal(tmp_path: Path) -> None:
    log = tmp_path / "x.log"
    write(log, "orphan line before any fields\n#Fields: date time s-port\n2024-01-01 00:00:01 eighty\n")
    write(log, "2024-01-01 00:00:01 80 extra\n\x00\x01\x02 binary\n2024-13-45 99:99:99 81\n")
    src, sink = source(tmp_path, [str(log)]), Sink()
    collect(src, sink)
    st_ = src.status()
    assert st_["lines_before_fields"] == 1
    assert st_["field_count_mismatch"] == 2
    assert st_["bad_values"] >= 2
    assert [r.get("sPort") for r in sink.records] == [None, 81]


def test_tokenize_keeps_quoted_values_whole() -> None:
    assert tokenize('a "b c" - "" d') == ["a", "b c", "-", "", "d"]


@settings(max_examples=300, deadline=None)
@given(st.lists(st.text(max_size=80), max_size=20))
def test_fuzz_handler_never_raises(lines: list[str]) -> None:
    h = W3CHandler("h")
    h(
        "/nonexistent",
        "#Fields: date time s-port sc-bytes cs(User-Agent) cs-uri-stem",
        "2024-01-01T00:00:00Z",
        0,
    )
    for line in lines:
        rec = h("/nonexistent", line, "2024-01-01T00:00:00Z", 10)
        if rec is not None:
            assert isinstance(rec.get("sPort", 0), int)
            assert rec["TimeGenerated"].endswith("Z")


IIS_FIELDS = (
    "#Fields: date time s-sitename s-computername s-ip cs-method cs-uri-stem cs-uri-query s-port "
    "cs-username c-ip cs-version cs(User-Agent) cs(Cookie) cs(Referer) cs-host sc-status sc-substatus "
    "sc-win32-status sc-bytes cs-bytes time-taken\r\n"
)


def test_full_iis_field_set_with_crlf_and_directives(tmp_path: Path) -> None:
    log = tmp_path / "u_ex241125.log"
    with open(log, "wb") as f:
        f.write(
            b"#Software: Microsoft Internet Information Services 10.0\r\n#Version: 1.0\r\n"
            b"#Date: 2024-11-25 09:00:00\r\n"
            + IIS_FIELDS.encode()
            + b"2024-11-25 09:00:01 W3SVC1 WEB01 10.0.0.5 GET /default.aspx id=1&x=y 443 CONTOSO\\bob "
            b"203.0.113.9 HTTP/1.1 Mozilla/5.0+(Windows+NT+10.0;+Win64;+x64) ASP.NET_SessionId=abc "
            b"https://www.example.com/ www.example.com 200 0 0 5123 432 15\r\n"
            b"2024-11-25 09:00:02 W3SVC1 WEB01 10.0.0.5 POST /api - 443 - 2001:db8::1 HTTP/2 - - - - "
            b"500 19 64 - - 1\r\n"
        )
    src, sink = source(tmp_path, [str(log)]), Sink()
    collect(src, sink)
    assert len(sink.records) == 2
    first, second = sink.records
    assert first == {
        "TimeGenerated": "2024-11-25T09:00:01.000000Z", "Computer": "iis01", "sSiteName": "W3SVC1",
        "sIP": "10.0.0.5", "csMethod": "GET", "csUriStem": "/default.aspx", "csUriQuery": "id=1&x=y",
        "sPort": 443, "csUserName": "CONTOSO\\bob", "cIP": "203.0.113.9", "csVersion": "HTTP/1.1",
        "csUserAgent": "Mozilla/5.0+(Windows+NT+10.0;+Win64;+x64)", "csCookie": "ASP.NET_SessionId=abc",
        "csReferer": "https://www.example.com/", "csHost": "www.example.com", "scStatus": "200",
        "scSubStatus": "0", "scWin32Status": "0", "scBytes": 5123, "csBytes": 432, "TimeTaken": 15,
    }  # fmt: skip
    assert (second["cIP"], second["csUriQuery"], second["scStatus"], second["scWin32Status"]) == (
        "2001:db8::1",
        "",
        "500",
        "64",
    )
    assert "scBytes" not in second and "csBytes" not in second
    assert src.status()["directives"] == 4


def test_bom_before_first_directive_and_restart(tmp_path: Path) -> None:
    log = tmp_path / "u_ex241126.log"
    with open(log, "wb") as f:
        f.write(b"\xef\xbb\xbf#Fields: date time c-ip sc-status\r\n2024-11-26 00:00:01 10.0.0.1 200\r\n")
    src, sink = source(tmp_path, [str(log)]), Sink()
    collect(src, sink)
    assert [r["cIP"] for r in sink.records] == ["10.0.0.1"]
    with open(log, "ab") as f:
        f.write(b"2024-11-26 00:00:02 10.0.0.2 404\r\n")
    src2, sink2 = source(tmp_path, [str(log)]), Sink()  # restarted: the #Fields is re-read past the BOM
    collect(src2, sink2)
    assert [(r["cIP"], r["scStatus"]) for r in sink2.records] == [("10.0.0.2", "404")]
