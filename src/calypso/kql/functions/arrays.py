"""Dynamic-array functions: set_union/intersect/difference, zip, array_sort_*, array_reverse,
array_sum, array_iff, array_rotate_*, array_shift_*, array_split, jaccard_index, range(); `ARRAYS`
also carries the property-bag functions of `array_bags`.

Invariant: Kusto's documented semantics on both engines, from one template per function over
`array_ops` (elements compared as minified JSON text). Sets keep first-seen order without
duplicates; array_sort_* orders numbers, then strings, then everything else, with nulls last unless
`nulls_last` is false. An argument that must be an array and is not (null, a scalar, a bag) makes
the result null. Limits, stated so they can be checked: array_sort_* takes one array (the form
sorting several arrays returns several columns and is refused); array_shift_* fills with null by
default; jaccard_index of two empty sets is null.
"""

from __future__ import annotations

from sqlglot import exp

from .. import ast as A
from ..binder import NUMERIC, Scope, Typed
from ..dialects.base import fn, lit
from ..errors import KqlError
from .array_bags import BAGS
from .array_ops import ArrayOps, emit, ops_for
from .base import ScalarFn, args
from .datetime import format_timespan_sql
from .template import slot

MAX_RANGE = 1048576  # Kusto truncates range() at 2^20 values
HOUR_TICKS = 36_000_000_000  # range()'s default step for datetimes and timespans


def _dynamic_args(call: A.Call, scope: Scope, lo: int, hi: int) -> tuple[ArrayOps, list[Typed]]:
    o = ops_for(scope, call.name)
    vals = args(call, scope, lo, hi)
    for a, v in zip(call.args, vals, strict=True):
        if v.type != "dynamic":
            raise KqlError("TypeMismatch", f"{call.name}() expects dynamic arrays, got {v.type}", *a.pos)
    return o, vals


def _when_arrays(o: ArrayOps, n: int, body: str) -> str:
    test = " AND ".join(o.is_array(slot(i)) for i in range(n))
    return f"(CASE WHEN {test} THEN {body} END)"


def _bind_all(o: ArrayOps, pairs: list[tuple[str, str]], body: str) -> str:
    for var, value in reversed(pairs):
        body = o.bind(var, value, body)
    return body


def _distinct(o: ArrayOps, lst: str) -> str:
    """`lst` without repeats, each value where it first appears."""
    return o.filter_indexed("_kqx", "_kqi", f"{o.position(lst, '_kqx')} = _kqi", lst)


def _set_union(call: A.Call, scope: Scope) -> Typed:
    o, vals = _dynamic_args(call, scope, 2, 64)
    all_ = o.concat([o.elements(slot(i)) for i in range(len(vals))])
    body = o.bind("_kqu", all_, o.to_dynamic(_distinct(o, "_kqu")))
    return emit(_when_arrays(o, len(vals), body), scope, vals)


def _set_filter(keep_common: bool) -> ScalarFn:
    """set_intersect (keep_common) or set_difference."""

    def build(call: A.Call, scope: Scope) -> Typed:
        o, vals = _dynamic_args(call, scope, 2, 64)
        others = [f"_kqs{i}" for i in range(1, len(vals))]
        tests = [o.contains(v, "_kqy") for v in others]
        cond = " AND ".join(tests) if keep_common else " AND ".join(f"NOT {t}" for t in tests)
        body = o.to_dynamic(o.filter("_kqy", cond, _distinct(o, "_kqs0")))
        pairs = [(f"_kqs{i}", o.elements(slot(i))) for i in range(len(vals))]
        return emit(_when_arrays(o, len(vals), _bind_all(o, pairs, body)), scope, vals)

    return build


def _jaccard_index(call: A.Call, scope: Scope) -> Typed:
    o, vals = _dynamic_args(call, scope, 2, 2)
    common = o.length(o.filter("_kqy", o.contains("_kqb", "_kqy"), "_kqa"))
    union = f"({o.length('_kqa')} + {o.length('_kqb')} - {common})"
    ratio = f"(CASE WHEN {union} = 0 THEN NULL ELSE {o.to_double(common)} / {union} END)"
    pairs = [("_kqa", _distinct(o, o.elements(slot(0)))), ("_kqb", _distinct(o, o.elements(slot(1))))]
    return emit(_when_arrays(o, 2, _bind_all(o, pairs, ratio)), scope, vals, "real")


