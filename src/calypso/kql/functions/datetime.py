"""Datetime and timespan functions: ago/now/bin/startof*/datetime_* with Kusto's conventions.

Invariant: the query's single `now` is a literal fixed at compile time; `bin` rounds down (toward
-inf) to a multiple of the step measured from the Unix epoch; weeks start on Sunday.
"""

from __future__ import annotations

from sqlglot import exp

from .. import ast as A
from ..binder import NUMERIC, Scope, Typed
from ..dialects.base import cast, fn, lit
from ..errors import KqlError
from ..scalars import widen_int
from .base import ScalarFn, agg_flag, args, literal_str

US_PER = {
    "day": 86_400_000_000,
    "hour": 3_600_000_000,
    "minute": 60_000_000,
    "second": 1_000_000,
    "millisecond": 1000,
    "microsecond": 1,
}
DAY_US = US_PER["day"]


def _now_sql(scope: Scope) -> exp.Expression:
    e = scope.ctx.dialect.datetime_literal(scope.ctx.now.replace(tzinfo=None))
    e.meta["now"] = True
    return e


def _now(call: A.Call, scope: Scope) -> Typed:
    vals = args(call, scope, 0, 1)
    if vals:
        return _shift(Typed(_now_sql(scope), "datetime"), vals[0], scope, 1)
    return Typed(_now_sql(scope), "datetime")


