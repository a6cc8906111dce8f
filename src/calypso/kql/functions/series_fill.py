"""series_fill_const / _forward / _backward / _linear: missing values of a series filled in SQL.

Invariant (Kusto's documented semantics): an element is missing when it equals
missing_value_placeholder (compared as a number); with the default placeholder (null; double(null),
long(null) and int(null) alike) every element that is not a JSON number is missing. Elements that
are not missing are returned unchanged, so the array keeps its elements' types.
- series_fill_const(s, c [, p]): each missing element becomes c.
- series_fill_forward(s [, p]) / series_fill_backward(s [, p]): the nearest element on the left
  (right) that is not missing; the leading (trailing) missing elements stay.
- series_fill_linear(s [, p [, fill_edges [, c]]]): a missing element between two present ones is
  interpolated linearly by position, truncated toward zero to a long when every present element is
  an integer (as Kusto's int example shows: 73.5 -> 73, 32.67 -> 32); edges take the nearest present
  value when fill_edges (default true) and stay otherwise; an array with no present element is all
  c (default 0.0), whatever fill_edges says.
ClickHouse prints a whole double without a fraction (1.0 as 1), so there a series of whole doubles
made by make-series reads as integers and series_fill_linear truncates its interpolated values.
"""

from __future__ import annotations

from sqlglot import exp

from .. import ast as A
from ..binder import NUMERIC, Scope, Typed
from .base import ScalarFn, agg_flag, args
from .series_arrays import BOOL, DYNAMIC, Spell, expect, json_double, let, spell
from .template import render, slot

_DOUBLE = {"duckdb": "CAST({} AS DOUBLE)", "clickhouse": "CAST({} AS Nullable(Float64))"}


class _Args:
    """Slots of a call: each argument's SQL goes in once, read by its slot text."""

    def __init__(self) -> None:
        self.sql: list[exp.Expression] = []

    def add(self, e: exp.Expression) -> str:
        self.sql.append(e)
        return slot(len(self.sql) - 1)


def _start(call: A.Call, scope: Scope, lo: int, hi: int) -> tuple[list[Typed], Spell, _Args, str]:
    """The call's arguments, the engine's spelling, the slots and the series' slot (the first)."""
    vals = args(call, scope, lo, hi)
    s, a = spell(call, scope), _Args()
    expect(call, vals, 0, DYNAMIC, "a dynamic array")
    return vals, s, a, a.add(vals[0].sql)


def _placeholder(call: A.Call, vals: list[Typed], i: int, a: _Args) -> str | None:
    """The slot of missing_value_placeholder, argument `i` when given (a number)."""
    if len(vals) <= i:
        return None
    expect(call, vals, i, NUMERIC, "a number")
    return a.add(vals[i].sql)


def _missing(s: Spell, scope: Scope, placeholder: str | None) -> str:
    """Text of 'element `_e` is missing'."""
    if placeholder is None:
        return f"({s.num('_e')} IS NULL)"
    p = _DOUBLE[scope.ctx.dialect.name].format(placeholder)
    return f"(CASE WHEN {p} IS NULL THEN {s.num('_e')} IS NULL ELSE coalesce({s.num('_e')} = {p}, false) END)"


def _bound(s: Spell, scope: Scope, series: str, placeholder: str | None, body: str) -> str:
    """`body` with `_s` the series' raw elements and `_m` their missing flags."""
    mask = s.ops.map("_e", _missing(s, scope, placeholder), "_s")
    return let(s, "_raw", series, let(s, "_s", s.items("_raw"), let(s, "_m", mask, body)))


def _done(scope: Scope, text: str, a: _Args, vals: list[Typed]) -> Typed:
    return Typed(render(text, scope.ctx.dialect.sqlglot_dialect, *a.sql), "dynamic", agg_flag(*vals))


def series_fill_const(call: A.Call, scope: Scope) -> Typed:
    vals, s, a, series = _start(call, scope, 2, 3)
    expect(call, vals, 1, NUMERIC, "a number")
    const = a.add(scope.ctx.dialect.to_json(vals[1].sql, vals[1].type))
    placeholder = _placeholder(call, vals, 2, a)
    body = s.ops.map(
        "_e", f"CASE WHEN {_missing(s, scope, placeholder)} THEN {const} ELSE _e END", s.items(series)
    )
    return _done(scope, s.array(body), a, vals)


def _fill_side(forward: bool) -> ScalarFn:
    """series_fill_forward (forward) or series_fill_backward."""

    def build(call: A.Call, scope: Scope) -> Typed:
        vals, s, a, series = _start(call, scope, 1, 2)
        placeholder = _placeholder(call, vals, 1, a)
        near = s.prev_present("_m") if forward else s.next_present("_m")
        at = s.ops.at
        fill = s.tab(s.length("_s"), "_i", f"coalesce({at('_s', at('_n', '_i'))}, {at('_s', '_i')})")
        body = _bound(s, scope, series, placeholder, let(s, "_n", near, fill))
        return _done(scope, s.array(body), a, vals)

    return build


def series_fill_linear(call: A.Call, scope: Scope) -> Typed:
    vals, s, a, series = _start(call, scope, 1, 4)
    placeholder = _placeholder(call, vals, 1, a)
    edges = "true"
    if len(vals) > 2:
        expect(call, vals, 2, BOOL, "a bool")
        edges = f"coalesce({a.add(vals[2].sql)}, false)"
    const = s.finite_json("CAST(0.0 AS DOUBLE)")
    if len(vals) > 3:
        expect(call, vals, 3, NUMERIC, "a number")
        const = a.add(scope.ctx.dialect.to_json(vals[3].sql, vals[3].type))
    p, q = s.ops.at("_p", "_i"), s.ops.at("_q", "_i")
    vp, vq = s.num(s.ops.at("_s", p)), s.num(s.ops.at("_s", q))
    interp = f"({vp} + ({vq} - {vp}) * (_i - {p}) / ({q} - {p}))"
    value = f"CASE WHEN _ints THEN {s.json_int(f'trunc({interp})')} ELSE {json_double(s, interp)} END"
    element = (
        f"CASE WHEN NOT {s.ops.at('_m', '_i')} THEN {s.ops.at('_s', '_i')} "
        f"WHEN _present = 0 THEN {const} "
        f"WHEN {p} IS NOT NULL AND {q} IS NOT NULL THEN {value} "
        f"WHEN {edges} THEN coalesce({s.ops.at('_s', p)}, {s.ops.at('_s', q)}) "
        f"ELSE {s.ops.at('_s', '_i')} END"
    )
    present = s.count(s.ops.map("_e", "CASE WHEN _e THEN NULL ELSE 1 END", "_m"))
    ints = s.all_ints("_raw", "_s", "_m")
    body = let(
        s,
        "_p",
        s.prev_present("_m"),
        let(
            s,
            "_q",
            s.next_present("_m"),
            let(
                s,
                "_present",
                present,
                let(s, "_ints", ints, s.tab(s.length("_s"), "_i", element)),
            ),
        ),
    )
    return _done(scope, s.array(_bound(s, scope, series, placeholder, body)), a, vals)


SERIES_FILL: dict[str, ScalarFn] = {
    "series_fill_const": series_fill_const,
    "series_fill_forward": _fill_side(forward=True),
    "series_fill_backward": _fill_side(forward=False),
    "series_fill_linear": series_fill_linear,
}
