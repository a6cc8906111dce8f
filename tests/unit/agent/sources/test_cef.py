"""CEF parsing and its mapping to CommonSecurityLog, against real samples and hand-written cases."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from calypso.agent.sources import cef
from calypso.agent.sources.syslog.parse import MessageParser
from calypso.wire.schemas import standard_tables

SAMPLES = Path(__file__).resolve().parents[4] / ".." / "shared" / "samples"
COLUMNS = dict(standard_tables()["CommonSecurityLog"])


def _cases() -> list[dict]:
    path = SAMPLES / "cef" / "EXPECTED.jsonl"
    if not path.exists():
        pytest.skip(f"shared samples not found at {path} (they live outside the repo)")
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def test_samples_through_the_syslog_parser_match_expected_columns() -> None:
    parser = MessageParser("collector")
    now = datetime(2026, 11, 25, tzinfo=UTC)
    for case in _cases():
        line = (SAMPLES / case["file"]).read_bytes().split(b"\n")[case["line"] - 1]
        parsed = parser.parse(line, "198.51.100.1", now)
        assert parsed.table == "CommonSecurityLog", case
        rec = parsed.record
        for key, value in case["expected"].items():
            assert rec.get(key) == value, (case["file"], case["line"], key, rec.get(key))
        for key in case.get("unmapped_keys", []):
            assert f"{key}=" in rec["AdditionalExtensions"], (case["line"], key)
        host = case.get("syslog_header", {}).get("HostName")
        if host:
            assert rec["Computer"] == host
        assert set(rec) <= set(COLUMNS)


def test_header_escapes() -> None:
    event = cef.parse(r"CEF:0|ven\|dor|pro\\duct|1.0|100|na\me|5|")
    assert event is not None
    assert (event.vendor, event.product, event.name) == ("ven|dor", "pro\\duct", "na\\me")


def test_extension_escapes_and_multiword_values() -> None:
    event = cef.parse(r"CEF:0|v|p|1|2|n|3|msg=a\=b c\\d\nnext line cs1=x  y cs1Label=The\=Label")
    assert event is not None
    assert event.extensions == [("msg", "a=b c\\d\nnext line"), ("cs1", "x  y"), ("cs1Label", "The=Label")]


def test_mapping_types_and_unmapped_keys() -> None:
    event = cef.parse(
        "CEF:0|v|p|1|2|n|3|src=10.0.0.1 spt=notaport dpt=443 cn1=7 cfp1=2.5 in=123456789012 "
        "start=1700000000000 deviceExternalId=dev-9 suser=alice custom=z"
    )
    assert event is not None
    rec = cef.to_record(event)
    assert rec["SourceIP"] == "10.0.0.1"
    assert rec["DestinationPort"] == 443
    assert rec["DeviceCustomNumber1"] == 7
    assert rec["DeviceCustomFloatingPoint1"] == 2.5
    assert rec["ReceivedBytes"] == 123456789012
    assert rec["StartTime"] == "2023-11-14T22:13:20.000000Z"
    assert rec["DeviceExternalID"] == "dev-9"
    assert rec["SourceUserName"] == "alice"
    assert "SourcePort" not in rec
    assert rec["AdditionalExtensions"] == "spt=notaport;custom=z"


def test_full_length_key_names_map_like_short_ones() -> None:
    event = cef.parse("CEF:0|v|p|1|2|n|3|sourceAddress=1.2.3.4 destinationPort=53 deviceAction=allow")
    assert event is not None
    rec = cef.to_record(event)
    assert (rec["SourceIP"], rec["DestinationPort"], rec["DeviceAction"]) == ("1.2.3.4", 53, "allow")


def test_missing_trailing_pipe_is_accepted_but_too_few_fields_are_not() -> None:
    event = cef.parse("CEF:0|v|p|1|2|n|3")
    assert event is not None and event.severity == "3" and event.extensions == []
    assert cef.parse("CEF:0|v|p|1|2") is None
    assert cef.parse("not cef") is None


def test_mapped_columns_exist_in_schema() -> None:
    assert set(cef.KEY_TO_COLUMN.values()) <= set(COLUMNS)


@settings(max_examples=500, deadline=None)
@given(st.text(max_size=400))
def test_fuzz_never_raises(text: str) -> None:
    event = cef.parse("CEF:" + text)
    if event is not None:
        rec = cef.to_record(event)
        assert set(rec) <= set(COLUMNS)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(sorted(cef.KEY_TO_COLUMN)), st.text(max_size=30)), max_size=12))
def test_fuzz_known_keys_never_raise(pairs: list[tuple[str, str]]) -> None:
    ext = " ".join(f"{k}={v}" for k, v in pairs)
    event = cef.parse(f"CEF:0|v|p|1|2|n|3|{ext}")
    assert event is not None
    cef.to_record(event)