def _shift(dt: Typed, span: Typed, scope: Scope, sign: int) -> Typed:
    d = scope.ctx.dialect
    if dt.sql is not None and dt.sql.meta.get("now") and isinstance(span.sql, exp.Literal):
        from datetime import timedelta

        moved = scope.ctx.now.replace(tzinfo=None) + sign * timedelta(microseconds=int(span.sql.this) // 10)
        return Typed(d.datetime_literal(moved), "datetime")
    delta = d.int_div(span.sql, lit(10))
    node = exp.Add if sign > 0 else exp.Sub
    return Typed(
        d.from_epoch_us(node(this=d.epoch_us(dt.sql), expression=delta)), "datetime", dt.is_agg or span.is_agg
    )


def _ago(call: A.Call, scope: Scope) -> Typed:
    (span,) = args(call, scope, 1)
    return _shift(Typed(_now_sql(scope), "datetime"), span, scope, -1)


def bin_sql(v: Typed, step: Typed, scope: Scope, at: Typed | None = None) -> Typed:
    d = scope.ctx.dialect
    if v.type == "datetime":
        step_us = (
            lit(int(step.sql.this) // 10)
            if isinstance(step.sql, exp.Literal)
            else d.int_div(step.sql, lit(10))
        )
        base = d.epoch_us(v.sql)
        origin = d.epoch_us(at.sql) if at is not None else None
        if origin is not None:
            base = exp.Sub(this=base, expression=origin)
        binned: exp.Expression = exp.Mul(this=d.floor_div(base, step_us), expression=step_us)
        if origin is not None:
            binned = exp.Add(this=binned, expression=origin)
        return Typed(d.from_epoch_us(binned), "datetime", v.is_agg)
    if v.type in ("timespan", "int", "long") and step.type in ("timespan", "int", "long"):
        v = widen_int(v)
        base = v.sql if at is None else exp.Sub(this=v.sql, expression=at.sql)
        res: exp.Expression = exp.Mul(this=d.floor_div(base, step.sql), expression=step.sql)
        if at is not None:
            res = exp.Add(this=res, expression=at.sql)
        return Typed(res, v.type, v.is_agg)
    if v.type in NUMERIC:
        base = (
            cast(v.sql, "DOUBLE")
            if at is None
            else exp.Paren(this=exp.Sub(this=cast(v.sql, "DOUBLE"), expression=at.sql))
        )
        res = exp.Mul(this=fn("floor", exp.Div(this=base, expression=step.sql)), expression=step.sql)
        if at is not None:
            res = exp.Add(this=res, expression=at.sql)
        return Typed(res, "real", v.is_agg)
    raise KqlError("TypeMismatch", f"bin() cannot round a {v.type} value", 1, 1)


def _bin(call: A.Call, scope: Scope) -> Typed:
    v, step = args(call, scope, 2)
    try:
        return bin_sql(v, step, scope)
    except KqlError as e:
        raise KqlError("TypeMismatch", e.message, *call.pos) from None


def _floor(call: A.Call, scope: Scope) -> Typed:
    if len(call.args) == 1:
        (v,) = args(call, scope, 1)
        v = widen_int(v)
        return Typed(fn("floor", v.sql), v.type, v.is_agg)
    return _bin(call, scope)


def _bin_at(call: A.Call, scope: Scope) -> Typed:
    v, step, at = args(call, scope, 3)
    return bin_sql(v, step, scope, at)


def _start_of(unit: str, end: bool = False) -> ScalarFn:
    def f(call: A.Call, scope: Scope) -> Typed:
        vals = args(call, scope, 1, 2)
        v = vals[0]
        d = scope.ctx.dialect
        offset = vals[1].sql if len(vals) > 1 else None
        if unit in ("day", "week"):
            us = d.epoch_us(v.sql)
            if unit == "day":
                start: exp.Expression = exp.Mul(this=d.floor_div(us, lit(DAY_US)), expression=lit(DAY_US))
                if offset is not None:
                    start = exp.Add(this=start, expression=exp.Mul(this=offset, expression=lit(DAY_US)))
                step = DAY_US
            else:  # 1970-01-01 was a Thursday: shift by 4 days so weeks start on Sunday
                shift = 4 * DAY_US
                start = exp.Sub(
                    this=exp.Mul(
                        this=d.floor_div(exp.Add(this=us, expression=lit(shift)), lit(7 * DAY_US)),
                        expression=lit(7 * DAY_US),
                    ),
                    expression=lit(shift),
                )
                if offset is not None:
                    start = exp.Add(this=start, expression=exp.Mul(this=offset, expression=lit(7 * DAY_US)))
                step = 7 * DAY_US
            if end:
                start = exp.Add(this=start, expression=lit(step - 1))
            return Typed(d.from_epoch_us(start), "datetime", v.is_agg)
        res = d.trunc(unit, v.sql)
        months = {"month": 1, "year": 12}[unit]
        if offset is not None:
            res = d.add_months(res, exp.Mul(this=offset, expression=lit(months)))
        if end:
            nxt = d.add_months(res, lit(months))
            res = d.from_epoch_us(exp.Sub(this=d.epoch_us(nxt), expression=lit(1)))
        return Typed(res, "datetime", v.is_agg)

    return f


PARTS = {
    "year": "year",
    "quarter": "quarter",
    "month": "month",
    "week_of_year": "week",
    "day": "day",
    "dayofyear": "doy",
    "hour": "hour",
    "minute": "minute",
    "second": "second",
}


def _part(part: str, out: str = "int") -> ScalarFn:
    def f(call: A.Call, scope: Scope) -> Typed:
        (v,) = args(call, scope, 1)
        return Typed(cast(scope.ctx.dialect.date_part(part, v.sql), "INTEGER"), out, v.is_agg)

    return f


def _datetime_part(call: A.Call, scope: Scope) -> Typed:
    _, v = args(call, scope, 2)
    name = literal_str(call, 0).lower()
    if name not in PARTS:
        raise KqlError("UnsupportedFunction", f"datetime_part '{name}' is not supported", *call.pos)
    return Typed(cast(scope.ctx.dialect.date_part(PARTS[name], v.sql), "INTEGER"), "int", v.is_agg)


def _dayofweek(call: A.Call, scope: Scope) -> Typed:
    (v,) = args(call, scope, 1)
    d = scope.ctx.dialect
    days = d.floor_div(d.epoch_us(v.sql), lit(DAY_US))
    dow = exp.Mod(
        this=exp.Paren(
            this=exp.Add(
                this=exp.Mod(this=exp.Paren(this=exp.Add(this=days, expression=lit(4))), expression=lit(7)),
                expression=lit(7),
            )
        ),
        expression=lit(7),
    )
    return Typed(exp.Mul(this=dow, expression=lit(864_000_000_000)), "timespan", v.is_agg)


_SPAN_TICKS = {
    "year": None,
    "quarter": None,
    "month": None,
    "week": 7 * 864_000_000_000,
    "day": 864_000_000_000,
    "hour": 36_000_000_000,
    "minute": 600_000_000,
    "second": 10_000_000,
    "millisecond": 10_000,
    "microsecond": 10,
}


def _datetime_add(call: A.Call, scope: Scope) -> Typed:
    _, n, v = args(call, scope, 3)
    unit = literal_str(call, 0).lower()
    d = scope.ctx.dialect
    if unit not in _SPAN_TICKS:
        raise KqlError("UnsupportedFunction", f"datetime_add unit '{unit}' is not supported", *call.pos)
    ticks = _SPAN_TICKS[unit]
    if ticks is None:
        months = {"year": 12, "quarter": 3, "month": 1}[unit]
        return Typed(
            d.add_months(v.sql, exp.Mul(this=n.sql, expression=lit(months))), "datetime", agg_flag(n, v)
        )
    return _shift(v, Typed(exp.Mul(this=n.sql, expression=lit(ticks)), "timespan"), scope, 1)


def _datetime_diff(call: A.Call, scope: Scope) -> Typed:
    _, a, b = args(call, scope, 3)
    unit = literal_str(call, 0).lower()
    d = scope.ctx.dialect
    if unit in ("year", "quarter", "month"):
        ym_a = exp.Add(
            this=exp.Mul(this=d.date_part("year", a.sql), expression=lit(12)),
            expression=d.date_part("month", a.sql),
        )
        ym_b = exp.Add(
            this=exp.Mul(this=d.date_part("year", b.sql), expression=lit(12)),
            expression=d.date_part("month", b.sql),
        )
        diff: exp.Expression = exp.Sub(this=ym_a, expression=ym_b)
        if unit != "month":
            diff = d.floor_div(diff, lit({"year": 12, "quarter": 3}[unit]))
        return Typed(cast(diff, "BIGINT"), "long", agg_flag(a, b))
    if unit not in US_PER and unit != "week":
        raise KqlError("UnsupportedFunction", f"datetime_diff unit '{unit}' is not supported", *call.pos)
    step = 7 * DAY_US if unit == "week" else US_PER[unit]
    res = exp.Sub(
        this=d.floor_div(d.epoch_us(a.sql), lit(step)), expression=d.floor_div(d.epoch_us(b.sql), lit(step))
    )
    return Typed(res, "long", agg_flag(a, b))


def _make_datetime(call: A.Call, scope: Scope) -> Typed:
    vals = args(call, scope, 3, 7)
    d = scope.ctx.dialect
    base = d.trunc("year", d.datetime_literal(__import__("datetime").datetime(2000, 1, 1)))
    months = exp.Add(
        this=exp.Mul(this=exp.Sub(this=vals[0].sql, expression=lit(2000)), expression=lit(12)),
        expression=exp.Sub(this=vals[1].sql, expression=lit(1)),
    )
    res = d.add_months(base, months)
    us: exp.Expression = exp.Mul(this=exp.Sub(this=vals[2].sql, expression=lit(1)), expression=lit(DAY_US))
    for v, unit in zip(vals[3:6], ("hour", "minute", "second"), strict=False):
        us = exp.Add(this=us, expression=cast(exp.Mul(this=v.sql, expression=lit(US_PER[unit])), "BIGINT"))
    return Typed(d.from_epoch_us(exp.Add(this=d.epoch_us(res), expression=us)), "datetime", agg_flag(*vals))


_TICKS = {"day": 864_000_000_000, "hour": 36_000_000_000, "minute": 600_000_000, "second": 10_000_000}


def _make_timespan(call: A.Call, scope: Scope) -> Typed:
    """(hour, minute), (hour, minute, second) or (day, hour, minute, second); null unless hour is
    0-23, minute 0-59 and second (a real) 0 to 59.9999999, as documented."""
    vals = args(call, scope, 2, 4)
    for v, a in zip(vals, call.args, strict=True):
        if v.type not in NUMERIC:
            raise KqlError("TypeMismatch", f"make_timespan() expects numbers, got {v.type}", *a.pos)
    names = {2: ("hour", "minute"), 3: ("hour", "minute", "second"), 4: ("day", "hour", "minute", "second")}
    parts = dict(zip(names[len(vals)], vals, strict=True))
    ticks: exp.Expression = lit(0)
    checks: list[exp.Expression] = []
    for unit, v in parts.items():
        if unit == "second":
            value = cast(
                fn("round", exp.Mul(this=cast(v.sql, "DOUBLE"), expression=lit(_TICKS[unit]))), "BIGINT"
            )
            checks.append(exp.GTE(this=v.sql, expression=lit(0)))
            checks.append(exp.LT(this=v.sql, expression=lit(60)))
        else:
            value = exp.Mul(this=cast(v.sql, "BIGINT"), expression=lit(_TICKS[unit]))
            if unit != "day":
                top = 23 if unit == "hour" else 59
                checks.append(exp.Between(this=v.sql, low=lit(0), high=lit(top)))
        ticks = exp.Add(this=ticks, expression=value)
    valid = checks[0]
    for c in checks[1:]:
        valid = exp.And(this=valid, expression=c)
    return Typed(exp.If(this=valid, true=ticks, false=exp.Null()), "timespan", agg_flag(*vals))


def _unixtime(scale: int) -> ScalarFn:
    def f(call: A.Call, scope: Scope) -> Typed:
        (v,) = args(call, scope, 1)
        us = cast(exp.Mul(this=v.sql, expression=lit(scale)), "BIGINT")
        return Typed(scope.ctx.dialect.from_epoch_us(us), "datetime", v.is_agg)

    return f


def _to_unixtime(scale: int) -> ScalarFn:
    def f(call: A.Call, scope: Scope) -> Typed:
        (v,) = args(call, scope, 1)
        return Typed(
            scope.ctx.dialect.floor_div(scope.ctx.dialect.epoch_us(v.sql), lit(scale)), "long", v.is_agg
        )

    return f


def format_timespan_sql(ticks: exp.Expression, scope: Scope) -> exp.Expression:
    """`[-][d.]hh:mm:ss[.fffffff]` for a ticks value, built in SQL."""
    d = scope.ctx.dialect
    a = fn("abs", ticks)

    def two(x: exp.Expression) -> exp.Expression:
        return fn("lpad", d.to_string(x, "long"), lit(2), lit("0"))

    days = d.int_div(a, lit(864_000_000_000))
    hours = exp.Mod(this=d.int_div(a, lit(36_000_000_000)), expression=lit(24))
    mins = exp.Mod(this=d.int_div(a, lit(600_000_000)), expression=lit(60))
    secs = exp.Mod(this=d.int_div(a, lit(10_000_000)), expression=lit(60))
    frac = exp.Mod(this=a, expression=lit(10_000_000))
    sign = exp.If(this=exp.LT(this=ticks, expression=lit(0)), true=lit("-"), false=lit(""))
    day_part = exp.If(
        this=exp.GT(this=days, expression=lit(0)),
        true=d.concat(d.to_string(days, "long"), lit(".")),
        false=lit(""),
    )
    frac_part = exp.If(
        this=exp.GT(this=frac, expression=lit(0)),
        true=d.concat(lit("."), fn("lpad", d.to_string(frac, "long"), lit(7), lit("0"))),
        false=lit(""),
    )
    return d.concat(sign, day_part, two(hours), lit(":"), two(mins), lit(":"), two(secs), frac_part)


def _format_datetime(call: A.Call, scope: Scope) -> Typed:
    v, _ = args(call, scope, 2)
    fmt = literal_str(call, 1)
    d = scope.ctx.dialect
    tokens = [
        ("yyyy", "year", 4),
        ("MM", "month", 2),
        ("dd", "day", 2),
        ("HH", "hour", 2),
        ("mm", "minute", 2),
        ("ss", "second", 2),
    ]
    parts: list[exp.Expression] = []
    i = 0
    while i < len(fmt):
        for tok, part, width in tokens:
            if fmt.startswith(tok, i):
                parts.append(fn("lpad", d.to_string(d.date_part(part, v.sql), "long"), lit(width), lit("0")))
                i += len(tok)
                break
        else:
            if fmt[i].isalpha():
                raise KqlError(
                    "UnsupportedFunction", f"format_datetime specifier '{fmt[i]}' is not supported", *call.pos
                )
            parts.append(lit(fmt[i]))
            i += 1
    return Typed(d.concat(*parts) if len(parts) > 1 else parts[0], "string", v.is_agg)


_SPAN_DELIMITERS = frozenset(" /-:,._[]")
# specifier letter -> (ticks per unit, modulo, longest run); f/F (fractions) are handled apart
_SPAN_PARTS = {
    "d": (864_000_000_000, None, 8),
    "h": (36_000_000_000, 24, 2),
    "H": (36_000_000_000, 24, 2),
    "m": (600_000_000, 60, 2),
    "s": (10_000_000, 60, 2),
}


def _span_element(letter: str, width: int, ticks: exp.Expression, scope: Scope) -> exp.Expression:
    d = scope.ctx.dialect
    if letter in ("f", "F"):
        digits = d.substring(
            fn(
                "lpad", d.to_string(exp.Mod(this=ticks, expression=lit(10_000_000)), "long"), lit(7), lit("0")
            ),
            lit(0),
            lit(width),
        )
        # F: the same digits without trailing zeros, nothing when they are all zero
        return digits if letter == "f" else d.regex_replace(digits, lit("0+$"), lit(""))
    unit, modulo, _ = _SPAN_PARTS[letter]
    value: exp.Expression = d.int_div(ticks, lit(unit))
    if modulo is not None:
        value = exp.Mod(this=value, expression=lit(modulo))
    text = d.to_string(value, "long")
    if width == 1:
        return text
    width_sql = cast(fn("greatest", lit(width), d.str_length(text.copy())), "INTEGER")
    return fn("lpad", text, width_sql, lit("0"))


def _format_timespan_fn(call: A.Call, scope: Scope) -> Typed:
    """Kusto's custom format: d..dddddddd, h/hh (or H/HH), m/mm, s/ss, f..fffffff, F..FFFFFFF and
    the delimiters ` /-:,._[]`; a negative timespan is formatted by its absolute value after a `-`
    (Kusto documents no sign element); null gives "" (Kusto strings are never null)."""
    v, _ = args(call, scope, 2)
    fmt = literal_str(call, 1)
    d = scope.ctx.dialect
    ticks = fn("abs", v.sql)
    parts: list[exp.Expression] = [
        exp.If(this=exp.LT(this=v.sql, expression=lit(0)), true=lit("-"), false=lit(""))
    ]
    i = 0
    while i < len(fmt):
        c = fmt[i]
        run = len(fmt[i:]) - len(fmt[i:].lstrip(c))
        if c in _SPAN_DELIMITERS:
            parts.append(lit(c))
            i += 1
            continue
        longest = 7 if c in ("f", "F") else _SPAN_PARTS[c][2] if c in _SPAN_PARTS else 0
        if run > longest:
            raise KqlError(
                "TypeMismatch", f"format_timespan: '{c * run}' is not a supported format element", *call.pos
            )
        parts.append(_span_element(c, run, ticks, scope))
        i += run
    return Typed(fn("coalesce", d.concat(*parts), lit("")), "string", v.is_agg)


DATETIME: dict[str, ScalarFn] = {
    "now": _now,
    "ago": _ago,
    "bin": _bin,
    "floor": _floor,
    "bin_at": _bin_at,
    "startofday": _start_of("day"),
    "startofweek": _start_of("week"),
    "startofmonth": _start_of("month"),
    "startofyear": _start_of("year"),
    "endofday": _start_of("day", end=True),
    "endofweek": _start_of("week", end=True),
    "endofmonth": _start_of("month", end=True),
    "endofyear": _start_of("year", end=True),
    "datetime_add": _datetime_add,
    "datetime_diff": _datetime_diff,
    "datetime_part": _datetime_part,
    "dayofweek": _dayofweek,
    "dayofmonth": _part("day"),
    "dayofyear": _part("doy"),
    "monthofyear": _part("month"),
    "getmonth": _part("month"),
    "getyear": _part("year"),
    "hourofday": _part("hour"),
    "week_of_year": _part("week"),
    "make_datetime": _make_datetime,
    "make_timespan": _make_timespan,
    "unixtime_seconds_todatetime": _unixtime(1_000_000),
    "unixtime_milliseconds_todatetime": _unixtime(1_000),
    "unixtime_microseconds_todatetime": _unixtime(1),
    "format_datetime": _format_datetime,
    "format_timespan": _format_timespan_fn,
}
