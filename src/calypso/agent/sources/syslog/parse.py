"""From the raw bytes of one syslog message to one record for `Syslog` or `CommonSecurityLog`.

Invariants:
- `MessageParser.parse` never raises: invalid UTF-8 is replaced, a BOM before or after the PRI dropped, a missing
  PRI means user.notice, a header that follows neither RFC 3164 nor RFC 5424 is stored raw
  (SyslogMessage = the text after the PRI) and reported as `header_ok=False` so the caller can count
  it; a valid PRI followed by `TAG: MSG` and no timestamp is a header (reception time);
- a message whose body (after the syslog header and any STRUCTURED-DATA) starts with `CEF:` becomes
  a CommonSecurityLog record; if its CEF header is malformed it stays a Syslog record (reported as
  `cef_error`). A well-formed CEF record after a prefix (` CEF:` further in) is taken too; a
  malformed one there is just text;
- Computer and HostName are the HOSTNAME from the message, or the sender's address when the message
  has none; HostIP is the sender's address; CollectorHostName is this machine; EventTime is the
  message's timestamp, or the reception time when it has none.
"""

from __future__ import annotations

from datetime import UTC, datetime, tzinfo
from typing import Any, NamedTuple

from calypso.agent.sources import cef
from calypso.agent.sources.base import iso
from calypso.agent.sources.syslog import rfc5424
from calypso.agent.sources.syslog.header import Header
from calypso.agent.sources.syslog.names import DEFAULT_PRI, PRI_NAMES
from calypso.agent.sources.syslog.rfc3164 import Rfc3164Parser, untimed

SYSLOG = "Syslog"
CEF = cef.TABLE
_MAX_PRI = len(PRI_NAMES) - 1


class Parsed(NamedTuple):
    table: str
    record: dict[str, Any]
    pri: int
    header_ok: bool
    cef_error: bool


def split_pri(text: str) -> tuple[int, str, bool]:
    """(PRI, text after it, whether a valid PRI was present). Invalid PRI -> default, text kept whole.

    A BOM before the PRI is skipped."""
    if not text.startswith("<") and text.startswith("\ufeff<"):
        text = text[1:]
    if text.startswith("<"):
        end = text.find(">", 1, 5)
        if end > 1:
            digits = text[1:end]
            if digits.isdigit() and digits.isascii():
                pri = int(digits)
                if pri <= _MAX_PRI:
                    return pri, text[end + 1 :], True
    return DEFAULT_PRI, text, False


def decode(data: bytes) -> str:
    """Message bytes as text: UTF-8 with invalid bytes replaced, trailing line ends and NULs removed."""
    text = data.decode("utf-8", "replace")
    if text.endswith(("\n", "\r", "\x00")):
        text = text.rstrip("\r\n\x00")
    if "\x00" in text:
        text = text.replace("\x00", "\ufffd")
    return text


class MessageParser:
    """Turns raw syslog messages into records. One per listener; keeps small caches, so not shared."""

    def __init__(self, collector: str, zone: tzinfo = UTC) -> None:
        self.collector = collector
        self.zone = zone
        self.rfc3164 = Rfc3164Parser(zone)

    def header(self, body: str, now: datetime, has_pri: bool = True) -> Header:
        head = self._header(body, now)
        if not head.ok:
            if body.startswith("\ufeff"):  # a BOM between the PRI and the header
                body = body[1:]
                head = self._header(body, now)
            if not head.ok and has_pri:
                return untimed(body)
        return head

    def _header(self, body: str, now: datetime) -> Header:
        if rfc5424.is_rfc5424(body):
            parsed = rfc5424.parse(body, self.zone)
            if parsed.ok:
                return parsed
        return self.rfc3164.parse(body, now)

    def parse(self, data: bytes, peer: str | None, now: datetime, received: str | None = None) -> Parsed:
        """Parse one message. `now` (aware) places year-less timestamps; `received` is its wire form."""
        text = decode(data)
        pri, body, has_pri = split_pri(text)
        head = self.header(body, now, has_pri)
        host = head.host or peer or self.collector
        event_time = head.event_time or received or iso(now)
        message = head.message
        cef_at, strict = -1, False
        if "CEF:" in message:
            if message.startswith("CEF:", head.msg_at):
                cef_at, strict = head.msg_at, True
            else:  # after a prefix: a relay's header, a key=value the device adds
                cef_at = message.find(" CEF:")
                if cef_at >= 0:
                    cef_at, strict = cef_at + 1, not head.ok
        cef_error = False
        if cef_at >= 0:
            event = cef.parse(message[cef_at:] if cef_at else message)
            if event is not None:
                record = cef.to_record(event)
                record["Computer"] = host
                record["CollectorHostName"] = self.collector
                return Parsed(CEF, record, pri, True, False)
            cef_error = strict
        facility, severity = PRI_NAMES[pri]
        record = {
            "Computer": host,
            "HostName": host,
            "HostIP": peer,
            "CollectorHostName": self.collector,
            "Facility": facility,
            "SeverityLevel": severity,
            "ProcessName": head.app,
            "ProcessID": head.pid,
            "SyslogMessage": message,
            "EventTime": event_time,
        }
        return Parsed(SYSLOG, record, pri, head.ok, cef_error)
