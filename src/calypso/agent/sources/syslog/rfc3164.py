"""RFC 3164 ("BSD") syslog header parser: `TIMESTAMP HOSTNAME TAG[PID]: MSG` after the PRI.

Invariants:
- never raises on any str input; a text that does not start with a recognised timestamp yields
  `Header(ok=False)` with the text kept whole as the message;
- timestamps without a year are placed in the current year of the configured zone and rolled back
  a year when that lands more than one day in the future (a December message read in January);
- a token is taken as HOSTNAME only when it does not look like a TAG (`name:` or `name[pid]`) or a
  CEF body, so messages written to a local socket (no hostname) parse correctly.
Accepted timestamps: `Mmm dd hh:mm:ss` (optionally with `.fraction` and/or a year after the day or
after the time) and RFC 3339 (`2024-05-01T10:00:00.123+02:00`, as rsyslog's forwarding formats write).
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta, tzinfo

from calypso.agent.sources.base import iso
from calypso.agent.sources.syslog.header import Header, parse_iso, parse_pid

MONTHS: dict[str, int] = {
    m: i + 1
    for i, m in enumerate(
        ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec")
    )
}

_BSD_TS = re.compile(
    r"([A-Za-z]{3}) +(\d{1,2}) (?:(\d{4}) )?(\d{1,2}):(\d{2}):(\d{2})(?:\.(\d{1,9}))?(?: (\d{4}))?(?: +|$)"
)
_ISO_TS = re.compile(
    r"(\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}:\d{2}(?:\.\d{1,9})?(?:Z|z|[+-]\d{2}:?\d{2})?)(?: +|$)"
)
_TOKEN = re.compile(r"(\S+)(?: +|$)")
_TAG = re.compile(r"([^\s\[\]:]{1,128})(?:\[([^\]\s]{0,32})\])?(:)?(?: |$)")

ONE_DAY = timedelta(days=1)


def _tag(text: str, pos: int) -> tuple[str | None, int | None, int]:
    """(ProcessName, ProcessID, position of the message) if a TAG starts at pos, else (None, None, pos)."""
    m = _TAG.match(text, pos)
    if m is None or (m.group(2) is None and m.group(3) is None):
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
        ts, pos = self._timestamp(text, now)
        if pos < 0:
            return Header(None, None, None, None, text, False)
        host: str | None = None
        if not text.startswith("CEF:", pos):
            m = _TOKEN.match(text, pos)
            if m is not None and not _looks_like_tag(m.group(1)):
                host = m.group(1)
                pos = m.end()
        app: str | None = None
        pid: int | None = None
        if not text.startswith("CEF:", pos):
            app, pid, pos = _tag(text, pos)
        return Header(ts, host, app, pid, text[pos:], True)

    def _timestamp(self, text: str, now: datetime) -> tuple[str | None, int]:
        m = _BSD_TS.match(text)
        if m is not None:
            key = m.group(0)
            hour = int(now.timestamp()) // 3600
            if hour != self._cache_hour or len(self._cache) > 8192:
                self._cache = {}
                self._cache_hour = hour
            if key in self._cache:
                return self._cache[key], m.end()
            value = self._bsd(m, now)
            self._cache[key] = value
            return value, m.end()
        m = _ISO_TS.match(text)
        if m is not None:
            return parse_iso(m.group(1), self.zone), m.end()
        return None, -1

    def _bsd(self, m: re.Match[str], now: datetime) -> str | None:
        month = MONTHS.get(m.group(1).lower())
        if month is None:
            return None
        day, hh, mm, ss = int(m.group(2)), int(m.group(4)), int(m.group(5)), int(m.group(6))
        frac = m.group(7)
        micro = int((frac + "00000")[:6]) if frac else 0
        year_text = m.group(3) or m.group(8)
        local_now = now.astimezone(self.zone)
        years = [int(year_text)] if year_text else [local_now.year - k for k in range(5)]
        for year in years:
            try:
                dt = datetime(year, month, day, hh, mm, ss, micro, tzinfo=self.zone)
            except ValueError:  # Feb 29 outside a leap year, hour 25, ...
                continue
            if year_text or dt <= local_now + ONE_DAY:
                return iso(dt)
        return None
