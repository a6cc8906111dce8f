"""Property-bag functions: bag_has_key, bag_remove_keys, bag_set_key, bag_pack_columns, and
column_ifexists (which reads the scope's columns).

Invariant: a key is a root-level key name or, when it starts with `$`, a JSONPath of keys (`$.a.b`,
`$['a']`, `$["a"]`); array indexing and the root path alone are refused, as Kusto documents. JSONPath
keys are read at compile time, so they must be string literals: a computed key (or a computed array
of keys for bag_remove_keys) names root-level keys only. bag_set_key and bag_remove_keys give null
for a value that is not a property bag; bag_has_key gives false.
"""

from __future__ import annotations

import json
import re

from .. import ast as A
from ..binder import NUMERIC, Scope, Typed
from ..dialects.base import lit
from ..errors import KqlError
from .array_ops import ArrayOps, emit, ops_for, string_literal
from .base import ScalarFn, args
from .template import slot

_STEP = re.compile(r"""\.([^.\[\]'"]+)|\[\s*'([^']*)'\s*\]|\[\s*"([^"]*)"\s*\]""")
Tree = dict[str, "Tree | None"]  # keys to descend into; None marks a key to remove


def json_path(text: str, call: A.Call) -> list[str]:
    """The keys a Kusto key argument names: itself, or the steps of its JSONPath."""
    if not text.startswith("$"):
        return [text]
    keys, at = [], 1
    while at < len(text):
        m = _STEP.match(text, at)
        if m is None:
            raise KqlError(
                "SyntaxError", f"{call.name}(): unsupported JSONPath '{text}' (array indexing?)", *call.pos
            )
        keys.append(next(g for g in m.groups() if g is not None))
        at = m.end()
    if not keys:
        raise KqlError("SyntaxError", f"{call.name}(): the root JSONPath '$' is not supported", *call.pos)
    return keys


def _literal_key(call: A.Call, i: int) -> list[str] | None:
    a = call.args[i]
    if isinstance(a, A.Literal) and isinstance(a.value, str):
        return json_path(a.value, call)
    return None


def _duckdb_path(keys: list[str]) -> str:
    return "'$" + "".join("." + json.dumps(k).replace("'", "''") for k in keys) + "'"


def _duckdb_key(o: ArrayOps, keys: list[str] | None) -> str:
    """The DuckDB JSONPath of the key argument (slot 1): its literal keys, else the computed root key."""
    return _duckdb_path(keys) if keys else f"('$.' || {o.json_string(slot(1))})"


def _bag_arg(call: A.Call, vals: list[Typed]) -> None:
    if vals[0].type != "dynamic":
        raise KqlError("TypeMismatch", f"{call.name}() expects a dynamic property bag", *call.args[0].pos)


def _bag_has_key(call: A.Call, scope: Scope) -> Typed:
    o = ops_for(scope, call.name)
    vals = args(call, scope, 2, 2)
    _bag_arg(call, vals)
    keys = _literal_key(call, 1)
    if o.sql_dialect == "duckdb":
        path = _duckdb_key(o, keys)
        text = f"coalesce(json_exists(CAST({slot(0)} AS JSON), {path}), false)"
    else:
        names = ", ".join(string_literal(k, o) for k in keys) if keys else slot(1)
        text = f"coalesce(JSONHas(ifNull({slot(0)}, 'null'), {names}) = 1, false)"
    return emit(text, scope, vals, "bool")


def _constant_keys(call: A.Call) -> list[list[str]] | None:
    """The key paths of a constant keys argument; None when the keys are computed."""
    a = call.args[1]
    if (
        isinstance(a, A.DynamicLiteral)
        and isinstance(a.value, list)
        and all(isinstance(k, str) for k in a.value)
    ):
        return [json_path(k, call) for k in a.value]
    if isinstance(a, A.Call) and a.name == "pack_array":
        names = [x.value for x in a.args if isinstance(x, A.Literal) and isinstance(x.value, str)]
        if len(names) == len(a.args):
            return [json_path(k, call) for k in names]
    return None


def _remove_computed(o: ArrayOps, bag: str, keys: str) -> str:
    """The bag rebuilt without the root-level keys named by a computed array of strings."""
    names = o.map("_kqn", o.string("_kqn"), o.elements(keys))
    kept = o.filter("_kqp", f"NOT {o.contains('_kqw', o.pair_key('_kqp'))}", o.keys_values(bag))
    rendered = o.map(
        "_kqp", f"concat({o.json_string(o.pair_key('_kqp'))}, ':', {o.pair_value('_kqp')})", kept
    )
    text = o.bind("_kqw", names, f"concat('{{', {o.join(rendered)}, '}}')")
    return f"CAST({text} AS JSON)" if o.sql_dialect == "duckdb" else text


def _ch_remove(o: ArrayOps, bag: str, tree: Tree, depth: int) -> str:
    """ClickHouse has no JSON editing: the bag is rebuilt from its members without the keys."""
    pair = f"_kqp{depth}"
    key, value = o.pair_key(pair), o.pair_value(pair)
    for name, sub in tree.items():
        if sub is not None:
            inner = _ch_remove(o, value, sub, depth + 1)
            value = f"(CASE WHEN {key} = {string_literal(name, o)} AND {o.is_object(value)} THEN {inner} ELSE {value} END)"
    removed = [string_literal(k, o) for k, sub in tree.items() if sub is None]
    members = o.keys_values(bag)
    if removed:
        members = o.filter(pair, f"{key} NOT IN ({', '.join(removed)})", members)
    rendered = o.map(pair, f"concat({o.json_string(key)}, ':', {value})", members)
    return f"concat('{{', {o.join(rendered)}, '}}')"


