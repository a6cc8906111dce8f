"""Engine spellings of the array primitives the series_* templates are written with: those proper to
series (nullable elements, JSON numbers) here, the general list primitives (map, at, bind,
to_double) from `array_ops`.

Invariant: a series is read as its list of raw JSON elements (a null or non-array dynamic reads as
an empty list); an element is numeric only if it is a JSON number (strings, bools, nulls, arrays
and objects are not), and it is an integer only if it is a JSON integer. Results are built element
by element as JSON text, so elements keep their own type (longs stay longs, doubles stay doubles) and
a missing element is JSON null. Non-finite doubles are written as the JSON strings "NaN",
"Infinity" and "-Infinity" (as .NET's JSON writer does), so both engines give valid, equal JSON.

Functions here take and return SQL text in the engine's own spelling (DuckDB lambdas as
`lambda x: ...`); the callers render it with `template.render`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from .. import ast as A
from ..binder import Scope, Typed
from ..errors import KqlError
from . import array_ops

Text = Callable[[str], str]


@dataclass(frozen=True)
class Spell:
    ops: array_ops.ArrayOps  # the engine's list primitives: map, at, bind, to_double
    items: Text  # dynamic -> list of raw JSON elements, [] for null or non-array
    num: Text  # raw element -> DOUBLE, NULL unless a JSON number
    isint: Text  # raw element -> bool (never NULL): a JSON integer
    finite_json: Text  # finite DOUBLE or NULL -> JSON element
    json_int: Text  # DOUBLE holding an integer, or NULL -> JSON integer element
    json_bool: Text  # bool or NULL -> JSON element
    array: Text  # list of JSON elements (NULL for a missing one) -> dynamic
    length: Text
    sum: Text  # sum of the non-null DOUBLEs of a list, 0 for none
    count: Text  # number of non-null elements of a list
    tab: Callable[[str, str, str], str]  # (n, i, body) -> [body for i in 1..n]
    isfinite: Text
    isnan: Text
    # (list of missing flags) -> per position, the index of the last present element at or before
    # it / the first at or after it, NULL if none
    prev_present: Text
    next_present: Text
    # (series text, bound raw elements, bound missing flags) -> every present element an integer
    all_ints: Callable[[str, str, str], str]


DUCKDB = Spell(
    ops=array_ops.DUCKDB,
    items=lambda a: f"coalesce(json_extract(CAST({a} AS JSON), '$[*]'), CAST([] AS JSON[]))",
    num=lambda e: (
        f"(CASE WHEN json_type({e}) IN ('BIGINT', 'UBIGINT', 'DOUBLE') THEN CAST({e} AS DOUBLE) END)"
    ),
    isint=lambda e: f"coalesce(json_type({e}) IN ('BIGINT', 'UBIGINT'), false)",
    finite_json=lambda x: f"to_json({x})",
    json_int=lambda x: f"to_json(CAST({x} AS BIGINT))",
    json_bool=lambda b: f"to_json({b})",
    array=lambda xs: f"to_json({xs})",
    length=lambda xs: f"len({xs})",
    sum=lambda xs: f"coalesce(list_sum({xs}), 0.0)",
    count=lambda xs: f"list_count({xs})",
    tab=lambda n, i, body: f"list_transform(range(1, {n} + 1), lambda {i}: {body})",
    isfinite=lambda x: f"isfinite({x})",
    isnan=lambda x: f"isnan({x})",
    # the nearest present element found in the slice on that side: quadratic, native loops
    prev_present=lambda m: (
        f"list_transform(range(1, len({m}) + 1), lambda _i: "
        f"_i + 1 - list_position(list_reverse(list_slice({m}, 1, _i)), false))"
    ),
    next_present=lambda m: (
        f"list_transform(range(1, len({m}) + 1), lambda _i: "
        f"_i - 1 + list_position(list_slice({m}, _i, len({m})), false))"
    ),
    all_ints=lambda _, xs, m: (
        f"(len(list_filter(range(1, len({m}) + 1), lambda _k: NOT list_extract({m}, _k) "
        f"AND NOT coalesce(json_type(list_extract({xs}, _k)) IN ('BIGINT', 'UBIGINT'), false))) = 0)"
    ),
)
CLICKHOUSE = Spell(
    ops=array_ops.CLICKHOUSE,
    items=lambda a: f"arrayMap(_r -> toNullable(_r), JSONExtractArrayRaw(ifNull({a}, '[]')))",
    num=lambda e: f"toFloat64OrNull({e})",
    isint=lambda e: f"ifNull(match({e}, '^-?[0-9]+$'), false)",
    finite_json=lambda x: f"toJSONString({x})",
    json_int=lambda x: f"toJSONString(toInt64({x}))",
    json_bool=lambda b: f"(CASE WHEN {b} THEN 'true' WHEN NOT {b} THEN 'false' END)",
    array=lambda xs: f"concat('[', arrayStringConcat(arrayMap(_z -> ifNull(_z, 'null'), {xs}), ','), ']')",
    length=lambda xs: f"length({xs})",
    sum=lambda xs: f"toFloat64(arraySum(arrayMap(_v -> ifNull(_v, 0), {xs})))",
    count=lambda xs: f"arrayCount(_v -> isNotNull(_v), {xs})",
    tab=lambda n, i, body: f"arrayMap({i} -> {body}, range(1, toUInt64({n}) + 1))",
    isfinite=lambda x: f"isFinite({x})",
    isnan=lambda x: f"isNaN({x})",
    # present positions keep their index, missing ones 0, then carried over the zeros: linear
    prev_present=lambda m: (
        f"arrayMap(_k -> nullIf(_k, 0), arrayFill(_k -> _k != 0, "
        f"arrayMap((_k, _q) -> if(_q, 0, _k), arrayEnumerate({m}), {m})))"
    ),
    next_present=lambda m: (
        f"arrayMap(_k -> nullIf(_k, 0), arrayReverseFill(_k -> _k != 0, "
        f"arrayMap((_k, _q) -> if(_q, 0, _k), arrayEnumerate({m}), {m})))"
    ),
    # read from the text: JSONExtractArrayRaw writes 111.0 as 111. A number with a fraction or an
    # exponent anywhere (even inside a string element) makes the series one of doubles.
    all_ints=lambda a, _, __: f"NOT match(ifNull({a}, ''), '[0-9][.eE]')",
)
SPELLS: dict[str, Spell] = {"duckdb": DUCKDB, "clickhouse": CLICKHOUSE}


def spell(call: A.Call, scope: Scope) -> Spell:
    s = SPELLS.get(scope.ctx.dialect.name)
    if s is None:
        raise KqlError("UnsupportedFunction", f"{call.name} is not supported by {scope.ctx.dialect.name}")
    return s


def let(s: Spell, var: str, value: str, body: str) -> str:
    """`body` with `var` bound to `value` (evaluated once)."""
    return s.ops.bind(var, value, body)


def json_double(s: Spell, x: str) -> str:
    """DOUBLE or NULL -> JSON element; NaN and infinities as JSON strings."""
    body = (
        f"(CASE WHEN _d IS NULL THEN NULL WHEN {s.isfinite('_d')} THEN {s.finite_json('_d')} "
        f"WHEN {s.isnan('_d')} THEN {s.finite_json(chr(39) + 'NaN' + chr(39))} "
        f"WHEN _d > 0 THEN {s.finite_json(chr(39) + 'Infinity' + chr(39))} "
        f"ELSE {s.finite_json(chr(39) + '-Infinity' + chr(39))} END)"
    )
    return let(s, "_d", x, body)


def nums(s: Spell, items: str) -> str:
    """The raw elements as DOUBLEs (NULL for a non-numeric element)."""
    return s.ops.map("_e", s.num("_e"), items)


DYNAMIC, BOOL = frozenset({"dynamic"}), frozenset({"bool"})


def expect(call: A.Call, vals: list[Typed], i: int, types: frozenset[str], what: str) -> None:
    """Refuses argument `i` unless its type is one of `types` (`what` names them)."""
    if vals[i].type not in types:
        raise KqlError("TypeMismatch", f"Argument {i + 1} of '{call.name}' must be {what}", *call.args[i].pos)
