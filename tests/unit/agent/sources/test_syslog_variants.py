"""Syslog headers as real senders write them: rsyslog, Cisco ASA/IOS, Python's SysLogHandler, relays.

Each case states the Syslog columns a user would query; the messages are written from the formats,
not copied from captures.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from calypso.agent.sources.syslog.parse import MessageParser, Parsed

NOW = datetime(2026, 11, 25, 10, 0, 0, tzinfo=UTC)
PEER = "192.0.2.7"


def parse(data: bytes, zone: str = "UTC") -> Parsed:
    return MessageParser("collector1", ZoneInfo(zone)).parse(data, PEER, NOW)


def cols(parsed: Parsed, *names: str) -> tuple[Any, ...]:
    return tuple(parsed.record.get(n) for n in names)


HEAD = ("EventTime", "HostName", "ProcessName", "ProcessID", "SyslogMessage")


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        # rsyslog RSYSLOG_ForwardFormat: high-precision RFC 3339 timestamp
        (b"<30>2026-11-25T09:00:00.123456+01:00 web1 systemd[1]: Started Session 5.",
         ("2026-11-25T08:00:00.123456Z", "web1", "systemd", 1, "Started Session 5.")),
        # a year after the day; single-digit days padded with a space, a zero, or not at all
        (b"<30>Nov 25 2024 09:00:00 web1 app: m", ("2024-11-25T09:00:00.000000Z", "web1", "app", None, "m")),
        (b"<30>Nov  5 09:00:00 web1 app: m", ("2026-11-05T09:00:00.000000Z", "web1", "app", None, "m")),
        (b"<30>Nov 05 09:00:00 web1 app: m", ("2026-11-05T09:00:00.000000Z", "web1", "app", None, "m")),
        (b"<30>Nov 5 09:00:00 web1 app: m", ("2026-11-05T09:00:00.000000Z", "web1", "app", None, "m")),
        # no hostname: written to /dev/log, the TAG follows the timestamp
        (b"<13>Nov 25 09:00:00 myapp[12]: hello", ("2026-11-25T09:00:00.000000Z", PEER, "myapp", 12, "hello")),
        # tags with '/', '.', '-'
        (b"<22>Nov 25 09:00:00 mx1 postfix/smtpd[1234]: connect from unknown[10.0.0.1]",
         ("2026-11-25T09:00:00.000000Z", "mx1", "postfix/smtpd", 1234, "connect from unknown[10.0.0.1]")),
        (b"<13>Nov 25 09:00:00 ws1 org.gnome.Shell.desktop[2000]: warn",
         ("2026-11-25T09:00:00.000000Z", "ws1", "org.gnome.Shell.desktop", 2000, "warn")),
        (b"<13>Nov 25 09:00:00 ws1 my-app: hi", ("2026-11-25T09:00:00.000000Z", "ws1", "my-app", None, "hi")),
        # no space after the colon, or a tab
        (b"<13>Nov 25 09:00:00 ws1 app[12]:no space", ("2026-11-25T09:00:00.000000Z", "ws1", "app", 12, "no space")),
        (b"<13>Nov 25 09:00:00 ws1 app:\tx", ("2026-11-25T09:00:00.000000Z", "ws1", "app", None, "\tx")),
        # "program[pid]" without a colon
        (b"<13>Nov 25 09:00:00 ws1 app[12] no colon", ("2026-11-25T09:00:00.000000Z", "ws1", "app", 12, "no colon")),
        # kernel lines and syslogd's own lines
        (b"<4>Nov 25 09:00:00 ws1 kernel: [12345.678901] usb 1-1: new device",
         ("2026-11-25T09:00:00.000000Z", "ws1", "kernel", None, "[12345.678901] usb 1-1: new device")),
        (b"<46>Nov 25 09:00:00 ws1 last message repeated 3 times",
         ("2026-11-25T09:00:00.000000Z", "ws1", None, None, "last message repeated 3 times")),
        # Cisco ASA without "logging device-id": the timestamp ends with a colon, the TAG is %ASA-...
        (b"<166>Nov 25 2024 09:00:00: %ASA-6-302013: Built outbound TCP connection 1",
         ("2024-11-25T09:00:00.000000Z", PEER, "%ASA-6-302013", None, "Built outbound TCP connection 1")),
        # ... and with a device id: "HOST : %ASA-..."
        (b"<166>Nov 25 2024 09:00:00 asa1 : %ASA-4-106023: Deny tcp src outside:1.2.3.4/5",
         ("2024-11-25T09:00:00.000000Z", "asa1", "%ASA-4-106023", None, "Deny tcp src outside:1.2.3.4/5")),
        # Cisco IOS: sequence number, '*' for an unsynchronised clock, milliseconds, time zone
        (b"<189>123: *Nov 25 09:00:00.123: %SYS-5-CONFIG_I: Configured from console by vty0",
         ("2026-11-25T09:00:00.123000Z", PEER, "%SYS-5-CONFIG_I", None, "Configured from console by vty0")),
        (b"<187>45: rtr1: Nov 25 2024 09:00:00.250 UTC: %LINK-3-UPDOWN: Interface Gi0/1, changed state to up",
         ("2024-11-25T09:00:00.250000Z", "rtr1", "%LINK-3-UPDOWN", None, "Interface Gi0/1, changed state to up")),
        (b"<187>46: .Nov 25 09:00:00 CET: %LINK-3-UPDOWN: down",
         ("2026-11-25T08:00:00.000000Z", PEER, "%LINK-3-UPDOWN", None, "down")),
        # a zone name after the time is the zone, not the hostname
        (b"<134>Jan 23 12:10:16 UTC egs-001 app: m", ("2026-01-23T12:10:16.000000Z", "egs-001", "app", None, "m")),
        # Python's logging.handlers.SysLogHandler: no timestamp, no hostname, a trailing NUL
        (b"<14>myapp: something happened\x00", ("2026-11-25T10:00:00.000000Z", PEER, "myapp", None,
                                                "something happened")),
        (b"<14>worker[77]: job done", ("2026-11-25T10:00:00.000000Z", PEER, "worker", 77, "job done")),
        # BOM before the message, or right after the PRI; trailing CR LF
        (b"\xef\xbb\xbf<13>Nov 25 09:00:00 ws1 sshd[22]: hi", ("2026-11-25T09:00:00.000000Z", "ws1", "sshd", 22, "hi")),
        (b"<13>\xef\xbb\xbfNov 25 09:00:00 ws1 sshd[22]: hi\r\n",
         ("2026-11-25T09:00:00.000000Z", "ws1", "sshd", 22, "hi")),
    ],
)  # fmt: skip
def test_rfc3164_variants(data: bytes, expected: tuple[Any, ...]) -> None:
    parsed = parse(data)
    assert parsed.header_ok
    assert parsed.table == "Syslog"
    assert cols(parsed, *HEAD) == expected


def test_no_pri_defaults_to_user_notice_and_header_still_parses() -> None:
    parsed = parse(b"Nov 25 09:00:00 ws1 sshd[22]: Failed password for root")
    assert cols(parsed, "Facility", "SeverityLevel", "HostName", "ProcessName") == (
        "user",
        "notice",
        "ws1",
        "sshd",
    )


def test_text_without_pri_or_timestamp_is_stored_raw_and_flagged() -> None:
    parsed = parse(b"myapp: no pri, no time")
    assert not parsed.header_ok
    assert parsed.record["SyslogMessage"] == "myapp: no pri, no time"


def test_invalid_utf8_is_replaced_not_fatal() -> None:
    parsed = parse(b"<13>Nov 25 09:00:00 ws1 app: caf\xe9 \xff")
    assert parsed.header_ok
    assert parsed.record["SyslogMessage"] == "caf\ufffd \ufffd"


def test_cisco_zone_other_than_utc_uses_its_offset_and_unknown_zone_the_configured_one() -> None:
    rec = parse(b"<187>1: Nov 25 09:00:00 EST: %X-1-Y: m").record
    assert rec["EventTime"] == "2026-11-25T14:00:00.000000Z"
    rec = parse(b"<187>1: Nov 25 09:00:00 XYZ: %X-1-Y: m", zone="Europe/Paris").record
    assert rec["EventTime"] == "2026-11-25T08:00:00.000000Z"
    assert rec["ProcessName"] == "%X-1-Y"


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (b"<165>1 - - - - - -", (NOW.strftime("%Y-%m-%dT%H:%M:%S.000000Z"), PEER, None, None, "")),
        (b"<165>1 2024-11-25T09:00:00Z - app - - - m", ("2024-11-25T09:00:00.000000Z", PEER, "app", None, "m")),
        (b"<165>1 2024-11-25T09:00:00Z h - 12 - - m", ("2024-11-25T09:00:00.000000Z", "h", None, 12, "m")),
        (b'<165>1 2024-11-25T09:00:00.1Z h a 1 - [x@1 k="\\]" j="\\"q\\\\"][y@2 z="2"] m',
         ("2024-11-25T09:00:00.100000Z", "h", "a", 1, '[x@1 k="\\]" j="\\"q\\\\"][y@2 z="2"] m')),
        (b"<165>1 2024-11-25T09:00:00.123456789+05:30 h a 1 - - m",
         ("2024-11-25T03:30:00.123456Z", "h", "a", 1, "m")),
        (b"<165>1 2024-11-25T09:00:00Z h " + b"A" * 48 + b" 1 - - long app-name",
         ("2024-11-25T09:00:00.000000Z", "h", "A" * 48, 1, "long app-name")),
        # a leap second is the last instant of its minute, not "no time"
        (b"<165>1 2024-12-31T23:59:60Z h a 1 - - leap", ("2024-12-31T23:59:59.999999Z", "h", "a", 1, "leap")),
        # doubled spaces between header fields (seen from some appliances) do not shift the fields
        (b"<165>1 2024-11-25T09:00:00Z  h  a 1 - - m", ("2024-11-25T09:00:00.000000Z", "h", "a", 1, "m")),
    ],
)  # fmt: skip
def test_rfc5424_variants(data: bytes, expected: tuple[Any, ...]) -> None:
    parsed = parse(data)
    assert parsed.header_ok
    assert cols(parsed, *HEAD) == expected


@pytest.mark.parametrize(
    "data",
    [
        # CEF after RFC 5424 structured data, with and without a BOM
        b'<134>1 2024-11-25T09:00:00Z fw1 CheckPoint 4242 - [sd@1 a="b"] CEF:0|V|P|1|s|n|5|src=1.2.3.4',
        b'<134>1 2024-11-25T09:00:00Z fw1 CheckPoint 4242 - [sd@1 a="b"] \xef\xbb\xbfCEF:0|V|P|1|s|n|5|src=1.2.3.4',
        # a prefix before CEF: (a relay's own header, a "key=value" the device adds)
        b"<134>Nov 25 09:00:00 relay1 AgentDevice=WindowsLog CEF:0|V|P|1|s|n|5|src=1.2.3.4",
        b"<14>Mar  1 21:06:08 fw1 3916 <14>1 2021-03-01T21:06:08Z lf - panwlogs - CEF:0|V|P|1|s|n|5|src=1.2.3.4",
        # a zone name between the timestamp and the host
        b"<134>Jan 23 12:10:16 UTC fw1 CEF:0|V|P|1|s|n|5|src=1.2.3.4",
    ],
)
def test_cef_found_after_prefixes(data: bytes) -> None:
    parsed = parse(data)
    assert parsed.table == "CommonSecurityLog", parsed.record
    assert cols(parsed, "DeviceVendor", "SourceIP") == ("V", "1.2.3.4")
    assert parsed.record["Computer"] in ("fw1", "relay1")


def test_cef_mentioned_inside_a_message_is_not_an_error() -> None:
    parsed = parse(b"<13>Nov 25 09:00:00 ws1 app: bad input CEF:0|broken")
    assert parsed.table == "Syslog" and not parsed.cef_error
    assert parsed.record["SyslogMessage"] == "bad input CEF:0|broken"


_cisco = st.sampled_from(["", "1: ", "123: rtr1: ", "*", ".", "9: *"])
_stamps = st.sampled_from(
    [
        "Nov 25 09:00:00",
        "Nov  5 2024 09:00:00.123",
        "Nov 25 09:00:00 UTC",
        "Nov 25 09:00:00.1 XYZ",
        "2024-11-25T09:00:00Z",
    ]
)


@settings(max_examples=300, deadline=None)
@given(
    st.sampled_from(["<13>", "<189>", "", "\ufeff<0>"]),
    _cisco,
    _stamps,
    st.sampled_from(["", ":", " :", " host :"]),
    st.text(max_size=120),
)
def test_fuzz_device_prefixes_never_raise(pri: str, seq: str, stamp: str, colon: str, rest: str) -> None:
    parsed = parse(f"{pri}{seq}{stamp}{colon} {rest}".encode("utf-8", "surrogatepass"))
    assert parsed.table in ("Syslog", "CommonSecurityLog")
    event_time = parsed.record.get("EventTime")
    assert event_time is None or event_time.endswith("Z")
