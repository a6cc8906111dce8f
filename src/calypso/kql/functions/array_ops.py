"""Engine spellings of list primitives over dynamic arrays, for the templates of `arrays` and `bags`.

Invariant: an array's elements are handled as a list of JSON texts, one per element (DuckDB `JSON[]`,
ClickHouse `Array(String)` of raw element texts), both minified, so two equal elements compare
equal as text; lists are 1-based. Every argument and result here is SQL text in the engine's own
spelling (see `template.render`); lambda parameters start with `_kq` so they cannot shadow the
quoted column names the compiler writes.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from sqlglot import exp

from ..binder import Scope, Typed
from ..errors import KqlError
from .base import agg_flag
from .template import render

S = str


@dataclass(frozen=True)
class ArrayOps:
    sql_dialect: str
    is_array: Callable[[S], S]  # a dynamic value is an array (false for null)
    is_object: Callable[[S], S]
    elements: Callable[[S], S]  # dynamic array -> list of element texts
    to_dynamic: Callable[[S], S]  # list of element texts -> dynamic array
    kind: Callable[[S], S]  # an element's JSON kind: 'number', 'string', 'bool', 'null', 'array', 'object'
    number: Callable[[S], S]  # a numeric element as a double
    string: Callable[[S], S]  # a string element's text
    null: S  # the element `null`
    length: Callable[[S], S]
    at: Callable[[S, S], S]  # (list, 1-based index in range) -> element
    at_or_null: Callable[[S, S], S]  # (list, 1-based index) -> element, the null element when out of range
    repeat: Callable[[S, S], S]  # (value, n) -> a list of n copies
    text: Callable[[S], S]  # an element's JSON text as a string
    sum: Callable[[S], S]  # list of doubles -> their sum, 0 when empty
    one_to: Callable[[S], S]  # n -> [1, ..., n] (empty for n <= 0)
    map: Callable[[str, S, S], S]  # (var, body, list)
    filter: Callable[[str, S, S], S]  # (var, condition, list)
    filter_indexed: Callable[[str, str, S, S], S]  # (var, 1-based index var, condition, list)
    position: Callable[[S, S], S]  # 1-based position of a value, 0 when absent
    contains: Callable[[S, S], S]
    concat: Callable[[list[S]], S]
    slice: Callable[[S, S, S], S]  # (list, 1-based first, count)
    reverse: Callable[[S], S]
    sort: Callable[[str, S, S, bool], S]  # (var, key tuple, list, descending)
    key: Callable[[list[S]], S]  # a sort key from its parts (all non-null)
    nested: Callable[[S], S]  # list of lists of elements -> dynamic array of arrays
    to_double: Callable[[S], S]
    int64: Callable[[S], S]
    json_string: Callable[[S], S]  # a string as a JSON string literal
    keys_values: Callable[[S], S]  # object -> list of (key, raw value) pairs
    pair_key: Callable[[S], S]
    pair_value: Callable[[S], S]
    join: Callable[[S], S]  # list of strings -> comma-joined string

    def bind(self, var: str, value: S, body: S) -> S:
        """`body` with `var` bound to `value` (evaluated once)."""
        return self.at(self.map(var, body, f"[{value}]"), "1")


DUCKDB = ArrayOps(
    sql_dialect="duckdb",
    is_array=lambda x: f"coalesce(json_type(CAST({x} AS JSON)) = 'ARRAY', false)",
    is_object=lambda x: f"coalesce(json_type(CAST({x} AS JSON)) = 'OBJECT', false)",
    elements=lambda x: f"CAST(json_extract(CAST({x} AS JSON), '$[*]') AS JSON[])",
    to_dynamic=lambda lst: f"to_json({lst})",
    kind=lambda x: (
        f"(CASE json_type({x}) WHEN 'BIGINT' THEN 'number' WHEN 'UBIGINT' THEN 'number' "
        f"WHEN 'DOUBLE' THEN 'number' WHEN 'VARCHAR' THEN 'string' WHEN 'BOOLEAN' THEN 'bool' "
        f"WHEN 'NULL' THEN 'null' ELSE lower(json_type({x})) END)"
    ),
    number=lambda x: f"TRY_CAST({x} AS DOUBLE)",
    string=lambda x: f"json_extract_string({x}, '$')",
    null="CAST('null' AS JSON)",
    length=lambda lst: f"len({lst})",
    at=lambda lst, i: f"list_extract({lst}, {i})",
    at_or_null=lambda lst, i: f"coalesce(list_extract({lst}, {i}), CAST('null' AS JSON))",
    repeat=lambda v, n: f"list_transform(range(greatest({n}, 0)), lambda _kqr: {v})",
    text=lambda x: f"CAST({x} AS VARCHAR)",
    sum=lambda lst: f"coalesce(list_sum({lst}), CAST(0 AS DOUBLE))",
    one_to=lambda n: f"range(1, greatest({n}, 0) + 1)",
    map=lambda v, body, lst: f"list_transform({lst}, lambda {v}: {body})",
    filter=lambda v, cond, lst: f"list_filter({lst}, lambda {v}: {cond})",
    filter_indexed=lambda v, i, cond, lst: f"list_filter({lst}, lambda {v}, {i}: {cond})",
    position=lambda lst, v: f"coalesce(list_position({lst}, {v}), 0)",
    contains=lambda lst, v: f"list_contains({lst}, {v})",
    concat=lambda lsts: f"flatten([{', '.join(lsts)}])",
    slice=lambda lst, first, n: f"list_slice({lst}, {first}, ({first}) + ({n}) - 1)",
    reverse=lambda lst: f"list_reverse({lst})",
    sort=lambda v, key, lst, desc: (
        f"list_transform(list_sort(list_transform({lst}, lambda {v}: {{'k': {key}, 'v': {v}}}), "
        f"'{'DESC' if desc else 'ASC'}'), lambda {v}: {v}.v)"
    ),
    key=lambda parts: "{" + ", ".join(f"'p{i}': {p}" for i, p in enumerate(parts)) + "}",
    nested=lambda lsts: f"to_json({lsts})",
    to_double=lambda x: f"CAST({x} AS DOUBLE)",
    int64=lambda x: f"CAST({x} AS BIGINT)",
    json_string=lambda s: f"CAST(to_json({s}) AS VARCHAR)",
    keys_values=lambda x: (
        f"list_transform(json_keys(CAST({x} AS JSON)), lambda _kqk: {{'k': _kqk, "
        f"'v': CAST(json_extract(CAST({x} AS JSON), '$.' || CAST(to_json(_kqk) AS VARCHAR)) AS VARCHAR)}})"
    ),
    pair_key=lambda p: f"{p}.k",
    pair_value=lambda p: f"{p}.v",
    join=lambda lst: f"array_to_string({lst}, ',')",
)

_CH_KIND = {"Int64": "number", "UInt64": "number", "Double": "number", "String": "string", "Bool": "bool"}

CLICKHOUSE = ArrayOps(
    sql_dialect="clickhouse",
    is_array=lambda x: f"(toString(JSONType(ifNull({x}, 'null'))) = 'Array')",
    is_object=lambda x: f"(toString(JSONType(ifNull({x}, 'null'))) = 'Object')",
    elements=lambda x: f"JSONExtractArrayRaw(ifNull({x}, '[]'))",
    to_dynamic=lambda lst: f"concat('[', arrayStringConcat({lst}, ','), ']')",
    kind=lambda x: (
        "(CASE toString(JSONType("
        + x
        + ")) "
        + " ".join(f"WHEN '{k}' THEN '{v}'" for k, v in _CH_KIND.items())
        + f" ELSE lower(toString(JSONType({x}))) END)"
    ),
    number=lambda x: f"JSONExtractFloat({x})",
    string=lambda x: f"JSONExtractString({x})",
    null="'null'",
    length=lambda lst: f"toInt64(length({lst}))",
    at=lambda lst, i: f"arrayElement({lst}, {i})",
    at_or_null=lambda lst, i: f"if(({i}) BETWEEN 1 AND length({lst}), arrayElement({lst}, {i}), 'null')",
    repeat=lambda v, n: f"arrayWithConstant(toUInt64(greatest({n}, 0)), {v})",
    text=lambda x: x,
    sum=lambda lst: f"toFloat64(arraySum({lst}))",
    one_to=lambda n: f"arrayMap(_kqr -> toInt64(_kqr), range(1, toInt64(greatest({n}, 0)) + 1))",
    map=lambda v, body, lst: f"arrayMap({v} -> {body}, {lst})",
    filter=lambda v, cond, lst: f"arrayFilter({v} -> {cond}, {lst})",
    filter_indexed=lambda v, i, cond, lst: f"arrayFilter(({v}, {i}) -> {cond}, {lst}, arrayEnumerate({lst}))",
    position=lambda lst, v: f"toInt64(indexOf({lst}, {v}))",
    contains=lambda lst, v: f"has({lst}, {v})",
    concat=lambda lsts: f"arrayConcat({', '.join(lsts)})",
    slice=lambda lst, first, n: f"arraySlice({lst}, {first}, greatest({n}, 0))",
    reverse=lambda lst: f"arrayReverse({lst})",
    sort=lambda v, key, lst, desc: f"{'arrayReverseSort' if desc else 'arraySort'}({v} -> {key}, {lst})",
    key=lambda parts: f"tuple({', '.join(parts)})",
    nested=lambda lsts: (
        f"concat('[', arrayStringConcat(arrayMap(_kqn -> concat('[', arrayStringConcat(_kqn, ','), ']'), {lsts}), ','), ']')"
    ),
    to_double=lambda x: f"toFloat64({x})",
    int64=lambda x: f"toInt64({x})",
    json_string=lambda s: f"toJSONString({s})",
    keys_values=lambda x: f"JSONExtractKeysAndValuesRaw(ifNull({x}, '{{}}'))",
    pair_key=lambda p: f"tupleElement({p}, 1)",
    pair_value=lambda p: f"tupleElement({p}, 2)",
    join=lambda lst: f"arrayStringConcat({lst}, ',')",
)

OPS: dict[str, ArrayOps] = {"duckdb": DUCKDB, "clickhouse": CLICKHOUSE}


def ops_for(scope: Scope, name: str) -> ArrayOps:
    o = OPS.get(scope.ctx.dialect.name)
    if o is None:
        raise KqlError("UnsupportedFunction", f"{name}() is not supported by {scope.ctx.dialect.name}")
    return o


def string_literal(value: str, o: ArrayOps) -> str:
    return exp.Literal.string(value).sql(dialect=o.sql_dialect)


def emit(text: str, scope: Scope, vals: list[Typed], type_: str = "dynamic") -> Typed:
    """A template over the arguments' slots, rendered in the engine's dialect."""
    sql = render(text, scope.ctx.dialect.sqlglot_dialect, *[v.sql for v in vals])
    return Typed(sql, type_, agg_flag(*vals))
