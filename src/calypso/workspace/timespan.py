"""The Query API's `timespan`: an ISO 8601 duration (`PT1H`, `P1DT2H`, `PT3600.0S`) ending now, or an
interval `start/end`, `start/duration` or `duration/end`.

Invariant: `parse_timespan` returns a (start, end) pair of aware UTC datetimes with start <= end, or
raises ValueError with a message naming the bad part.
"""

from __future__ import annotations

import datetime as dt
import re

_DURATION = re.compile(
    r"^P(?:(?P<weeks>\d+(?:\.\d+)?)W)?(?:(?P<days>\d+(?:\.\d+)?)D)?"
    r"(?:T(?:(?P<hours>\d+(?:\.\d+)?)H)?(?:(?P<minutes>\d+(?:\.\d+)?)M)?(?:(?P<seconds>\d+(?:\.\d+)?)S)?)?$",
    re.IGNORECASE,
)


def parse_duration(text: str) -> dt.timedelta:
    m = _DURATION.match(text.strip())
    if not m or text.strip().upper() in ("P", "PT") or text.strip().upper().endswith("T"):
        raise ValueError(f"{text!r} is not an ISO 8601 duration such as PT1H or P1D")
    parts = {k: float(v) for k, v in m.groupdict().items() if v is not None}
    return dt.timedelta(**parts)


def parse_instant(text: str) -> dt.datetime:
    try:
        value = dt.datetime.fromisoformat(text.strip())
    except ValueError:
        raise ValueError(f"{text!r} is not an ISO 8601 date and time") from None
    return value.replace(tzinfo=dt.UTC) if value.tzinfo is None else value.astimezone(dt.UTC)


def parse_timespan(text: str, now: dt.datetime | None = None) -> tuple[dt.datetime, dt.datetime]:
    current = (now or dt.datetime.now(dt.UTC)).astimezone(dt.UTC)
    text = text.strip()
    if not text:
        raise ValueError("timespan is empty")
    if "/" not in text:
        return current - parse_duration(text), current
    first, _, second = text.partition("/")
    if first.upper().startswith("P"):
        end = parse_instant(second)
        start = end - parse_duration(first)
    elif second.upper().startswith("P"):
        start = parse_instant(first)
        end = start + parse_duration(second)
    else:
        start, end = parse_instant(first), parse_instant(second)
    if start > end:
        raise ValueError(f"timespan {text!r} starts after it ends")
    return start, end