def _zip(call: A.Call, scope: Scope) -> Typed:
    o, vals = _dynamic_args(call, scope, 2, 16)
    names = [f"_kqz{i}" for i in range(len(vals))]
    longest = f"greatest({', '.join(o.length(n) for n in names)})"
    row = "[" + ", ".join(o.at_or_null(n, "_kqi") for n in names) + "]"
    body = o.nested(o.map("_kqi", row, o.one_to(longest)))
    pairs = [(n, o.elements(slot(i))) for i, n in enumerate(names)]
    return emit(_when_arrays(o, len(vals), _bind_all(o, pairs, body)), scope, vals)


def _sort(desc: bool) -> ScalarFn:
    """array_sort_desc (desc) or array_sort_asc."""

    def build(call: A.Call, scope: Scope) -> Typed:
        o = ops_for(scope, call.name)
        vals = args(call, scope, 1, 2)
        if len(vals) == 2 and vals[1].type == "dynamic":
            raise KqlError(
                "UnsupportedFunction",
                f"{call.name}() of several arrays (one column per array) is not supported",
                *call.pos,
            )
        if vals[0].type != "dynamic" or (len(vals) == 2 and vals[1].type != "bool"):
            raise KqlError(
                "TypeMismatch", f"{call.name}() expects a dynamic array and a bool nulls_last", *call.pos
            )
        # the whole key is reversed for a descending sort, so nulls go last with the lowest rank there
        last, first = ("-1", "9") if desc else ("9", "-1")
        null_rank = (
            last if len(vals) == 1 else f"(CASE WHEN coalesce({slot(1)}, true) THEN {last} ELSE {first} END)"
        )
        x = "_kqx"
        kind = o.kind(x)
        rank = (
            f"(CASE {kind} WHEN 'null' THEN {null_rank} WHEN 'number' THEN 0 WHEN 'string' THEN 1 ELSE 3 END)"
        )
        number = f"(CASE WHEN {kind} = 'number' THEN {o.number(x)} ELSE {o.to_double('0')} END)"
        string = f"(CASE WHEN {kind} = 'string' THEN {o.string(x)} ELSE '' END)"
        key = o.key([rank, number, string, o.text(x)])
        body = o.to_dynamic(o.sort(x, key, o.elements(slot(0)), desc))
        return emit(_when_arrays(o, 1, body), scope, vals)

    return build


def _reverse(call: A.Call, scope: Scope) -> Typed:
    o, vals = _dynamic_args(call, scope, 1, 1)
    return emit(_when_arrays(o, 1, o.to_dynamic(o.reverse(o.elements(slot(0))))), scope, vals)


def _sum(call: A.Call, scope: Scope) -> Typed:
    o, vals = _dynamic_args(call, scope, 1, 1)
    others = o.length(o.filter("_kqx", f"{o.kind('_kqx')} <> 'number'", "_kql"))
    total = o.sum(o.map("_kqx", o.number("_kqx"), "_kql"))
    body = o.bind("_kql", o.elements(slot(0)), f"(CASE WHEN {others} = 0 THEN {total} END)")
    return emit(_when_arrays(o, 1, body), scope, vals, "real")


def _count_arg(call: A.Call, vals: list[Typed], i: int) -> None:
    if vals[i].type not in ("int", "long"):
        raise KqlError(
            "TypeMismatch", f"Argument {i + 1} of {call.name}() must be an integer", *call.args[i].pos
        )


def _rotate(sign: str) -> ScalarFn:
    """array_rotate_left (sign "") or array_rotate_right (sign "-")."""

    def build(call: A.Call, scope: Scope) -> Typed:
        o = ops_for(scope, call.name)
        vals = args(call, scope, 2, 2)
        _count_arg(call, vals, 1)
        n, size = f"({sign}{o.int64(slot(1))})", o.length("_kql")
        source = f"((((_kqi - 1 + {n}) % {size}) + {size}) % {size} + 1)"
        rotated = o.to_dynamic(o.map("_kqi", o.at("_kql", source), o.one_to(size)))
        body = o.bind(
            "_kql",
            o.elements(slot(0)),
            f"(CASE WHEN {size} = 0 THEN {o.to_dynamic('_kql')} ELSE {rotated} END)",
        )
        return emit(
            f"(CASE WHEN {o.is_array(slot(0))} AND {slot(1)} IS NOT NULL THEN {body} END)", scope, vals
        )

    return build


