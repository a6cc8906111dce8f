"""`percentilew(expr, weight, p)` and `percentilesw_array(expr, weight, p1, ...)`: Kusto's weighted
nearest-rank percentiles.

Invariant (as documented): each value counts as if repeated `weight` times; the result is the
smallest value whose cumulative weight, over the values sorted ascending, reaches rank
ceil(p/100 * total weight) (at least 1, so p = 0 is the smallest value). Rows whose value is null or
whose weight is null or not positive are left out; no row left gives null. The result keeps the
type of `expr` and is named `percentile_<expr>_<p>` (naming.py); `percentilesw_array` gives a JSON
array of them in the order given, named `percentiles_<expr>`. `percentilesw` (several columns)
needs the planner's multi-column expansion and is not offered here.
"""

from __future__ import annotations

from sqlglot import exp

from .. import ast as A
from ..binder import Scope, Typed
from ..errors import KqlError
from .template import render, slot

X, W, P = slot(0), slot(1), slot(2)
_KEEP = f"{X} IS NOT NULL AND {W} > 0"
# the sorted (value, weight) pairs folded until the running weight reaches the rank
_DUCKDB = (
    f"(list_reduce(list_sort(list({{'v': {X}, 'w': CAST({W} AS BIGINT)}}) FILTER (WHERE {_KEEP})),"
    " lambda _ps, _pe: CASE WHEN _ps.c >= _ps.r THEN _ps ELSE {'c': _ps.c + _pe.w, 'v': _pe.v, 'r': _ps.r} END,"
    " {'c': CAST(0 AS BIGINT), 'v': CAST(NULL AS {type}), 'r': greatest(CAST(ceil(round("
    f"{P} * sum(CAST({W} AS BIGINT)) FILTER (WHERE {_KEEP}), 9)) AS BIGINT), 1)}})).v"
)
# the same rank found with a running sum; the pairs and the rank bound once as `_pw`
_CLICKHOUSE = (
    "arrayElement(arrayMap(_pw -> if(length(tupleElement(_pw, 1)) = 0, NULL, arrayFirst((v, c) -> c >="
    " tupleElement(_pw, 2), arrayMap(t -> tupleElement(t, 1), tupleElement(_pw, 1)), arrayCumSum(arrayMap("
    f"t -> tupleElement(t, 2), tupleElement(_pw, 1))))), [tuple(arraySort(groupArrayIf(tuple({X}, ifNull(toInt64({W}), 0)),"
    f" {_KEEP})), greatest(toInt64(ceil(round({P} * sumIf(toInt64({W}), {_KEEP}), 9))), 1))]), 1)"
)


def _weighted(call: A.Call, scope: Scope, count: int) -> tuple[Typed, list[exp.Expression]]:
    """The value and one weighted percentile per percentage from argument 3 on."""
    from .aggregate import _row_args
    from .percentiles import _fraction

    vals = _row_args(call, scope, 3, count)
    v, w = vals[0], vals[1]
    if w.type not in ("int", "long"):
        raise KqlError("TypeMismatch", f"{call.name}() expects an integer weight", *call.args[1].pos)
    d = scope.ctx.dialect
    text = _DUCKDB.replace("{type}", d.storage_type(v.type)) if d.name == "duckdb" else _CLICKHOUSE
    return v, [
        render(text, d.sqlglot_dialect, v.sql, w.sql, _fraction(call, p, i + 2))
        for i, p in enumerate(vals[2:])
    ]


def _percentilew(call: A.Call, scope: Scope) -> Typed:
    v, (agg,) = _weighted(call, scope, 3)
    return Typed(agg, v.type, True)


def _percentilesw_array(call: A.Call, scope: Scope) -> Typed:
    """`percentilesw_array(expr, weight, p1, p2, ...)`: the weighted percentiles as one array."""
    if len(call.args) < 3:
        raise KqlError("SyntaxError", f"{call.name}() expects a value, a weight and percentages", *call.pos)
    v, aggs = _weighted(call, scope, len(call.args))
    d = scope.ctx.dialect
    return Typed(d.json_array([d.to_json(a, v.type) for a in aggs]), "dynamic", True)


PERCENTILEW_AGGREGATES = {"percentilew": _percentilew, "percentilesw_array": _percentilesw_array}
