"""`percentiles(x, p1, p2, ...)` (one column per value) and `percentiles_array(x, p1, ...)` (one dynamic).

Invariant: every percentile is Kusto's nearest-rank value, built by the same dialect hook as
`percentile()` (`Dialect.agg("percentile", ...)`), so `percentiles(x, 50)` equals `percentile(x, 50)`
on every engine. `percentiles` keeps the input type per column and names its columns
`percentile_<x>_<p>` (`.` -> `_`); `percentiles_array` returns a JSON array of the values in the
order the percentages were given (`[null, ...]` over no rows, as Kusto does).
"""

from __future__ import annotations

from sqlglot import exp

from .. import ast as A
from ..binder import Scope, Typed, unique_name
from ..dialects.base import lit
from ..errors import KqlError
from ..naming import percentile_names


def _fraction(call: A.Call, p: Typed, index: int) -> exp.Expression:
    if p.type not in ("int", "long", "real", "decimal"):
        raise KqlError("TypeMismatch", f"{call.name}() expects numeric percentages", *call.args[index].pos)
    if isinstance(p.sql, exp.Literal):
        return lit(float(p.sql.this) / 100.0)
    return exp.Div(this=p.sql, expression=lit(100.0))


def _values(call: A.Call, scope: Scope) -> tuple[Typed, list[exp.Expression]]:
    from .aggregate import _row_args

    if len(call.args) < 2:
        raise KqlError("SyntaxError", f"{call.name}() expects a value and at least one percentage", *call.pos)
    vals = _row_args(call, scope, 2, len(call.args))
    v = vals[0]
    return v, [
        scope.ctx.dialect.agg("percentile", [v.sql, _fraction(call, p, i + 1)])
        for i, p in enumerate(vals[1:])
    ]


def percentiles_columns(
    call: A.Call, scope: Scope, names: tuple[str, ...], taken: set[str]
) -> list[tuple[str, Typed]]:
    """The columns of `summarize [(n1, n2) =] percentiles(x, p1, p2)`, each name made unique."""
    v, aggs = _values(call, scope)
    defaults = percentile_names(call)
    out: list[tuple[str, Typed]] = []
    for i, agg in enumerate(aggs):
        name = unique_name(names[i] if i < len(names) else defaults[i], taken)
        taken.add(name)
        out.append((name, Typed(agg, v.type, True)))
    return out


def _percentiles_array(call: A.Call, scope: Scope) -> Typed:
    v, aggs = _values(call, scope)
    d = scope.ctx.dialect
    return Typed(d.json_array([d.to_json(a, v.type) for a in aggs]), "dynamic", True)


def _percentiles_outside_summarize(call: A.Call, scope: Scope) -> Typed:
    raise KqlError(
        "TypeMismatch", "percentiles() returns several columns: use it directly in summarize", *call.pos
    )


PERCENTILE_AGGREGATES = {
    "percentiles": _percentiles_outside_summarize,
    "percentiles_array": _percentiles_array,
}