def _removal_tree(paths: list[list[str]]) -> Tree:
    tree: Tree = {}
    for keys in paths:
        node: Tree | None = tree
        for k in keys[:-1]:
            assert node is not None
            child = node.setdefault(k, {})
            if child is None:  # the parent itself goes
                node = None
                break
            node = child
        if node is not None:
            node[keys[-1]] = None
    return tree


def _bag_remove_keys(call: A.Call, scope: Scope) -> Typed:
    o = ops_for(scope, call.name)
    paths = _constant_keys(call)
    vals = args(call, scope, 2, 2)
    _bag_arg(call, vals)
    if paths is None:
        if vals[1].type != "dynamic":
            raise KqlError(
                "TypeMismatch", f"{call.name}() expects a dynamic array of keys", *call.args[1].pos
            )
        body = _remove_computed(o, slot(0), slot(1))
        return emit(f"(CASE WHEN {o.is_object(slot(0))} THEN {body} END)", scope, vals, "dynamic")
    vals = vals[:1]
    if o.sql_dialect == "duckdb":
        body = f"CAST({slot(0)} AS JSON)"
        for keys in paths:
            body = f"json_remove({body}, {_duckdb_path(keys)})"
    else:
        body = _ch_remove(o, slot(0), _removal_tree(paths), 0)
    return emit(f"(CASE WHEN {o.is_object(slot(0))} THEN {body} END)", scope, vals, "dynamic")


def _ch_set(o: ArrayOps, bag: str, keys: list[str] | str, value: str, depth: int) -> str:
    """The bag rebuilt with `keys` set to `value` (missing bags on the way are created)."""
    if isinstance(keys, str):  # a computed root-level key
        name, rest = keys, []
    else:
        name, rest = string_literal(keys[0], o), keys[1:]
    if rest:
        inner = f"JSONExtractRaw({bag}, {name})"
        value = _ch_set(
            o, f"(CASE WHEN {o.is_object(inner)} THEN {inner} ELSE '{{}}' END)", rest, value, depth + 1
        )
    pair = f"_kqp{depth}"
    key = o.pair_key(pair)
    member = f"concat({o.json_string(key)}, ':', (CASE WHEN {key} = {name} THEN {value} ELSE {o.pair_value(pair)} END))"
    members = o.map(pair, member, o.keys_values(bag))
    added = f"arrayPushBack({members}, concat({o.json_string(name)}, ':', {value}))"
    return f"concat('{{', {o.join(f'if(JSONHas({bag}, {name}), {members}, {added})')}, '}}')"


def _bag_set_key(call: A.Call, scope: Scope) -> Typed:
    o = ops_for(scope, call.name)
    vals = args(call, scope, 3, 3)
    _bag_arg(call, vals)
    keys = _literal_key(call, 1)
    v = vals[2]
    vals[2] = Typed(scope.ctx.dialect.to_json(v.sql, v.type), "dynamic", v.is_agg)
    value = f"coalesce({slot(2)}, {o.null})"
    if o.sql_dialect == "duckdb":
        path = _duckdb_key(o, keys)
        body = f"json_set(CAST({slot(0)} AS JSON), {path}, {value})"
    else:
        body = _ch_set(o, slot(0), keys if keys else slot(1), value, 0)
    return emit(f"(CASE WHEN {o.is_object(slot(0))} THEN {body} END)", scope, vals, "dynamic")


def _bag_pack_columns(call: A.Call, scope: Scope) -> Typed:
    if not call.args:
        raise KqlError("SyntaxError", "bag_pack_columns() expects at least one column", *call.pos)
    pairs = []
    for a in call.args:
        if not isinstance(a, A.Name):
            raise KqlError("TypeMismatch", "bag_pack_columns() expects column names", *a.pos)
        t = scope.column(a.name, a.pos)
        pairs.append((lit(a.name), scope.ctx.dialect.to_json(t.sql, t.type)))
    return Typed(scope.ctx.dialect.json_object(pairs), "dynamic")


def _column_ifexists(call: A.Call, scope: Scope) -> Typed:
    """The column when the input has it, else the default; typed as the default (as Kusto types it)."""
    a = call.args[0] if call.args else None
    if len(call.args) != 2 or not (isinstance(a, A.Literal) and isinstance(a.value, str)):
        raise KqlError("SyntaxError", f"{call.name}() expects a column name literal and a default", *call.pos)
    (default,) = args(A.Call(call.pos, call.name, call.args[1:]), scope, 1)
    name = a.value
    if name not in scope.columns and name not in scope.locals:
        return default
    column = scope.column(name, a.pos)
    if column.type == default.type:
        return column
    if column.type in NUMERIC and default.type in NUMERIC:
        return Typed(scope.ctx.dialect.try_cast(column.sql, column.type, default.type), default.type)
    return default  # a column of another type is not used (Kusto's note for dynamic columns)


BAGS: dict[str, ScalarFn] = {
    "bag_has_key": _bag_has_key,
    "bag_remove_keys": _bag_remove_keys,
    "bag_set_key": _bag_set_key,
    "bag_pack_columns": _bag_pack_columns,
    "column_ifexists": _column_ifexists,
    "columnifexists": _column_ifexists,
}
