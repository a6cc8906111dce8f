"""Engine spellings the round-3 operators share: index series, ordered JSON lists, axis numbers.

Invariant: every helper dispatches on the dialect name through a dict; an engine without an entry
raises `KqlError("UnsupportedOperator")` naming the operator and the engine, never a stack trace.
"""

from __future__ import annotations

from collections.abc import Callable

from sqlglot import exp

from ..binder import Context, Typed, alias
from ..dialects.base import Dialect, cast, fn, lit
from ..errors import KqlError

TICKS_PER_US = 10


def _series_duckdb(count: exp.Expression) -> exp.Expression:
    return fn("unnest", fn("generate_series", lit(0), exp.Sub(this=cast(count, "BIGINT"), expression=lit(1))))


def _series_clickhouse(count: exp.Expression) -> exp.Expression:
    return fn("arrayJoin", fn("range", fn("toInt64", fn("greatest", fn("ifNull", count, lit(0)), lit(0)))))


def _olist_duckdb(value: exp.Expression, key: exp.Expression) -> exp.Expression:
    ordered = exp.Order(this=value, expressions=[exp.Ordered(this=key)])
    return fn("coalesce", fn("to_json", fn("list", ordered)), cast(lit("[]"), "JSON"))


def _olist_clickhouse(value: exp.Expression, key: exp.Expression) -> exp.Expression:
    # a null value is JSON's null: arrayStringConcat would skip it (make-series default=double(null))
    value = fn("ifNull", value, lit("null"))
    pairs = fn("arraySort", fn("groupArray", exp.Tuple(expressions=[key, value])))
    return fn(
        "concat", lit("["), fn("arrayStringConcat", fn("tupleElement", pairs, lit(2)), lit(",")), lit("]")
    )


_SERIES: dict[str, Callable[[exp.Expression], exp.Expression]] = {
    "duckdb": _series_duckdb,
    "clickhouse": _series_clickhouse,
}
_OLIST: dict[str, Callable[[exp.Expression, exp.Expression], exp.Expression]] = {
    "duckdb": _olist_duckdb,
    "clickhouse": _olist_clickhouse,
}


def _pick(
    table: dict[str, Callable[..., exp.Expression]], d: Dialect, what: str
) -> Callable[..., exp.Expression]:
    f = table.get(d.name)
    if f is None:
        raise KqlError("UnsupportedOperator", f"{what} is not supported by the {d.name} dialect")
    return f


def index_series(ctx: Context, count: exp.Expression, name: str = "__i") -> exp.Select:
    """SELECT of one BIGINT column `name` holding 0 .. count-1 (no rows when count <= 0 or null)."""
    return exp.select(alias(_pick(_SERIES, ctx.dialect, "range")(count), name))


def ordered_json_list(ctx: Context, value_json: exp.Expression, key: exp.Expression) -> exp.Expression:
    """Aggregate: the group's JSON values as one JSON array ordered by `key`."""
    return _pick(_OLIST, ctx.dialect, "make-series")(value_json, key)


def to_number(ctx: Context, v: Typed) -> exp.Expression:
    """An axis value as a number: datetimes become ticks, other types stay as they are."""
    if v.type == "datetime":
        return exp.Mul(this=ctx.dialect.epoch_us(v.sql), expression=lit(TICKS_PER_US))
    return v.sql


def from_number(ctx: Context, e: exp.Expression, kusto_type: str) -> exp.Expression:
    """Inverse of `to_number` for an axis of `kusto_type`."""
    if kusto_type == "datetime":
        return ctx.dialect.from_epoch_us(ctx.dialect.int_div(e, lit(TICKS_PER_US)))
    return e
