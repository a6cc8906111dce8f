"""JSON values -> Arrow columns of a Kusto type, vectorized where possible.

Invariant: `to_arrow(values, kusto_type)` either returns an Arrow array of exactly `len(values)` items
whose type DuckDB inserts into the column `storage_type(kusto_type)` without loss, or raises
`ColumnError` naming the first offending row. Datetimes are naive UTC microseconds; timespans are 100 ns
ticks (int64); dynamic values are JSON text; guid/decimal are validated text that DuckDB casts.
"""

from __future__ import annotations

import datetime as dt
import decimal
import re
import uuid
from collections.abc import Callable, Sequence
from typing import Any

import orjson
import pyarrow as pa


class ColumnError(ValueError):
    def __init__(self, row: int, message: str) -> None:
        super().__init__(message)
        self.row = row


def _per_value(
    values: Sequence[Any], arrow_type: pa.DataType, convert: Callable[[Any], Any], kusto_type: str
) -> pa.Array:
    out: list[Any] = []
    for i, v in enumerate(values):
        if v is None:
            out.append(None)
            continue
        try:
            out.append(convert(v))
        except (ValueError, TypeError, OverflowError, ArithmeticError):
            raise ColumnError(i, f"value {_show(v)} at row {i} is not a valid {kusto_type}") from None
    return pa.array(out, arrow_type)


def _show(v: Any) -> str:
    text = repr(v)
    return text if len(text) <= 60 else text[:57] + "..."


def _string(v: Any) -> str:
    if isinstance(v, str):
        return v
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int | float):
        return str(v)
    return orjson.dumps(v).decode("utf-8")


def _integer(bits: int) -> Callable[[Any], int]:
    low, high = -(2 ** (bits - 1)), 2 ** (bits - 1) - 1

    def convert(v: Any) -> int:
        if isinstance(v, bool):
            n = int(v)
        elif isinstance(v, int):
            n = v
        elif isinstance(v, float) and v.is_integer():
            n = int(v)
        elif isinstance(v, str):
            n = int(v.strip())
        else:
            raise TypeError
        if not low <= n <= high:
            raise OverflowError
        return n

    return convert


def _real(v: Any) -> float:
    if isinstance(v, bool) or not isinstance(v, int | float | str):
        raise TypeError
    return float(v)


_TRUE = {"true": True, "false": False, "1": True, "0": False}


def _bool(v: Any) -> bool:
    if isinstance(v, bool):
        return v
    if isinstance(v, int) and v in (0, 1):
        return bool(v)
    if isinstance(v, str) and v.strip().lower() in _TRUE:
        return _TRUE[v.strip().lower()]
    raise TypeError


def parse_datetime(v: Any) -> dt.datetime:
    if isinstance(v, dt.datetime):
        parsed = v
    elif isinstance(v, str):
        text = v.strip()
        if len(text) > 26 and "." in text:  # more than microseconds: trim the fraction (7 digits are common)
            head, _, tail = text.partition(".")
            digits = len(tail) - len(tail.lstrip("0123456789"))
            text = head + "." + tail[: min(digits, 6)] + tail[digits:]
        parsed = dt.datetime.fromisoformat(text)
    else:
        raise TypeError
    if parsed.tzinfo is not None:
        parsed = parsed.astimezone(dt.UTC).replace(tzinfo=None)
    return parsed


_NONE: type = type(None)
_STRS: frozenset[type] = frozenset({str, _NONE})
_BOOLS: frozenset[type] = frozenset({bool, _NONE})
_INTS: frozenset[type] = frozenset({int, _NONE})


def _only(values: Sequence[Any], kinds: frozenset[type]) -> bool:
    """Whether every value's exact type is one of `kinds` (bool is not int here); C-speed."""
    return set(map(type, values)) <= kinds


def _datetime_column(values: Sequence[Any]) -> pa.Array:
    if _only(values, _STRS):
        try:
            arr = pa.array(values, pa.string()).cast(pa.timestamp("ns", tz="UTC"))
            return arr.cast(pa.timestamp("us", tz="UTC"), safe=False).cast(pa.timestamp("us"))
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
            pass
    return _per_value(values, pa.timestamp("us"), parse_datetime, "datetime")


_TIMESPAN = re.compile(r"^(-)?(?:(\d+)\.)?(\d{1,2}):(\d{2}):(\d{2})(?:\.(\d{1,7}))?$")


