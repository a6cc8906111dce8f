"""Kusto literal values: parsing timespan/datetime text and rendering engine values as Azure JSON.

Invariant: timespans are integers of 100 ns ticks everywhere in the compiler; datetimes are naive
UTC `datetime` objects with microsecond precision.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from .tokens import TIMESPAN_UNITS

TICKS_PER_SECOND = 10_000_000
_TS_CLOCK = re.compile(r"^(-)?(?:(\d+)\.)?(\d{1,2}):(\d{1,2})(?::(\d{1,2})(?:\.(\d{1,7}))?)?$")
_TS_UNIT = re.compile(r"^(-)?(\d+(?:\.\d+)?)\s*([a-zA-Z]+)$")


def parse_timespan(text: str) -> int | None:
    """Ticks for `1.02:03:04.5`, `02:03`, `2h`, `90` (days, as Kusto's time(90))."""
    s = text.strip()
    m = _TS_CLOCK.match(s)
    if m:
        sign, days, hours, minutes, seconds, frac = m.groups()
        ticks = (
            int(days or 0) * 864_000_000_000
            + int(hours) * 36_000_000_000
            + int(minutes) * 600_000_000
            + int(seconds or 0) * TICKS_PER_SECOND
            + int((frac or "0").ljust(7, "0"))
        )
        return -ticks if sign else ticks
    m = _TS_UNIT.match(s)
    if m and m.group(3).lower() in TIMESPAN_UNITS:
        ticks = round(float(m.group(2)) * TIMESPAN_UNITS[m.group(3).lower()])
        return -ticks if m.group(1) else ticks
    if re.fullmatch(r"-?\d+(\.\d+)?", s):
        return round(float(s) * 864_000_000_000)
    return None


_DT_FORMATS = (
    "%Y-%m-%dT%H:%M:%S.%f",
    "%Y-%m-%dT%H:%M:%S",
    "%Y-%m-%dT%H:%M",
    "%Y-%m-%d %H:%M:%S.%f",
    "%Y-%m-%d %H:%M:%S",
    "%Y-%m-%d %H:%M",
    "%Y-%m-%d",
    "%Y/%m/%d %H:%M:%S",
    "%Y/%m/%d",
    "%m/%d/%Y %H:%M:%S",
    "%m/%d/%Y",
    "%a, %d %b %Y %H:%M:%S GMT",
)


def parse_datetime(text: str) -> datetime | None:
    """Naive UTC datetime for the ISO 8601 / RFC 822 forms Kusto accepts, or None."""
    s = text.strip()
    if s.endswith(("Z", "z")):
        s = s[:-1]
    offset = timedelta(0)
    m = re.search(r"([+-])(\d{2}):?(\d{2})$", s)
    if m and len(s) > 10:
        sign = 1 if m.group(1) == "+" else -1
        offset = sign * timedelta(hours=int(m.group(2)), minutes=int(m.group(3)))
        s = s[: m.start()]
    frac = re.search(r"\.(\d+)$", s)
    if frac and len(frac.group(1)) > 6:
        s = s[: frac.start()] + "." + frac.group(1)[:6]
    for fmt in _DT_FORMATS:
        try:
            return datetime.strptime(s, fmt) - offset
        except ValueError:
            continue
    return None


def format_timespan(ticks: int) -> str:
    sign = "-" if ticks < 0 else ""
    t = abs(int(ticks))
    days, rem = divmod(t, 864_000_000_000)
    hours, rem = divmod(rem, 36_000_000_000)
    minutes, rem = divmod(rem, 600_000_000)
    seconds, frac = divmod(rem, TICKS_PER_SECOND)
    out = f"{sign}{str(days) + '.' if days else ''}{hours:02d}:{minutes:02d}:{seconds:02d}"
    return out + (f".{frac:07d}" if frac else "")


def format_datetime(value: datetime) -> str:
    if value.tzinfo is not None:
        value = value.astimezone(UTC).replace(tzinfo=None)
    return value.strftime("%Y-%m-%dT%H:%M:%S.") + f"{value.microsecond:06d}0Z"


def _to_ticks(value: Any) -> int:
    if isinstance(value, timedelta):
        return (value.days * 86_400 + value.seconds) * TICKS_PER_SECOND + value.microseconds * 10
    if hasattr(value, "months") and hasattr(value, "days"):  # pragma: no cover - exotic interval
        return int(value.days) * 864_000_000_000
    return int(value)


def _json(value: Any) -> Any:
    if isinstance(value, str):
        try:
            return json.loads(value)
        except ValueError:
            return value
    if isinstance(value, list | dict | int | float | bool):
        return value
    return str(value)


def _real(value: Any) -> Any:
    f = float(value)
    if f != f:
        return "NaN"
    if f in (float("inf"), float("-inf")):
        return "Infinity" if f > 0 else "-Infinity"
    return f


_CONVERT: dict[str, Callable[[Any], Any]] = {
    "datetime": lambda v: format_datetime(v) if isinstance(v, datetime) else str(v),
    "timespan": lambda v: format_timespan(_to_ticks(v)),
    "dynamic": _json,
    "guid": str,
    "real": _real,
    "decimal": lambda v: float(v) if isinstance(v, Decimal) else _real(v),
    "int": int,
    "long": int,
    "bool": bool,
    "string": lambda v: v if isinstance(v, str) else str(v),
}


def to_json_value(value: Any, kusto_type: str) -> Any:
    """One engine value as Azure's query API renders it; None stays None."""
    if value is None:
        return None
    conv = _CONVERT.get(kusto_type)
    if conv is None:
        return value
    try:
        return conv(value)
    except (TypeError, ValueError, OverflowError):
        return str(value)