def _shift(sign: str) -> ScalarFn:
    """array_shift_left (sign "") or array_shift_right (sign "-")."""

    def build(call: A.Call, scope: Scope) -> Typed:
        o = ops_for(scope, call.name)
        vals = args(call, scope, 2, 3)
        _count_arg(call, vals, 1)
        if len(vals) == 3:
            fill = f"coalesce({slot(2)}, {o.null})"
            vals[2] = Typed(scope.ctx.dialect.to_json(vals[2].sql, vals[2].type), "dynamic", vals[2].is_agg)
        else:
            fill = o.null
        source = f"(_kqi + {sign}{o.int64(slot(1))})"
        size = o.length("_kql")
        item = f"(CASE WHEN {source} BETWEEN 1 AND {size} THEN {o.at('_kql', source)} ELSE {fill} END)"
        body = o.bind("_kql", o.elements(slot(0)), o.to_dynamic(o.map("_kqi", item, o.one_to(size))))
        return emit(
            f"(CASE WHEN {o.is_array(slot(0))} AND {slot(1)} IS NOT NULL THEN {body} END)", scope, vals
        )

    return build


def _branch(o: ArrayOps, t: Typed, i: int, scope: Scope) -> tuple[str, Typed]:
    """The values one side of array_iff takes: an array's elements, or a scalar repeated."""
    repeated = o.repeat(f"coalesce({slot(i)}, {o.null})", o.length("_kqc"))
    if t.type == "dynamic":
        return f"(CASE WHEN {o.is_array(slot(i))} THEN {o.elements(slot(i))} ELSE {repeated} END)", t
    return repeated, Typed(scope.ctx.dialect.to_json(t.sql, t.type), "dynamic", t.is_agg)


def _array_iff(call: A.Call, scope: Scope) -> Typed:
    o = ops_for(scope, call.name)
    vals = args(call, scope, 3, 3)
    if vals[0].type != "dynamic":
        raise KqlError(
            "TypeMismatch", f"{call.name}() expects a dynamic array of conditions", *call.args[0].pos
        )
    when_true, vals[1] = _branch(o, vals[1], 1, scope)
    when_false, vals[2] = _branch(o, vals[2], 2, scope)
    c = o.at("_kqc", "_kqi")
    yes, no = o.at_or_null("_kqt", "_kqi"), o.at_or_null("_kqf", "_kqi")
    item = (
        f"(CASE {o.kind(c)} WHEN 'bool' THEN (CASE WHEN {o.text(c)} = 'true' THEN {yes} ELSE {no} END) "
        f"WHEN 'number' THEN (CASE WHEN {o.number(c)} <> 0 THEN {yes} ELSE {no} END) ELSE {o.null} END)"
    )
    body = o.to_dynamic(o.map("_kqi", item, o.one_to(o.length("_kqc"))))
    pairs = [("_kqc", o.elements(slot(0))), ("_kqt", when_true), ("_kqf", when_false)]
    return emit(_when_arrays(o, 1, _bind_all(o, pairs, body)), scope, vals)


def _array_split(call: A.Call, scope: Scope) -> Typed:
    o = ops_for(scope, call.name)
    vals = args(call, scope, 2, 2)
    if vals[0].type != "dynamic":
        raise KqlError("TypeMismatch", f"{call.name}() expects a dynamic array", *call.args[0].pos)
    size = o.length("_kql")
    if vals[1].type == "dynamic":
        raw = o.map("_kqv", o.int64(o.number("_kqv")), o.elements(slot(1)))
    elif vals[1].type in ("int", "long"):
        raw = f"[{o.int64(slot(1))}]"
    else:
        raise KqlError("TypeMismatch", f"{call.name}() expects integer split indices", *call.args[1].pos)
    # negative indices count from the end; all are clamped to the array
    bound = f"least(greatest(CASE WHEN _kqv < 0 THEN _kqv + {size} ELSE _kqv END, 0), {size})"
    zero = o.int64("0")
    bounds = o.concat([f"[{zero}]", o.map("_kqv", bound, raw), f"[{size}]"])
    lo, hi = o.at("_kqb", "_kqk"), o.at("_kqb", "_kqk + 1")
    parts = o.map("_kqk", o.slice("_kql", f"{lo} + 1", f"{hi} - {lo}"), o.one_to(f"{o.length('_kqb')} - 1"))
    body = _bind_all(o, [("_kql", o.elements(slot(0)))], o.bind("_kqb", bounds, o.nested(parts)))
    return emit(_when_arrays(o, 1, body), scope, vals)


