"""`extend (a, b, c) = f(...)` and `project (a, b) = f(...)`: one call, several named columns.

Invariant (Kusto semantics): only functions that return a tuple may be assigned to a parenthesised
name list; the names take the function's outputs in order (fewer names keep the first outputs, more
names than outputs is an error). `TUPLE_FUNCTIONS` maps a function name to its output names and a
builder of each output; a known tuple function without a builder (series_decompose, ...) raises
`UnsupportedFunction` with its name, and any other function raises `TypeMismatch`. Items with a
single name go to the ordinary extend/project planners unchanged.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from sqlglot import exp

from .. import ast as A
from ..binder import Context, Rel, Scope, Typed
from ..dialects.base import fn, lit
from ..errors import KqlError
from ..functions.series_fit import (
    ANOMALY_PARTS,
    FIT_LINE_PARTS,
    series_decompose_anomalies,
    series_fit_line,
)
from ..planner import OPERATORS
from ..scalars import NODES, translate


@dataclass(frozen=True)
class TupleElement(A.Expr):
    """Output `index` of the tuple function call `call`."""

    call: A.Call
    index: int


# ---- series_stats --------------------------------------------------------------------------------
def _doubles_duckdb(e: exp.Expression) -> exp.Expression:
    return exp.TryCast(this=exp.cast(e, "JSON"), to=exp.DataType.build("DOUBLE[]"))


def _doubles_clickhouse(e: exp.Expression) -> exp.Expression:
    return fn("JSONExtract", fn("ifNull", e, lit("[]")), lit("Array(Nullable(Float64))"))


def _stats_duckdb(a: exp.Expression, part: str) -> exp.Expression:
    pos = {"min_idx": "list_min", "max_idx": "list_max"}
    if part in pos:
        return exp.Sub(this=fn("list_position", a, fn(pos[part], a)), expression=lit(1))
    name = {"min": "list_min", "max": "list_max", "avg": "list_avg"}.get(part)
    if name:
        return fn(name, a)
    return fn("list_aggregate", a, lit({"stdev": "stddev_samp", "variance": "var_samp"}[part]))


def _stats_clickhouse(a: exp.Expression, part: str) -> exp.Expression:
    a = fn("arrayFilter", exp.Lambda(this=fn("isNotNull", exp.column("x")), expressions=[exp.column("x")]), a)
    pos = {"min_idx": "arrayMin", "max_idx": "arrayMax"}
    if part in pos:
        return exp.Sub(this=fn("indexOf", a, fn(pos[part], a)), expression=lit(1))
    agg = {"min": "min", "max": "max", "avg": "avg", "stdev": "stddevSamp", "variance": "varSamp"}[part]
    return fn("arrayReduce", lit(agg), a)


_SERIES_STATS: dict[str, tuple[Callable[..., exp.Expression], Callable[..., exp.Expression]]] = {
    "duckdb": (_doubles_duckdb, _stats_duckdb),
    "clickhouse": (_doubles_clickhouse, _stats_clickhouse),
}
_STATS_PARTS = (
    ("min", "real"),
    ("min_idx", "long"),
    ("max", "real"),
    ("max_idx", "long"),
    ("avg", "real"),
    ("stdev", "real"),
    ("variance", "real"),
)


def _series_stats(call: A.Call, scope: Scope, index: int) -> Typed:
    if len(call.args) not in (1, 2):
        raise KqlError("SyntaxError", "series_stats() expects a series and an optional flag", *call.pos)
    pair = _SERIES_STATS.get(scope.ctx.dialect.name)
    if pair is None:
        raise KqlError("UnsupportedFunction", f"series_stats is not supported by {scope.ctx.dialect.name}")
    arr = pair[0](translate(call.args[0], scope).sql)
    part, kusto_type = _STATS_PARTS[index]
    value = pair[1](arr, part)
    if kusto_type == "long":
        value = exp.cast(value, "BIGINT")
    return Typed(value, kusto_type)


@dataclass(frozen=True)
class TupleFunction:
    outputs: tuple[str, ...]
    build: Callable[[A.Call, Scope, int], Typed] | None


TUPLE_FUNCTIONS: dict[str, TupleFunction] = {
    "series_stats": TupleFunction(tuple(n for n, _ in _STATS_PARTS), _series_stats),
    "series_fit_line": TupleFunction(tuple(n for n, _ in FIT_LINE_PARTS), series_fit_line),
    "series_fit_2lines": TupleFunction(
        (
            "rsquare",
            "split_idx",
            "variance",
            "rvariance",
            "line_fit",
            "right_rsquare",
            "right_slope",
            "right_interception",
            "right_variance",
            "right_rvariance",
            "left_rsquare",
            "left_slope",
            "left_interception",
            "left_variance",
            "left_rvariance",
        ),
        None,
    ),
    "series_decompose": TupleFunction(("baseline", "seasonal", "trend", "residual"), None),
    "series_decompose_anomalies": TupleFunction(
        tuple(n for n, _ in ANOMALY_PARTS), series_decompose_anomalies
    ),
    "series_decompose_forecast": TupleFunction(
        ("forecast", "baseline", "seasonal", "trend", "residual"), None
    ),
    "series_periods_detect": TupleFunction(("periods", "scores"), None),
    "series_periods_validate": TupleFunction(("periods", "scores"), None),
    "series_fit_poly": TupleFunction(("rsquare", "coefficients", "variance", "rvariance", "poly_fit"), None),
}


def _tuple_element(e: A.Expr, scope: Scope) -> Typed:
    assert isinstance(e, TupleElement)
    f = TUPLE_FUNCTIONS[e.call.name]
    if f.build is None:
        raise KqlError("UnsupportedFunction", f"The function '{e.call.name}' is not supported", *e.call.pos)
    return f.build(e.call, scope, e.index)


def split_items(items: tuple[A.Assign, ...]) -> tuple[A.Assign, ...]:
    """Each `(a, b) = f(x)` item as `a = f(x)[0], b = f(x)[1]`; other items unchanged."""
    out: list[A.Assign] = []
    for item in items:
        if len(item.names) <= 1:
            out.append(item)
            continue
        call = item.expr
        if not isinstance(call, A.Call) or call.name not in TUPLE_FUNCTIONS:
            what = call.name if isinstance(call, A.Call) else "this expression"
            raise KqlError(
                "TypeMismatch",
                f"Several columns can only be assigned from a function returning a tuple; '{what}' "
                f"returns one value (tuple functions: {', '.join(sorted(TUPLE_FUNCTIONS))})",
                *call.pos,
            )
        outputs = TUPLE_FUNCTIONS[call.name].outputs
        if len(item.names) > len(outputs):
            raise KqlError(
                "TypeMismatch",
                f"'{call.name}' returns {len(outputs)} columns ({', '.join(outputs)}) but "
                f"{len(item.names)} names were given",
                *call.pos,
            )
        out.extend(A.Assign((n,), TupleElement(call.pos, call, i)) for i, n in enumerate(item.names))
    return tuple(out)


_plain_extend = OPERATORS[A.Extend]
_plain_project = OPERATORS[A.Project]


def _extend(ctx: Context, rel: Rel, op: A.Operator) -> Rel:
    assert isinstance(op, A.Extend)
    return _plain_extend(ctx, rel, A.Extend(op.pos, split_items(op.items)))


def _project(ctx: Context, rel: Rel, op: A.Operator) -> Rel:
    assert isinstance(op, A.Project)
    return _plain_project(ctx, rel, A.Project(op.pos, split_items(op.items)))


NODES[TupleElement] = _tuple_element
OPERATORS[A.Extend] = _extend
OPERATORS[A.Project] = _project
