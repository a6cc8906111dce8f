"""The HyperLogLog family: `hll`, `hll_if`, `hll_merge` (aggregates), `dcount_hll`, `hll_merge` (scalar).

Invariant: Calypso counts distinct values exactly (see `dcount`), so the "sketch" is exact too: the
dynamic array of the distinct non-null values (what `make_set` returns). `hll_merge` is the union of
such arrays, `dcount_hll` their length, so `dcount_hll(hll_merge(...))` equals `dcount` over the same
rows. The optional accuracy argument is accepted and has nothing to tune. A sketch is only meant to
be read by these functions; its elements and order are not Kusto's binary format.
"""

from __future__ import annotations

from .. import ast as A
from ..binder import Scope, Typed
from ..dialects.base import cast
from ..errors import KqlError
from .base import ScalarFn, agg_flag, args
from .template import render, slot

# the elements of a sketch, as a list of JSON texts, per engine
_ELEMENTS = {
    "duckdb": "json_extract(CAST({} AS JSON), '$[*]')",
    "clickhouse": "JSONExtractArrayRaw(ifNull({}, '[]'))",
}
_UNION_AGG = {
    "duckdb": "coalesce(to_json(list_distinct(flatten(list({})))), CAST('[]' AS JSON))",
    "clickhouse": "concat('[', arrayStringConcat(groupUniqArrayArray({}), ','), ']')",
}
_UNION = {
    "duckdb": "to_json(list_distinct(flatten(list_value({}))))",
    "clickhouse": "concat('[', arrayStringConcat(arrayDistinct(arrayConcat({})), ','), ']')",
}


def _sketch_arg(call: A.Call, t: Typed, i: int) -> None:
    if t.type != "dynamic":
        raise KqlError("TypeMismatch", f"{call.name}() expects hll sketches (dynamic)", *call.args[i].pos)


def _hll(conditional: bool) -> ScalarFn:
    """`hll` / `hll_if`: the sketch is exactly `make_set` / `make_set_if`."""

    def f(call: A.Call, scope: Scope) -> Typed:
        from .aggregate import _make_list  # aggregate.py imports this module

        return _make_list(True, conditional)(call, scope)

    return f


def _hll_merge_agg(call: A.Call, scope: Scope) -> Typed:
    from .aggregate import _row_args

    (h,) = _row_args(call, scope, 1)
    _sketch_arg(call, h, 0)
    name = scope.ctx.dialect.name
    text = _UNION_AGG[name].format(_ELEMENTS[name].format(slot(0)))
    return Typed(render(text, scope.ctx.dialect.sqlglot_dialect, h.sql), "dynamic", True)


def hll_merge_scalar(call: A.Call, scope: Scope) -> Typed:
    """`hll_merge(h1, h2, ...)` (2 to 64 sketches) -> one sketch: the union of their values."""
    vals = args(call, scope, 2, 64)
    for i, h in enumerate(vals):
        _sketch_arg(call, h, i)
    name = scope.ctx.dialect.name
    elements = ", ".join(_ELEMENTS[name].format(slot(i)) for i in range(len(vals)))
    sql = render(_UNION[name].format(elements), scope.ctx.dialect.sqlglot_dialect, *[v.sql for v in vals])
    return Typed(sql, "dynamic", agg_flag(*vals))


def _dcount_hll(call: A.Call, scope: Scope) -> Typed:
    (h,) = args(call, scope, 1)
    _sketch_arg(call, h, 0)
    return Typed(cast(scope.ctx.dialect.json_array_length(h.sql), "BIGINT"), "long", h.is_agg)


HLL_AGGREGATES: dict[str, ScalarFn] = {
    "hll": _hll(False),
    "hll_if": _hll(True),
    "hll_merge": _hll_merge_agg,
}
HLL: dict[str, ScalarFn] = {
    "dcount_hll": _dcount_hll,
    "hll_merge": hll_merge_scalar,
}
