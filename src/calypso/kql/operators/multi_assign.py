"""`extend (a, b, c) = f(...)` and `project (a, b) = f(...)`: one call, several named columns.

Invariant (Kusto semantics): only functions that return a tuple may be assigned to a parenthesised
name list; the names take the function's outputs in order (fewer names keep the first outputs, more
names than outputs is an error). `TUPLE_FUNCTIONS` maps a function name to its output names and a
builder of each output; a known tuple function without a builder (series_decompose, ...) raises
`UnsupportedFunction` with its name, and any other function raises `TypeMismatch`. A tuple
function given one name (or none) still yields every output, as in Kusto: `x = f(y)` names the
first x and the others `f_y_<output>`. Other items with a single name go to the ordinary
extend/project planners unchanged. A function with a `record`
builder (series_fit_2lines) is evaluated once into a hidden `__recN` column one layer down, each
name reads its output from it, and the hidden column is dropped before the operator's output.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from sqlglot import exp

from .. import ast as A
from ..binder import Context, Rel, Scope, Typed, col
from ..dialects.base import cast, data_type, fn, lit
from ..errors import KqlError
from ..functions.series_decompose import DECOMPOSE_PARTS, series_decompose, series_decompose_forecast
from ..functions.series_fit import (
    ANOMALY_PARTS,
    FIT_LINE_PARTS,
    series_decompose_anomalies,
    series_fit_line,
)
from ..functions.series_fit2 import FIT_2LINES_PARTS, fit_2lines_part, fit_2lines_record, series_fit_2lines
from ..naming import expr_name
from ..planner import OPERATORS, wrap
from ..scalars import NODES, translate


@dataclass(frozen=True)
class TupleElement(A.Expr):
    """Output `index` of the tuple function call `call`."""

    call: A.Call
    index: int


# ---- series_stats --------------------------------------------------------------------------------
def _doubles_duckdb(e: exp.Expression) -> exp.Expression:
    return exp.TryCast(this=cast(e, "JSON"), to=data_type("DOUBLE[]"))


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
        value = cast(value, "BIGINT")
    return Typed(value, kusto_type)


@dataclass(frozen=True)
class RecordOf(A.Expr):
    """Every output of `call` at once, as the engine value `TupleFunction.record` builds."""

    call: A.Call


@dataclass(frozen=True)
class RecordPart(A.Expr):
    """Output `index` of `call`, read from the hidden column `column` holding its record."""

    call: A.Call
    column: str
    index: int


@dataclass(frozen=True)
class TupleFunction:
    outputs: tuple[str, ...]
    build: Callable[[A.Call, Scope, int], Typed] | None
    # Optional: all outputs computed once into a hidden column (`record`), then each read from it
    # (`part`), for functions whose outputs share an expensive computation.
    record: Callable[[A.Call, Scope], Typed] | None = None
    part: Callable[[exp.Expression, int, Scope], Typed] | None = None


TUPLE_FUNCTIONS: dict[str, TupleFunction] = {
    "series_stats": TupleFunction(tuple(n for n, _ in _STATS_PARTS), _series_stats),
    "series_fit_line": TupleFunction(tuple(n for n, _ in FIT_LINE_PARTS), series_fit_line),
    "series_fit_2lines": TupleFunction(
        tuple(n for n, _ in FIT_2LINES_PARTS), series_fit_2lines, fit_2lines_record, fit_2lines_part
    ),
    "series_decompose": TupleFunction(tuple(n for n, _ in DECOMPOSE_PARTS), series_decompose),
    "series_decompose_anomalies": TupleFunction(
        tuple(n for n, _ in ANOMALY_PARTS), series_decompose_anomalies
    ),
    "series_decompose_forecast": TupleFunction(
        tuple(n for n, _ in DECOMPOSE_PARTS), series_decompose_forecast
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


def _record_of(e: A.Expr, scope: Scope) -> Typed:
    assert isinstance(e, RecordOf)
    record = TUPLE_FUNCTIONS[e.call.name].record
    assert record is not None
    return record(e.call, scope)


def _record_part(e: A.Expr, scope: Scope) -> Typed:
    assert isinstance(e, RecordPart)
    part = TUPLE_FUNCTIONS[e.call.name].part
    assert part is not None
    return part(scope.column(e.column, e.pos).sql, e.index, scope)


def split_items(
    items: tuple[A.Assign, ...], ctx: Context | None = None
) -> tuple[tuple[A.Assign, ...], tuple[A.Assign, ...]]:
    """Each `(a, b) = f(x)` item as `a = f(x)[0], b = f(x)[1]`; other items unchanged.

    With `ctx`, a function with a record builder is computed once: the second tuple holds the
    hidden `__recN = record(f(x))` assignments to evaluate first, and the names read from them.
    """
    out: list[A.Assign] = []
    hidden: list[A.Assign] = []
    for item in items:
        if len(item.names) <= 1:
            whole = _every_output(item)
            if whole is None:
                out.append(item)
                continue
            item = whole
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
        if ctx is not None and TUPLE_FUNCTIONS[call.name].record is not None:
            column = ctx.fresh("__rec")
            hidden.append(A.Assign((column,), RecordOf(call.pos, call)))
            out.extend(
                A.Assign((n,), RecordPart(call.pos, call, column, i)) for i, n in enumerate(item.names)
            )
            continue
        out.extend(A.Assign((n,), TupleElement(call.pos, call, i)) for i, n in enumerate(item.names))
    return tuple(out), tuple(hidden)


def _every_output(item: A.Assign) -> A.Assign | None:
    """`x = series_fit_line(y)` (or unnamed) as Kusto reads it: every output of the tuple function,
    the first named x (else `series_fit_line_y_rsquare`), the others `series_fit_line_y_<output>`."""
    call = item.expr
    if not isinstance(call, A.Call) or not call.args:
        return None
    f = TUPLE_FUNCTIONS.get(call.name)
    arg = expr_name(call.args[0])
    if f is None or f.build is None or arg is None:
        return None
    names = [f"{call.name}_{arg}_{o}" for o in f.outputs]
    if item.names:
        names[0] = item.names[0]
    return A.Assign(tuple(names), call)


_plain_extend = OPERATORS[A.Extend]
_plain_project = OPERATORS[A.Project]


def _extend(ctx: Context, rel: Rel, op: A.Operator) -> Rel:
    assert isinstance(op, A.Extend)
    items, hidden = split_items(op.items, ctx)
    if not hidden:
        return _plain_extend(ctx, rel, A.Extend(op.pos, items))
    out = _plain_extend(ctx, _plain_extend(ctx, rel, A.Extend(op.pos, hidden)), A.Extend(op.pos, items))
    drop = {a.names[0] for a in hidden}
    q, scope = wrap(out, ctx)
    keep = [(n, t) for n, t in out.columns if n not in drop]
    return Rel(q.select(*[col(n, scope.table) for n, _ in keep], copy=False), keep, out.serialized)


def _project(ctx: Context, rel: Rel, op: A.Operator) -> Rel:
    assert isinstance(op, A.Project)
    items, hidden = split_items(op.items, ctx)
    if hidden:
        rel = _plain_extend(ctx, rel, A.Extend(op.pos, hidden))
    return _plain_project(ctx, rel, A.Project(op.pos, items))


NODES[TupleElement] = _tuple_element
NODES[RecordOf] = _record_of
NODES[RecordPart] = _record_part
OPERATORS[A.Extend] = _extend
OPERATORS[A.Project] = _project
