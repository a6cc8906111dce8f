"""RFC 3164 ("BSD") syslog header parser: `TIMESTAMP HOSTNAME TAG[PID]: MSG` after the PRI.

Invariants:
- never raises on any str input; a text that does not start with a recognised timestamp yields
  `Header(ok=False)` with the text kept whole as the message;
- timestamps without a year are placed in the current year of the configured zone and rolled back
  a year when that lands more than one day in the future (a December message read in January);
- a token is taken as HOSTNAME only when it does not look like a TAG (`name:` or `name[pid]`) or a
  CEF body, so messages written to a local socket (no hostname) parse correctly.
Accepted timestamps: `Mmm dd hh:mm:ss` (optionally with `.fraction`, a year after the day or after
the time, a known zone name, a colon after it as Cisco ASA writes) and RFC 3339
(`2024-05-01T10:00:00.123+02:00`, as rsyslog's forwarding formats write). Cisco IOS prefixes
(`SEQ: [HOST: ][*.]TIMESTAMP [ZONE]: `) are recognised; `HOST : %ASA-...` drops the lone colon.
A message with no timestamp but a valid PRI and a TAG (`untimed`, e.g. Python's SysLogHandler) parses.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta, timezone, tzinfo

from calypso.agent.sources.base import iso
from calypso.agent.sources.cef import ZONE_OFFSETS, zone_offset
from calypso.agent.sources.syslog.header import Header, parse_iso, parse_pid

MONTHS: dict[str, int] = {
    m: i + 1
    for i, m in enumerate(
        ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec")
    )
}

_BSD = (
    r"(?P<ts>(?P<mon>[A-Za-z]{3}) +(?P<day>\d{1,2}) (?:(?P<y1>\d{4}) )?(?P<hh>\d{1,2}):(?P<mi>\d{2}):(?P<ss>\d{2})"
    r"(?:\.(?P<frac>\d{1,9}))?(?: (?P<y2>\d{4}))?"
)
_BSD_TS = re.compile(_BSD + r")(?::? +|:?$)")
# Cisco IOS: `SEQ: [HOST: ][*.]TIMESTAMP [ZONE]: ` ('*' or '.' marks a clock not in sync)
_CISCO_TS = re.compile(
    r"(?:\d{1,10}: )?(?:(?P<host>[^\s:]{1,255}): )?[*.]?"
    + _BSD
    + r")(?: (?P<tz>[A-Za-z]{1,5}(?:[+-]\d{1,2}(?::?\d{2})?)?|[+-]\d{2}:?\d{2}))?:(?: +|$)"
)
_ISO_TS = re.compile(
    r"(\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}:\d{2}(?:\.\d{1,9})?(?:Z|z|[+-]\d{2}:?\d{2})?)(?: +|$)"
)
_TOKEN = re.compile(r"(\S+)(?: +|$)")
# `name:` (then a space, a tab or the end) or `name[pid]` (then a colon, a space or the end; the
# message may follow `name[pid]:` directly). A lone `: ` first is skipped (Cisco ASA `HOST : %ASA-...`).
_TAG = re.compile(r"(?:: )?([^\s\[\]:]{1,128})(?:\[([^\]\s]{0,32})\](?:: ?| |$)|:(?: |(?=\t)|$))")

ONE_DAY = timedelta(days=1)


def _tag(text: str, pos: int) -> tuple[str | None, int | None, int]:
    """(ProcessName, ProcessID, position of the message) if a TAG starts at pos, else (None, None, pos)."""
    m = _TAG.match(text, pos)
    if m is None:
        return None, None, pos
    return m.group(1), parse_pid(m.group(2)), m.end()


def _looks_like_tag(token: str) -> bool:
    return token.endswith(":") or (token.endswith("]") and "[" in token) or "]:" in token


class Rfc3164Parser:
    """Parses the part of an RFC 3164 message after its PRI. Holds a small cache of timestamp texts."""

    def __init__(self, zone: tzinfo = UTC) -> None:
        self.zone = zone
        self._cache: dict[str, str | None] = {}
        self._cache_hour = -1

    def parse(self, text: str, now: datetime) -> Header:
        ts, pos, host, bsd = self._timestamp(text, now)
        if pos < 0:
            return Header(None, None, None, None, text, False)
        if host is None and not text.startswith("CEF:", pos):
            m = _TOKEN.match(text, pos)
            if m is not None:
                token = m.group(1)
                if token in ZONE_OFFSETS and bsd is not None:  # `Jan 23 12:10:16 UTC host ...`
                    ts = self._bsd(bsd, now, token)
                    pos = m.end()
                    m = _TOKEN.match(text, pos)
                    token = "" if m is None else m.group(1)
                if m is not None and not _looks_like_tag(token):
                    host = token
                    pos = m.end()
        app: str | None = None
        pid: int | None = None
        if not text.startswith("CEF:", pos):
            app, pid, pos = _tag(text, pos)
        return Header(ts, host, app, pid, text[pos:], True)

    def _timestamp(
        self, text: str, now: datetime
    ) -> tuple[str | None, int, str | None, re.Match[str] | None]:
        """(EventTime, position after it or -1, HOSTNAME of a Cisco prefix, the BSD timestamp's match)."""
        m = _BSD_TS.match(text)
        if m is not None:
            key = m.group(0)
            hour = int(now.timestamp()) // 3600
            if hour == self._cache_hour and key in self._cache:
                return self._cache[key], m.end(), None, m
            return self._cached(m, now), m.end(), None, m
        m = _ISO_TS.match(text)
        if m is not None:
            return parse_iso(m.group(1), self.zone), m.end(), None, None
        if text[:1].isdigit() or text.startswith(("*", ".")):
            m = _CISCO_TS.match(text)
            if m is not None:
                return self._cached(m, now, cisco=True), m.end(), m.group("host"), None
        return None, -1, None, None

    def _cached(self, m: re.Match[str], now: datetime, cisco: bool = False) -> str | None:
        key = m.string[m.start("ts") : m.end()] if cisco else m.group(0)
        hour = int(now.timestamp()) // 3600
        if hour != self._cache_hour or len(self._cache) > 8192:
            self._cache = {}
            self._cache_hour = hour
        if key in self._cache:
            return self._cache[key]
        value = self._bsd(m, now, m.groupdict().get("tz"))
        self._cache[key] = value
        return value

    def _bsd(self, m: re.Match[str], now: datetime, zone_name: str | None = None) -> str | None:
        month = MONTHS.get(m.group("mon").lower())
        if month is None:
            return None
        day, hh, mm, ss = int(m.group("day")), int(m.group("hh")), int(m.group("mi")), int(m.group("ss"))
        frac = m.group("frac")
        micro = int((frac + "00000")[:6]) if frac else 0
        year_text = m.group("y1") or m.group("y2")
        zone = self.zone
        if zone_name is not None:
            offset = zone_offset(zone_name)
            if offset is not None:
                zone = timezone(offset)
        local_now = now.astimezone(zone)
        years = [int(year_text)] if year_text else [local_now.year - k for k in range(5)]
        for year in years:
            try:
                dt = datetime(year, month, day, hh, mm, ss, micro, tzinfo=zone)
            except ValueError:  # Feb 29 outside a leap year, hour 25, ...
                continue
            if year_text or dt <= local_now + ONE_DAY:
                try:
                    return iso(dt)
                except OverflowError:  # year 1 with a positive offset
                    return None
        return None


def untimed(text: str) -> Header:
    """A message with a PRI but no timestamp: `TAG: MSG` (Python's SysLogHandler, small devices) or raw."""
    if not text.startswith(("CEF:", ": ")):
        m = _TAG.match(text)
        if m is not None and ":" in text[m.end(1) : m.end()]:
            return Header(None, None, m.group(1), parse_pid(m.group(2)), text[m.end() :], True)
    return Header(None, None, None, None, text, False)
