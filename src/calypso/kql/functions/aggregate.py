"""Aggregate functions for summarize (one registry entry each); `arg_max`/`arg_min` live in the planner.

Invariant: aggregates skip nulls like Kusto (except `make_list_with_nulls`, which keeps them as JSON
nulls); `dcount` is exact (no HyperLogLog error, and `hll` sketches are exact too, see hll.py);
`count()` and `dcount` are `long`; `sum` of ints is `long`; `stdev*`/`variance*` are `real`;
`make_list`/`make_set` return JSON arrays ([] for no values).
"""

from __future__ import annotations

from collections.abc import Callable

from sqlglot import exp

from .. import ast as A
from ..binder import Scope, Typed
from ..dialects.base import fn, lit
from ..errors import KqlError

AggFn = Callable[[A.Call, Scope], Typed]


def _row_args(call: A.Call, scope: Scope, lo: int, hi: int | None = None) -> list[Typed]:
    from ..binder import Scope as S
    from .base import args

    inner = S(scope.ctx, scope.columns, scope.table, scope.sides, True, scope.locals)
    vals = args(call, inner, lo, hi)
    for v, a in zip(vals, call.args, strict=False):
        if v.is_agg:
            raise KqlError("TypeMismatch", "Aggregates cannot be nested", *a.pos)
    return vals


def _count(call: A.Call, scope: Scope) -> Typed:
    vals = _row_args(call, scope, 0, 1)
    if vals:
        return Typed(exp.Count(this=vals[0].sql), "long", True)
    return Typed(exp.Count(this=exp.Star()), "long", True)


def _countif(call: A.Call, scope: Scope) -> Typed:
    (c,) = _row_args(call, scope, 1)
    return Typed(fn("coalesce", scope.ctx.dialect.count_if(c.sql), lit(0)), "long", True)


def _dcount(call: A.Call, scope: Scope) -> Typed:
    vals = _row_args(call, scope, 1, 2)
    return Typed(exp.Count(this=exp.Distinct(expressions=[vals[0].sql])), "long", True)


def _dcountif(call: A.Call, scope: Scope) -> Typed:
    vals = _row_args(call, scope, 2, 3)
    v = exp.If(this=vals[1].sql, true=vals[0].sql, false=exp.Null())
    return Typed(exp.Count(this=exp.Distinct(expressions=[v])), "long", True)


def _sum_type(t: str) -> str:
    return "long" if t in ("int", "long", "bool") else t


def _simple(name: str, out: Callable[[str], str], conditional: bool = False) -> AggFn:
    def f(call: A.Call, scope: Scope) -> Typed:
        vals = _row_args(call, scope, 2 if conditional else 1)
        v = vals[0].sql
        if conditional:
            v = exp.If(this=vals[1].sql, true=v, false=exp.Null())
        return Typed(fn(name, v), out(vals[0].type), True)

    return f


def _same(t: str) -> str:
    return t


def _real(t: str) -> str:
    return "real"


def _make_list(distinct: bool, conditional: bool = False) -> AggFn:
    def f(call: A.Call, scope: Scope) -> Typed:
        n = 2 if conditional else 1
        vals = _row_args(call, scope, n, n + 1)
        v = vals[0].sql
        if conditional:
            v = exp.If(this=vals[1].sql, true=v, false=exp.Null())
        return Typed(scope.ctx.dialect.make_list(v, vals[0].type, distinct), "dynamic", True)

    return f


def _dialect_agg(name: str, out: Callable[[str], str]) -> AggFn:
    def f(call: A.Call, scope: Scope) -> Typed:
        (v,) = _row_args(call, scope, 1)
        return Typed(scope.ctx.dialect.agg(name, [v.sql]), out(v.type), True)

    return f


def _dialect_agg_if(name: str, out: Callable[[str], str]) -> AggFn:
    def f(call: A.Call, scope: Scope) -> Typed:
        v, c = _row_args(call, scope, 2)
        return Typed(
            scope.ctx.dialect.agg(name, [exp.If(this=c.sql, true=v.sql, false=exp.Null())]), out(v.type), True
        )

    return f


def _take_anyif(call: A.Call, scope: Scope) -> Typed:
    v, c = _row_args(call, scope, 2)
    value = v.sql
    if v.type == "string":  # Kusto tries to return a non-empty value; "" when none qualifies
        value = fn("nullif", value, lit(""))
    picked = scope.ctx.dialect.agg("any", [exp.If(this=c.sql, true=value, false=exp.Null())])
    if v.type == "string":
        picked = fn("coalesce", picked, lit(""))
    return Typed(picked, v.type, True)


def _make_list_with_nulls(call: A.Call, scope: Scope) -> Typed:
    (v,) = _row_args(call, scope, 1)
    d = scope.ctx.dialect
    if d.name == "clickhouse":  # groupArray skips nulls: collect JSON texts, null as 'null'
        items = fn("groupArray", fn("ifNull", d.to_json(v.sql, v.type), lit("null")))
        arr = d.concat(lit("["), fn("arrayStringConcat", items, lit(",")), lit("]"))
        return Typed(arr, "dynamic", True)
    return Typed(fn("coalesce", fn("to_json", fn("list", v.sql)), d.json_literal("[]")), "dynamic", True)


def _percentile(call: A.Call, scope: Scope) -> Typed:
    v, p = _row_args(call, scope, 2)
    pct = p.sql
    if isinstance(pct, exp.Literal):
        pct = lit(float(pct.this) / 100.0)
    else:
        pct = exp.Div(this=pct, expression=lit(100.0))
    return Typed(scope.ctx.dialect.agg("percentile", [v.sql, pct]), v.type, True)


AGGREGATES: dict[str, AggFn] = {
    "count": _count,
    "countif": _countif,
    "dcount": _dcount,
    "dcountif": _dcountif,
    "sum": _simple("sum", _sum_type),
    "sumif": _simple("sum", _sum_type, True),
    "avg": _simple("avg", _real),
    "avgif": _simple("avg", _real, True),
    "min": _simple("min", _same),
    "max": _simple("max", _same),
    "minif": _simple("min", _same, True),
    "maxif": _simple("max", _same, True),
    "make_list": _make_list(False),
    "makelist": _make_list(False),
    "make_set": _make_list(True),
    "makeset": _make_list(True),
    "make_list_if": _make_list(False, True),
    "make_set_if": _make_list(True, True),
    "percentile": _percentile,
    "stdev": _dialect_agg("stdev", _real),
    "stdevp": _dialect_agg("stdevp", _real),
    "variance": _dialect_agg("variance", _real),
    "variancep": _dialect_agg("variancep", _real),
    "stdevif": _dialect_agg_if("stdev", _real),
    "varianceif": _dialect_agg_if("variance", _real),
    "take_anyif": _take_anyif,
    "anyif": _take_anyif,  # Kusto's deprecated alias, named anyif_<expr>
    "make_list_with_nulls": _make_list_with_nulls,
    "any": _dialect_agg("any", _same),
    "take_any": _dialect_agg("any", _same),
    "count_distinct": _dcount,
}

from .hll import HLL_AGGREGATES  # noqa: E402
from .make_bag import MAKE_BAG_AGGREGATES  # noqa: E402
from .percentiles import PERCENTILE_AGGREGATES  # noqa: E402
from .percentilew import PERCENTILEW_AGGREGATES  # noqa: E402

AGGREGATES.update(PERCENTILE_AGGREGATES)
AGGREGATES.update(HLL_AGGREGATES)
AGGREGATES.update(MAKE_BAG_AGGREGATES)
AGGREGATES.update(PERCENTILEW_AGGREGATES)
