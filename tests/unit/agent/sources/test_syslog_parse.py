"""RFC 3164 / RFC 5424 parsing into Syslog records, against real samples and hand-written cases."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from calypso.agent.sources.syslog.names import FACILITIES, PRI_NAMES, SEVERITIES
from calypso.agent.sources.syslog.parse import MessageParser, split_pri
from calypso.wire.schemas import standard_tables

SAMPLES = Path(__file__).resolve().parents[4] / ".." / "shared" / "samples"
NOW = datetime(2026, 11, 25, 10, 0, 0, tzinfo=UTC)


def parse(data: bytes, peer: str | None = "192.0.2.7", now: datetime = NOW, zone: str = "UTC"):
    return MessageParser("collector1", ZoneInfo(zone)).parse(data, peer, now)


def _expected(name: str) -> list[dict]:
    path = SAMPLES / name / "EXPECTED.jsonl"
    if not path.exists():
        pytest.skip(f"shared samples not found at {path} (they live outside the repo)")
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def test_lnav_samples_match_expected_fields() -> None:
    cases = _expected("syslog")
    for case in cases:
        line = (SAMPLES / case["file"]).read_bytes().split(b"\n")[case["line"] - 1]
        parsed = parse(line)
        assert parsed.table == "Syslog"
        rec = parsed.record
        for key, value in case["expected"].items():
            if key == "timestamp":
                month_day_time = datetime.strptime(f"2000 {value}", "%Y %b %d %H:%M:%S")
                event = datetime.fromisoformat(rec["EventTime"].rstrip("Z"))
                assert (event.month, event.day, event.time()) == (
                    month_day_time.month,
                    month_day_time.day,
                    month_day_time.time(),
                ), case
            else:
                assert rec[key] == value, (case["line"], key, rec)
        assert rec["Computer"] == case["expected"]["HostName"]


def test_record_uses_only_syslog_columns() -> None:
    columns = {c for c, _ in standard_tables()["Syslog"]}
    rec = parse(b"<165>Nov 25 09:00:00 web1 app[1]: hi").record
    assert set(rec) <= columns


@pytest.mark.parametrize(
    ("pri", "facility", "severity"),
    [(0, "kern", "emerg"), (13, "user", "notice"), (38, "auth", "info"), (86, "authpriv", "info"),
     (131, "local0", "err"), (191, "local7", "debug"), (100, "ntp", "warning"), (106, "audit", "crit"),
     (113, "alert", "alert"), (75, "cron", "err"), (125, "clock", "notice")],
)  # fmt: skip
def test_pri_gives_azure_facility_and_severity_names(pri: int, facility: str, severity: str) -> None:
    rec = parse(b"<%d>Nov 25 09:00:00 h p: m" % pri).record
    assert (rec["Facility"], rec["SeverityLevel"]) == (facility, severity)


def test_all_pris_have_names() -> None:
    assert len(PRI_NAMES) == 192
    assert {f for f, _ in PRI_NAMES} == set(FACILITIES)
    assert {s for _, s in PRI_NAMES} == set(SEVERITIES)


@pytest.mark.parametrize("text", ["<192>x", "<999>x", "<-1>x", "<>x", "<1a>x", "x"])
def test_invalid_or_missing_pri_is_user_notice_and_text_kept(text: str) -> None:
    pri, rest, valid = split_pri(text)
    assert (pri, rest, valid) == (13, text, False)


def test_rfc3164_fields() -> None:
    rec = parse(b"<38>Nov 25 09:59:58 web1 sshd[4242]: Accepted publickey for bob\n").record
    assert rec["HostName"] == rec["Computer"] == "web1"
    assert rec["HostIP"] == "192.0.2.7"
    assert rec["CollectorHostName"] == "collector1"
    assert (rec["ProcessName"], rec["ProcessID"]) == ("sshd", 4242)
    assert rec["SyslogMessage"] == "Accepted publickey for bob"
    assert rec["EventTime"] == "2026-11-25T09:59:58.000000Z"


def test_rfc3164_without_hostname_uses_sender() -> None:
    rec = parse(b"<13>Nov 25 09:00:00 kernel: boot ok").record
    assert (rec["ProcessName"], rec["SyslogMessage"]) == ("kernel", "boot ok")
    assert rec["HostName"] == "192.0.2.7"


def test_rfc3164_december_message_read_in_january_is_last_year() -> None:
    jan = datetime(2027, 1, 1, 0, 5, tzinfo=UTC)
    assert parse(b"<13>Dec 31 23:59:59 h p: m", now=jan).record["EventTime"] == "2026-12-31T23:59:59.000000Z"
    assert parse(b"<13>Jan  1 00:04:00 h p: m", now=jan).record["EventTime"] == "2027-01-01T00:04:00.000000Z"


def test_rfc3164_timestamp_in_configured_zone() -> None:
    rec = parse(b"<13>Nov 25 09:00:00 h p: m", zone="Europe/Paris").record
    assert rec["EventTime"] == "2026-11-25T08:00:00.000000Z"


def test_rfc3164_feb_29_in_non_leap_year_goes_to_last_leap_year() -> None:
    now = datetime(2027, 3, 1, tzinfo=UTC)
    assert parse(b"<13>Feb 29 10:00:00 h p: m", now=now).record["EventTime"].startswith("2024-02-29T10:00:00")


def test_rfc3164_with_rfc3339_timestamp_as_rsyslog_forwards() -> None:
    rec = parse(b"<30>2026-11-25T10:00:00.123456789+02:00 db1 postgres[77]: checkpoint").record
    assert rec["EventTime"] == "2026-11-25T08:00:00.123456Z"
    assert (rec["HostName"], rec["ProcessName"], rec["ProcessID"]) == ("db1", "postgres", 77)


def test_rfc5424_full_message_keeps_structured_data() -> None:
    data = (
        b"<165>1 2003-10-11T22:14:15.003Z mymachine.example.com evntslog 1234 ID47 "
        b'[exampleSDID@32473 iut="3" eventSource="App\\"l]" eventID="1011"][meta seq="1"] '
        b"\xef\xbb\xbfAn application event log entry"
    )
    parsed = parse(data)
    rec = parsed.record
    assert parsed.header_ok
    assert (rec["Facility"], rec["SeverityLevel"]) == ("local4", "notice")
    assert rec["HostName"] == "mymachine.example.com"
    assert (rec["ProcessName"], rec["ProcessID"]) == ("evntslog", 1234)
    assert rec["EventTime"] == "2003-10-11T22:14:15.003000Z"
    assert rec["SyslogMessage"] == (
        '[exampleSDID@32473 iut="3" eventSource="App\\"l]" eventID="1011"][meta seq="1"] '
        "An application event log entry"
    )


def test_rfc5424_nil_fields() -> None:
    rec = parse(b"<34>1 - - - - - - hello").record
    assert rec["HostName"] == "192.0.2.7"
    assert rec["ProcessName"] is None and rec["ProcessID"] is None
    assert rec["SyslogMessage"] == "hello"


def test_rfc5424_offset_timestamp() -> None:
    rec = parse(b"<34>1 2003-08-24T05:14:15.000003-07:00 h su - - - m").record
    assert rec["EventTime"] == "2003-08-24T12:14:15.000003Z"


def test_rfc5424_unterminated_structured_data_is_stored_raw_and_flagged() -> None:
    parsed = parse(b'<34>1 2003-08-24T05:14:15Z h app 1 - [id a="b m')
    assert not parsed.header_ok
    assert parsed.record["SyslogMessage"] == '1 2003-08-24T05:14:15Z h app 1 - [id a="b m'


def test_garbage_is_stored_raw_with_invalid_utf8_replaced() -> None:
    parsed = parse(b"\xff\xfe\x00binary\x01junk")
    assert not parsed.header_ok
    assert parsed.record["SyslogMessage"] == "\ufffd\ufffd\ufffdbinary\x01junk"
    assert parsed.record["EventTime"] == "2026-11-25T10:00:00.000000Z"


def test_cef_inside_syslog_goes_to_common_security_log() -> None:
    parsed = parse(b"<134>Nov 25 09:00:00 fw1 CEF:0|Acme|FW|1.0|42|Blocked|7|src=10.0.0.1 dpt=443 act=deny")
    assert parsed.table == "CommonSecurityLog"
    rec = parsed.record
    assert (rec["DeviceVendor"], rec["Activity"], rec["SourceIP"]) == ("Acme", "Blocked", "10.0.0.1")
    assert (rec["DestinationPort"], rec["DeviceAction"]) == (443, "deny")
    assert rec["Computer"] == "fw1"
    assert rec["CollectorHostName"] == "collector1"


def test_malformed_cef_stays_in_syslog_and_is_flagged() -> None:
    parsed = parse(b"<134>Nov 25 09:00:00 fw1 CEF:0|only|three")
    assert parsed.table == "Syslog"
    assert parsed.cef_error
    assert parsed.record["SyslogMessage"] == "CEF:0|only|three"


@settings(max_examples=400, deadline=None)
@given(st.binary(max_size=600))
def test_fuzz_bytes_never_raise(data: bytes) -> None:
    parsed = parse(data)
    assert parsed.table in ("Syslog", "CommonSecurityLog")
    assert isinstance(parsed.record.get("EventTime", ""), str)


_prefixes = st.sampled_from(
    ["<13>", "<34>1 ", "<191>Nov 25 10:00:00 ", "<0>2026-11-25T10:00:00Z ", "", "<13>1 - "]
)


@settings(max_examples=400, deadline=None)
@given(_prefixes, st.text(alphabet=st.characters(codec="utf-8"), max_size=300))
def test_fuzz_structured_prefixes_never_raise(prefix: str, text: str) -> None:
    parsed = parse((prefix + text).encode("utf-8", "surrogatepass"))
    assert isinstance(parsed.record, dict)
