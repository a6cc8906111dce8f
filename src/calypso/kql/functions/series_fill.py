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
from ..errors import KqlError
from .base import agg_flag, args
from .series_arrays import Spell, json_double, let, spell
from .template import render, slot

_DOUBLE = {"duckdb": "CAST({} AS DOUBLE)", "clickhouse": "CAST({} AS Nullable(Float64))"}


class _Args:
    """Slots of a call: each argument's SQL goes in once, read by its slot text."""

    def __init__(self) -> None:
        self.sql: list[exp.Expression] = []

    def add(self, e: exp.Expression) -> str:
        self.sql.append(e)
        return slot(len(self.sql) - 1)


def _number(call: A.Call, t: Typed, i: int) -> None:
    if t.type not in NUMERIC:
        raise KqlError(
            "TypeMismatch", f"Argument {i + 1} of '{call.name}' must be a number", *call.args[i].pos
        )


def _series(call: A.Call, t: Typed) -> None:
    if t.type != "dynamic":
        raise KqlError(
            "TypeMismatch", f"Argument 1 of '{call.name}' must be a dynamic array", *call.args[0].pos
        )


def _missing(s: Spell, scope: Scope, placeholder: str | None) -> str:
    """Text of 'element `_e` is missing'."""
    if placeholder is None:
        return f"({s.num('_e')} IS NULL)"
    p = _DOUBLE[scope.ctx.dialect.name].format(placeholder)
    return f"(CASE WHEN {p} IS NULL THEN {s.num('_e')} IS NULL ELSE coalesce({s.num('_e')} = {p}, false) END)"


def _bound(s: Spell, scope: Scope, series: str, placeholder: str | None, body: str) -> str:
    """`body` with `_s` the series' raw elements and `_m` their missing flags."""
    mask = s.map("_e", _missing(s, scope, placeholder), "_s")
    return let(s, "_raw", series, let(s, "_s", s.items("_raw"), let(s, "_m", mask, body)))


def _done(scope: Scope, text: str, a: _Args, vals: list[Typed]) -> Typed:
    return Typed(render(text, scope.ctx.dialect.sqlglot_dialect, *a.sql), "dynamic", agg_flag(*vals))


def series_fill_const(call: A.Call, scope: Scope) -> Typed:
    vals = args(call, scope, 2, 3)
    s, a = spell(call, scope), _Args()
    _series(call, vals[0])
    _number(call, vals[1], 1)
    series = a.add(vals[0].sql)
    const = a.add(scope.ctx.dialect.to_json(vals[1].sql, vals[1].type))
    placeholder = None
    if len(vals) > 2:
        _number(call, vals[2], 2)
        placeholder = a.add(vals[2].sql)
    body = s.map(
        "_e", f"CASE WHEN {_missing(s, scope, placeholder)} THEN {const} ELSE _e END", s.items(series)
    )
    return _done(scope, s.array(body), a, vals)


def _fill_side(call: A.Call, scope: Scope, forward: bool) -> Typed:
    vals = args(call, scope, 1, 2)
    s, a = spell(call, scope), _Args()
    _series(call, vals[0])
    series = a.add(vals[0].sql)
    placeholder = None
    if len(vals) > 1:
        _number(call, vals[1], 1)
        placeholder = a.add(vals[1].sql)
    near = s.prev_present("_m") if forward else s.next_present("_m")
    fill = s.tab(s.length("_s"), "_i", f"coalesce({s.at('_s', s.at('_n', '_i'))}, {s.at('_s', '_i')})")
    return _done(scope, s.array(_bound(s, scope, series, placeholder, let(s, "_n", near, fill))), a, vals)


def series_fill_forward(call: A.Call, scope: Scope) -> Typed:
    return _fill_side(call, scope, True)


def series_fill_backward(call: A.Call, scope: Scope) -> Typed:
    return _fill_side(call, scope, False)


def series_fill_linear(call: A.Call, scope: Scope) -> Typed:
    vals = args(call, scope, 1, 4)
    s, a = spell(call, scope), _Args()
    _series(call, vals[0])
    series = a.add(vals[0].sql)
    placeholder = None
    if len(vals) > 1:
        _number(call, vals[1], 1)
        placeholder = a.add(vals[1].sql)
    edges = "true"
    if len(vals) > 2:
        if vals[2].type != "bool":
            raise KqlError(
                "TypeMismatch", "Argument 3 of 'series_fill_linear' must be a bool", *call.args[2].pos
            )
        edges = f"coalesce({a.add(vals[2].sql)}, false)"
    const = s.finite_json("CAST(0.0 AS DOUBLE)")
    if len(vals) > 3:
        _number(call, vals[3], 3)
        const = a.add(scope.ctx.dialect.to_json(vals[3].sql, vals[3].type))
    p, q = s.at("_p", "_i"), s.at("_q", "_i")
    vp, vq = s.num(s.at("_s", p)), s.num(s.at("_s", q))
    interp = f"({vp} + ({vq} - {vp}) * (_i - {p}) / ({q} - {p}))"
    value = f"CASE WHEN _ints THEN {s.json_int(s.trunc(interp))} ELSE {json_double(s, interp)} END"
    element = (
        f"CASE WHEN NOT {s.at('_m', '_i')} THEN {s.at('_s', '_i')} "
        f"WHEN _present = 0 THEN {const} "
        f"WHEN {p} IS NOT NULL AND {q} IS NOT NULL THEN {value} "
        f"WHEN {edges} THEN coalesce({s.at('_s', p)}, {s.at('_s', q)}) "
        f"ELSE {s.at('_s', '_i')} END"
    )
    present = s.count(s.map("_e", "CASE WHEN _e THEN NULL ELSE 1 END", "_m"))
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


SERIES_FILL = {
    "series_fill_const": series_fill_const,
    "series_fill_forward": series_fill_forward,
    "series_fill_backward": series_fill_backward,
    "series_fill_linear": series_fill_linear,
}