TICKS_PER_SECOND = 10_000_000


def parse_timespan(v: Any) -> int:
    """A Kusto timespan (`[-][d.]hh:mm:ss[.fffffff]`, a timedelta, or seconds) as 100 ns ticks."""
    if isinstance(v, dt.timedelta):
        return (v.days * 86400 + v.seconds) * TICKS_PER_SECOND + v.microseconds * 10
    if isinstance(v, bool):
        raise TypeError
    if isinstance(v, int | float):
        return round(v * TICKS_PER_SECOND)
    if not isinstance(v, str):
        raise TypeError
    m = _TIMESPAN.match(v.strip())
    if not m:
        raise ValueError
    sign, days, hours, minutes, seconds, frac = m.groups()
    total = ((int(days or 0) * 24 + int(hours)) * 60 + int(minutes)) * 60 + int(seconds)
    ticks = total * TICKS_PER_SECOND + int((frac or "0").ljust(7, "0"))
    return -ticks if sign else ticks


def _guid(v: Any) -> str:
    if not isinstance(v, str):
        raise TypeError
    return str(uuid.UUID(v.strip()))


def _decimal(v: Any) -> str:
    if isinstance(v, bool) or not isinstance(v, int | float | str):
        raise TypeError
    d = decimal.Decimal(str(v).strip())
    if not d.is_finite():
        raise ValueError
    return str(d)


def _dynamic(v: Any) -> str:
    return orjson.dumps(v).decode("utf-8")


def _fast_or(
    arrow_type: pa.DataType, convert: Callable[[Any], Any], kusto_type: str
) -> Callable[[Sequence[Any]], pa.Array]:
    def build(values: Sequence[Any]) -> pa.Array:
        try:
            return pa.array(values, arrow_type)
        except (pa.ArrowInvalid, pa.ArrowTypeError, OverflowError, TypeError):
            return _per_value(values, arrow_type, convert, kusto_type)

    return build


def _strings(values: Sequence[Any]) -> pa.Array:
    try:
        return pa.array(values, pa.string())
    except (pa.ArrowInvalid, pa.ArrowTypeError):
        return _per_value(values, pa.string(), _string, "string")


def _bools(values: Sequence[Any]) -> pa.Array:
    if _only(values, _BOOLS):
        return pa.array(values, pa.bool_())
    return _per_value(values, pa.bool_(), _bool, "bool")


def _ints(bits: int, kusto_type: str) -> Callable[[Sequence[Any]], pa.Array]:
    arrow_type = pa.int32() if bits == 32 else pa.int64()
    convert = _integer(bits)

    def build(values: Sequence[Any]) -> pa.Array:
        if _only(values, _INTS):
            try:
                return pa.array(values, arrow_type)
            except (pa.ArrowInvalid, OverflowError):
                pass
        return _per_value(values, arrow_type, convert, kusto_type)

    return build


BUILDERS: dict[str, Callable[[Sequence[Any]], pa.Array]] = {
    "string": _strings,
    "int": _ints(32, "int"),
    "long": _ints(64, "long"),
    "real": _fast_or(pa.float64(), _real, "real"),
    "bool": _bools,
    "datetime": _datetime_column,
    "timespan": lambda values: _per_value(values, pa.int64(), parse_timespan, "timespan"),
    "guid": lambda values: _per_value(values, pa.string(), _guid, "guid"),
    "decimal": lambda values: _per_value(values, pa.string(), _decimal, "decimal"),
    "dynamic": lambda values: _per_value(values, pa.string(), _dynamic, "dynamic"),
}


def to_arrow(values: Sequence[Any] | pa.Array, kusto_type: str) -> pa.Array:
    if isinstance(values, pa.Array):  # already typed by the API (e.g. a parsed time-generated-field)
        return values
    return BUILDERS[kusto_type](values)


def infer_kusto_type(values: Sequence[Any]) -> str:
    """Kusto type of a new column from the first non-null value (agent path, custom tables)."""
    for v in values:
        if v is None:
            continue
        if isinstance(v, bool):
            return "bool"
        if isinstance(v, int):
            return "long"
        if isinstance(v, float):
            return "real"
        if isinstance(v, dict | list):
            return "dynamic"
        return "string"
    return "string"
