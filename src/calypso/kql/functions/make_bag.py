"""`make_bag(expr [, maxSize])` and `make_bag_if(expr, predicate [, maxSize])`: property bags merged.

Invariant (Kusto's documented semantics): the result is one dynamic property bag holding the keys
of every bag in the group (for `make_bag_if`, of the rows whose predicate is true); values that are
not property bags (arrays, scalars, null) are skipped; a key found in several rows takes one of its
values (which one depends on the engine); a group with no bag gives `{}`; `maxSize`, a constant,
keeps at most that many keys.
"""

from __future__ import annotations

from sqlglot import exp

from .. import ast as A
from ..binder import Scope, Typed
from ..errors import KqlError
from .base import ScalarFn, literal_int
from .template import render, slot

MAX_SIZE = 1_048_576  # Kusto's default and largest maxSize

# DuckDB: each bag as a MAP (non-objects fail the cast and are dropped), merged with map_concat,
# which keeps the last value of a repeated key
_DUCKDB = (
    "coalesce(to_json({limit_open}list_reduce(list_filter(list(TRY_CAST(CAST({x} AS JSON) AS MAP(VARCHAR, JSON))),"
    " lambda m: m IS NOT NULL), lambda a, m: map_concat(a, m), MAP {{}}::MAP(VARCHAR, JSON)){limit_close}),"
    " CAST('{{}}' AS JSON))"
)
# ClickHouse: the (key, raw JSON value) pairs of every bag (non-objects give none); a key is kept at
# its first position only, then the pairs are written back as a JSON object
_CLICKHOUSE = (
    "arrayElement(arrayMap(_bg -> concat('{{', arrayStringConcat(arrayMap(kv -> concat(toJSONString("
    "tupleElement(kv, 1)), ':', tupleElement(kv, 2)), {limit_open}arrayFilter((kv, i) -> indexOf(arrayMap("
    "e -> tupleElement(e, 1), _bg), tupleElement(kv, 1)) = i, _bg, arrayEnumerate(_bg)){limit_close}), ','), '}}'),"
    " [groupArrayArray(JSONExtractKeysAndValuesRaw(ifNull({x}, '{{}}')))]), 1)"
)


def _limits(dialect: str, size: int | None) -> dict[str, str]:
    if size is None:
        return {"limit_open": "", "limit_close": ""}
    if dialect == "duckdb":
        return {"limit_open": "map_from_entries(map_entries(", "limit_close": f")[1:{size}])"}
    return {"limit_open": "arraySlice(", "limit_close": f", 1, {size})"}


def _make_bag(conditional: bool) -> ScalarFn:
    def f(call: A.Call, scope: Scope) -> Typed:
        from .aggregate import _row_args

        n = 2 if conditional else 1
        vals = _row_args(call, scope, n, n + 1)
        v = vals[0]
        if v.type != "dynamic":
            raise KqlError("TypeMismatch", f"{call.name}() expects a dynamic value", *call.args[0].pos)
        size = literal_int(call, n) if len(call.args) > n else None
        if size is not None and size <= 0:
            raise KqlError("TypeMismatch", f"{call.name}() expects a positive maxSize", *call.args[n].pos)
        if size is not None and size >= MAX_SIZE:
            size = None
        x = v.sql if not conditional else exp.If(this=vals[1].sql, true=v.sql, false=exp.Null())
        d = scope.ctx.dialect
        template = _DUCKDB if d.name == "duckdb" else _CLICKHOUSE
        text = template.format(x=slot(0), **_limits(d.name, size))
        return Typed(render(text, d.sqlglot_dialect, x), "dynamic", True)

    return f


MAKE_BAG_AGGREGATES: dict[str, ScalarFn] = {
    "make_bag": _make_bag(False),
    "make_bag_if": _make_bag(True),
}
