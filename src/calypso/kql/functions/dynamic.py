"""Dynamic (JSON) functions: arrays and property bags held as JSON text.

Invariant: every function here returns JSON text for dynamic results, so values compose and round
trip through `to_json_value` unchanged.
"""

from __future__ import annotations

from sqlglot import exp

from .. import ast as A
from ..binder import Scope, Typed
from ..dialects.base import lit
from ..errors import KqlError
from .base import ScalarFn, agg_flag, args


def _to_dyn(t: Typed, scope: Scope) -> exp.Expression:
    return scope.ctx.dialect.to_json(t.sql, t.type)


def _array_length(call: A.Call, scope: Scope) -> Typed:
    (a,) = args(call, scope, 1)
    return Typed(scope.ctx.dialect.json_array_length(a.sql), "long", a.is_agg)


def _pack_array(call: A.Call, scope: Scope) -> Typed:
    vals = args(call, scope, 0, 64)
    return Typed(scope.ctx.dialect.json_array([_to_dyn(v, scope) for v in vals]), "dynamic", agg_flag(*vals))


def _pack(call: A.Call, scope: Scope) -> Typed:
    if len(call.args) % 2:
        raise KqlError("SyntaxError", f"{call.name}() expects key/value pairs", *call.pos)
    vals = args(call, scope, 0, 128)
    pairs = [(vals[i].sql, _to_dyn(vals[i + 1], scope)) for i in range(0, len(vals), 2)]
    return Typed(scope.ctx.dialect.json_object(pairs), "dynamic", agg_flag(*vals))


def _pack_all(call: A.Call, scope: Scope) -> Typed:
    args(call, scope, 0, 1)
    pairs = [
        (lit(n), scope.ctx.dialect.to_json(scope.column(n, call.pos).sql, t))
        for n, t in scope.columns.items()
    ]
    return Typed(scope.ctx.dialect.json_object(pairs), "dynamic")


def _array_concat(call: A.Call, scope: Scope) -> Typed:
    vals = args(call, scope, 1, 64)
    return Typed(scope.ctx.dialect.json_array_concat([v.sql for v in vals]), "dynamic", agg_flag(*vals))


def _bag_keys(call: A.Call, scope: Scope) -> Typed:
    (a,) = args(call, scope, 1)
    return Typed(scope.ctx.dialect.json_keys(a.sql), "dynamic", a.is_agg)


def _array_index_of(call: A.Call, scope: Scope) -> Typed:
    arr, v = args(call, scope, 2)
    return Typed(scope.ctx.dialect.json_index_of(arr.sql, _to_dyn(v, scope)), "long", agg_flag(arr, v))


def _set_has_element(call: A.Call, scope: Scope) -> Typed:
    arr, v = args(call, scope, 2)
    d = scope.ctx.dialect
    return Typed(
        exp.GTE(this=d.json_index_of(arr.sql, _to_dyn(v, scope)), expression=lit(0)), "bool", agg_flag(arr, v)
    )


def _strcat_array(call: A.Call, scope: Scope) -> Typed:
    arr, sep = args(call, scope, 2)
    d = scope.ctx.dialect
    text = d.json_to_string(arr.sql)
    # ["a","b"] -> a<sep>b for arrays of strings (the common case).
    inner = d.regex_replace(d.regex_replace(text, lit(r'^\["?|"?\]$'), lit("")), lit(r'"?,"?'), sep.sql)
    return Typed(inner, "string", agg_flag(arr, sep))


def _array_slice(call: A.Call, scope: Scope) -> Typed:
    arr, start, end = args(call, scope, 3)
    if arr.type != "dynamic":
        raise KqlError("TypeMismatch", "array_slice() expects a dynamic array", *call.args[0].pos)
    sql = scope.ctx.dialect.json_array_slice(arr.sql, start.sql, end.sql)
    return Typed(sql, "dynamic", agg_flag(arr, start, end))


DYNAMIC: dict[str, ScalarFn] = {
    "array_slice": _array_slice,
    "array_length": _array_length,
    "arraylength": _array_length,
    "pack_array": _pack_array,
    "pack": _pack,
    "bag_pack": _pack,
    "pack_all": _pack_all,
    "array_concat": _array_concat,
    "bag_keys": _bag_keys,
    "array_index_of": _array_index_of,
    "set_has_element": _set_has_element,
    "strcat_array": _strcat_array,
}
