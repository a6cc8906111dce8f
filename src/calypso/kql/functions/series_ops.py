"""Element-wise series_* functions (arithmetic, comparisons, math) and the registry of the series
array families (`SERIES_OPS`: these, the fills of `series_fill`, the reductions of
`series_vector` and series_stats_dynamic).

Invariant (Kusto's documented semantics): each result is a dynamic array with one element per
position; a position where an input element is not a JSON number, or is past the end of the shorter
array, gives null (so the result is as long as the longer array). Either argument of a binary
function may be a numeric scalar, used at every position of the other (array) argument.
- series_add / _subtract / _multiply: a long where both elements are integers, else a double.
- series_divide and series_pow: always doubles (2/0 is +inf, written "Infinity").
- series_greater / _greater_equals / _less / _less_equals / _equals / _not_equals: bools.
- series_abs keeps integers; series_sign gives longs -1, 0, 1; series_exp, series_log,
  series_floor, series_ceiling give doubles (series_log: -inf at 0, null below 0, as log() does).
"""

from __future__ import annotations

from collections.abc import Callable

from .. import ast as A
from ..binder import NUMERIC, Scope, Typed
from ..errors import KqlError
from .base import ScalarFn, agg_flag, args
from .series_arrays import DYNAMIC, Spell, expect, json_double, let, nums, spell
from .series_fill import SERIES_FILL
from .series_stats import series_stats_dynamic
from .series_vector import SERIES_VECTOR
from .template import render, slot

_INTEGRAL = frozenset({"int", "long"})


class _Operand:
    """One argument: an array (bound as `_x<k>` doubles and `_x<k>i` integer flags) or a scalar."""

    def __init__(self, call: A.Call, t: Typed, k: int) -> None:
        if t.type != "dynamic" and t.type not in NUMERIC:
            raise KqlError(
                "TypeMismatch",
                f"Argument {k + 1} of '{call.name}' must be a dynamic array or a number",
                *call.args[k].pos,
            )
        self.k, self.array, self.integral = k, t.type == "dynamic", t.type in _INTEGRAL
        self.var = f"_x{k}"

    def bind(self, s: Spell, body: str) -> str:
        if not self.array:
            return let(s, self.var, s.ops.to_double(slot(self.k)), body)
        items = s.items(slot(self.k))
        flags = s.ops.map("_e", s.isint("_e"), "_it")
        return let(s, "_it", items, let(s, self.var, nums(s, "_it"), let(s, self.var + "i", flags, body)))

    def value(self, s: Spell) -> str:
        return s.ops.at(self.var, "_i") if self.array else self.var

    def is_int(self, s: Spell) -> str:
        if not self.array:
            return "true" if self.integral else "false"
        return f"coalesce({s.ops.at(self.var + 'i', '_i')}, false)"


Body = Callable[[Spell, str, str, str], str]  # (spell, x, y, both-integers test) -> JSON element


def _binary(body: Body) -> ScalarFn:
    def build(call: A.Call, scope: Scope) -> Typed:
        vals = args(call, scope, 2)
        s = spell(call, scope)
        a, b = (_Operand(call, t, k) for k, t in enumerate(vals))
        if not (a.array or b.array):
            raise KqlError("TypeMismatch", f"'{call.name}' expects at least one dynamic array", *call.pos)
        arrays = [o.var for o in (a, b) if o.array]
        n = (
            s.length(arrays[0])
            if len(arrays) == 1
            else f"greatest({s.length(arrays[0])}, {s.length(arrays[1])})"
        )
        both_int = f"({a.is_int(s)} AND {b.is_int(s)})"
        element = body(s, a.value(s), b.value(s), both_int)
        text = a.bind(s, b.bind(s, s.array(s.tab(n, "_i", element))))
        sql = render(text, scope.ctx.dialect.sqlglot_dialect, vals[0].sql, vals[1].sql)
        return Typed(sql, "dynamic", agg_flag(*vals))

    return build


def _arith(op: str) -> Body:
    def body(s: Spell, x: str, y: str, both_int: str) -> str:
        r = f"({x} {op} {y})"
        # a result out of the long range stays a double (a cast would fail on DuckDB)
        fits = f"abs({r}) < 9.2e18"
        return f"CASE WHEN {both_int} AND {fits} THEN {s.json_int(r)} ELSE {json_double(s, r)} END"

    return body


def _double(f: Callable[[str, str], str]) -> Body:
    return lambda s, x, y, _: json_double(s, f(x, y))


def _compare(op: str) -> Body:
    return lambda s, x, y, _: s.json_bool(f"({x} {op} {y})")


Unary = Callable[[Spell, str, str], str]  # (spell, x, integer test) -> JSON element


def _unary(body: Unary) -> ScalarFn:
    def build(call: A.Call, scope: Scope) -> Typed:
        (t,) = vals = args(call, scope, 1)
        expect(call, vals, 0, DYNAMIC, "a dynamic array")
        s, o = spell(call, scope), _Operand(call, t, 0)
        text = o.bind(s, s.array(s.tab(s.length(o.var), "_i", body(s, o.value(s), o.is_int(s)))))
        return Typed(render(text, scope.ctx.dialect.sqlglot_dialect, t.sql), "dynamic", t.is_agg)

    return build


def _abs(s: Spell, x: str, is_int: str) -> str:
    return f"CASE WHEN {is_int} THEN {s.json_int(f'abs({x})')} ELSE {json_double(s, f'abs({x})')} END"


def _math(f: str) -> Unary:
    return lambda s, x, _: json_double(s, f"{f}({x})")


def _log(s: Spell, x: str, _: str) -> str:
    return json_double(s, f"(CASE WHEN {x} < 0 THEN NULL ELSE ln({x}) END)")


SERIES_OPS: dict[str, ScalarFn] = {
    "series_add": _binary(_arith("+")),
    "series_subtract": _binary(_arith("-")),
    "series_multiply": _binary(_arith("*")),
    "series_divide": _binary(_double(lambda x, y: f"({x} / {y})")),
    "series_pow": _binary(_double(lambda x, y: f"pow({x}, {y})")),
    "series_greater": _binary(_compare(">")),
    "series_greater_equals": _binary(_compare(">=")),
    "series_less": _binary(_compare("<")),
    "series_less_equals": _binary(_compare("<=")),
    "series_equals": _binary(_compare("=")),
    "series_not_equals": _binary(_compare("<>")),
    "series_abs": _unary(_abs),
    "series_sign": _unary(lambda s, x, _: s.json_int(f"sign({x})")),
    "series_exp": _unary(_math("exp")),
    "series_log": _unary(_log),
    "series_floor": _unary(_math("floor")),
    "series_ceiling": _unary(_math("ceil")),
    "series_stats_dynamic": series_stats_dynamic,
    **SERIES_FILL,
    **SERIES_VECTOR,
}
