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


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("1732525200000", "2024-11-25T09:00:00.000000Z"),
        ("Nov 25 2024 09:00:00", "2024-11-25T09:00:00.000000Z"),
        ("Nov 25 2024 09:00:00.250", "2024-11-25T09:00:00.250000Z"),
        ("Nov 25 2024 09:00:00 GMT", "2024-11-25T09:00:00.000000Z"),
        ("Nov 25 2024 10:00:00.5 CET", "2024-11-25T09:00:00.500000Z"),
        ("Nov 25 2024 04:00:00 EST", "2024-11-25T09:00:00.000000Z"),
        ("Nov 25 2024 10:00:00 +0100", "2024-11-25T09:00:00.000000Z"),
        ("Nov 25 2024 09:00:00 GMT+00:00", "2024-11-25T09:00:00.000000Z"),
        ("2024-11-25T10:00:00.1234567+01:00", "2024-11-25T09:00:00.123456Z"),
        ("2024-11-25 09:00:00Z", "2024-11-25T09:00:00.000000Z"),
    ],
)
def test_start_and_end_times_in_the_spec_formats(value: str, expected: str) -> None:
    event = cef.parse(f"CEF:0|v|p|1|2|n|3|start={value} end={value} act=x")
    assert event is not None
    rec = cef.to_record(event)
    assert (rec.get("StartTime"), rec.get("EndTime")) == (expected, expected), rec
    assert "AdditionalExtensions" not in rec


def test_empty_values_leave_numeric_columns_null_and_strings_empty() -> None:
    # Palo Alto and others send every key, many without a value
    event = cef.parse("CEF:0|v|p|1|2|n|3|dpt= spt= start= duser= cs1= cs1Label=Rule src=10.0.0.1")
    assert event is not None
    rec = cef.to_record(event)
    assert "DestinationPort" not in rec and "SourcePort" not in rec and "StartTime" not in rec
    assert (rec["DestinationUserName"], rec["DeviceCustomString1"], rec["SourceIP"]) == ("", "", "10.0.0.1")
    assert "AdditionalExtensions" not in rec


def test_common_firewall_event_fills_documented_columns() -> None:
    event = cef.parse(
        r"CEF:0|Palo Alto Networks|PAN-OS|10.1.0|end|TRAFFIC|1|rt=Nov 25 2024 09:00:00 GMT "
        r"deviceExternalId=0123456789 src=10.0.0.5 dst=8.8.8.8 sourceTranslatedAddress=203.0.113.1 "
        r"suser=corp\\alice duser= app=dns cs1Label=Rule cs1=allow dns cs2Label=Src Zone cs2=trust "
        r"deviceInboundInterface=ethernet1/1 cnt=1 spt=53122 dpt=53 sourceTranslatedPort=40001 proto=UDP "
        r"act=allow in=80 out=160 cat=end dvchost=pa-fw1 dvc=10.0.0.1 shost=ws1 dhost=dns.google "
        r"smac=00:11:22:33:44:55 dmac=66:77:88:99:aa:bb outcome=success reason=aged-out "
        r"request=https://example.com/a?b\=c requestMethod=GET msg=multi word\nmessage fname=a.txt "
        r"filePath=C:\\temp\\a.txt fileHash=0123abcd cn1Label=Session cn1=8675309 "
        r"deviceCustomDate1Label=First deviceCustomDate1=Nov 25 2024 08:59:00 end=1732525260000 "
        r"PanOSSessionID=42"
    )
    assert event is not None
    rec = cef.to_record(event)
    expected = {
        "DeviceVendor": "Palo Alto Networks", "DeviceProduct": "PAN-OS", "DeviceVersion": "10.1.0",
        "DeviceEventClassID": "end", "Activity": "TRAFFIC", "LogSeverity": "1",
        "ReceiptTime": "Nov 25 2024 09:00:00 GMT", "DeviceExternalID": "0123456789",
        "SourceIP": "10.0.0.5", "DestinationIP": "8.8.8.8", "SourceTranslatedAddress": "203.0.113.1",
        "SourceUserName": "corp\\alice", "DestinationUserName": "", "ApplicationProtocol": "dns",
        "DeviceCustomString1Label": "Rule", "DeviceCustomString1": "allow dns",
        "DeviceCustomString2Label": "Src Zone", "DeviceCustomString2": "trust",
        "DeviceInboundInterface": "ethernet1/1", "EventCount": 1, "SourcePort": 53122, "DestinationPort": 53,
        "SourceTranslatedPort": 40001, "Protocol": "UDP", "DeviceAction": "allow", "ReceivedBytes": 80,
        "SentBytes": 160, "DeviceEventCategory": "end", "DeviceName": "pa-fw1", "DeviceAddress": "10.0.0.1",
        "SourceHostName": "ws1", "DestinationHostName": "dns.google", "SourceMACAddress": "00:11:22:33:44:55",
        "DestinationMACAddress": "66:77:88:99:aa:bb", "EventOutcome": "success", "Reason": "aged-out",
        "RequestURL": "https://example.com/a?b=c", "RequestMethod": "GET", "Message": "multi word\nmessage",
        "FileName": "a.txt", "FilePath": "C:\\temp\\a.txt", "FileHash": "0123abcd",
        "DeviceCustomNumber1Label": "Session", "DeviceCustomNumber1": 8675309,
        "DeviceCustomDate1Label": "First", "DeviceCustomDate1": "Nov 25 2024 08:59:00",
        "EndTime": "2024-11-25T09:01:00.000000Z", "AdditionalExtensions": "PanOSSessionID=42",
    }  # fmt: skip
    assert rec == expected


@pytest.mark.parametrize(
    ("text", "vendor", "product", "name", "severity"),
    [
        (r"CEF:0|Ac\|me|F\\W|1|2|Blocked \| dropped|Very-High|", "Ac|me", "F\\W", "Blocked | dropped", "Very-High"),
        ("CEF:1|Acme|FW|1|2|n|Low|src=1.2.3.4", "Acme", "FW", "n", "Low"),
        ("CEF:0|Acme|FW|1|2|n|10|", "Acme", "FW", "n", "10"),
    ],
)  # fmt: skip
def test_header_variants(text: str, vendor: str, product: str, name: str, severity: str) -> None:
    event = cef.parse(text)
    assert event is not None
    rec = cef.to_record(event)
    assert (rec["DeviceVendor"], rec["DeviceProduct"], rec["Activity"], rec["LogSeverity"]) == (
        vendor,
        product,
        name,
        severity,
    )


@pytest.mark.parametrize(
    ("name", "minutes"),
    [
        ("UTC", 0),
        ("gmt", 0),
        ("CEST", 120),
        ("+0530", 330),
        ("-05:00", -300),
        ("GMT+01:00", 60),
        ("UTC-3", -180),
    ],
)
def test_zone_offsets(name: str, minutes: int) -> None:
    offset = cef.zone_offset(name)
    assert offset is not None and offset.total_seconds() == minutes * 60


@pytest.mark.parametrize("name", ["", "XYZ", "CET+01:00", "+25:00", "IST", "Europe/Paris"])
def test_unknown_zones_are_none(name: str) -> None:
    assert cef.zone_offset(name) is None