def _range_kind(call: A.Call, vals: list[Typed]) -> str:
    """'number', 'datetime' or 'timespan': the kinds of start, stop and step Kusto accepts."""
    types = [v.type for v in vals]
    if all(t in NUMERIC for t in types):
        return "number"
    if types[0] == "datetime" and types[1] == "datetime" and types[2:] in ([], ["timespan"]):
        return "datetime"
    if all(t == "timespan" for t in types):
        return "timespan"
    raise KqlError("TypeMismatch", f"range() cannot step from {types[0]} to {types[1]}", *call.pos)


def _sql_text(e: exp.Expression, scope: Scope) -> str:
    return e.sql(dialect=scope.ctx.dialect.sqlglot_dialect)


def _range(call: A.Call, scope: Scope) -> Typed:
    o = ops_for(scope, call.name)
    vals = args(call, scope, 2, 3)
    kind = _range_kind(call, vals)
    d = scope.ctx.dialect
    value = exp.column("_kqv")  # an element in the unit the steps are counted in
    if kind == "number":
        num = o.to_double if any(v.type in ("real", "decimal") for v in vals) else o.int64
        start, stop = num(slot(0)), num(slot(1))
        step = num(slot(2)) if len(vals) == 3 else num("1")
        element = "_kqv"
    elif kind == "datetime":  # in microseconds, the engines' datetime resolution
        start, stop = (o.int64(_sql_text(d.epoch_us(exp.column(slot(i))), scope)) for i in (0, 1))
        step = f"({o.int64(slot(2)) if len(vals) == 3 else HOUR_TICKS} / 10)"
        step = o.int64(f"floor({step})")
        iso = d.format_datetime_iso(d.from_epoch_us(value))
        element = _sql_text(d.concat(fn("substring", iso, lit(1), lit(26)), lit("0Z")), scope)  # 7 digits
    else:
        start, stop = o.int64(slot(0)), o.int64(slot(1))
        step = o.int64(slot(2)) if len(vals) == 3 else str(HOUR_TICKS)
        element = _sql_text(format_timespan_sql(value, scope), scope)
    span = o.to_double(f"{stop} - {start}")
    steps = o.int64(f"floor({span} / {step})")
    count = f"least(greatest((CASE WHEN {step} = 0 THEN 0 ELSE {steps} + 1 END), 0), {MAX_RANGE})"
    values = o.map("_kqv", element, o.map("_kqi", f"{start} + (_kqi - 1) * {step}", o.one_to(count)))
    present = " AND ".join(f"{slot(i)} IS NOT NULL" for i in range(len(vals)))
    as_json = "to_json" if o.sql_dialect == "duckdb" else "toJSONString"
    return emit(f"(CASE WHEN {present} THEN {as_json}({values}) END)", scope, vals)


ARRAYS: dict[str, ScalarFn] = {
    "set_union": _set_union,
    "set_intersect": _set_filter(keep_common=True),
    "set_difference": _set_filter(keep_common=False),
    "jaccard_index": _jaccard_index,
    "zip": _zip,
    "array_sort_asc": _sort(desc=False),
    "array_sort_desc": _sort(desc=True),
    "array_reverse": _reverse,
    "array_sum": _sum,
    "array_rotate_left": _rotate(""),
    "array_rotate_right": _rotate("-"),
    "array_shift_left": _shift(""),
    "array_shift_right": _shift("-"),
    "array_iff": _array_iff,
    "array_iif": _array_iff,
    "array_split": _array_split,
    "range": _range,
    **BAGS,
}
