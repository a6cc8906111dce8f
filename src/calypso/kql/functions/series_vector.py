"""Series reduced to a real: series_pearson_correlation, series_dot_product,
series_cosine_similarity, series_magnitude, series_sum, series_product.

Invariant (Kusto's documented semantics):
- series_pearson_correlation(a, b): null when the arrays differ in length, are empty, or hold any
  element that is not a JSON number; else the sample correlation coefficient.
- series_dot_product(a, b): the longer array is cut to the shorter one's length, elements that are
  not numbers are skipped, either argument may be a numeric scalar (used at every position); null
  when an array is empty.
- series_cosine_similarity(a, b [, magnitude_a [, magnitude_b]]): dot product over magnitudes (each
  computed over the cut arrays unless given), same cutting, skipping and null-when-empty rules.
- series_magnitude(a): sqrt(series_dot_product(a, a)); series_sum / series_product: sum and
  product of the numeric elements (null for an empty array).
"""

from __future__ import annotations

from .. import ast as A
from ..binder import NUMERIC, Scope, Typed
from ..errors import KqlError
from .base import ScalarFn, agg_flag, args
from .series_arrays import DYNAMIC, Spell, expect, let, nums, spell
from .template import render, slot

_PRODUCT = {
    "duckdb": "list_product({})",
    "clickhouse": "arrayProduct(arrayMap(_v -> assumeNotNull(_v), arrayFilter(_v -> isNotNull(_v), {})))",
}


def _real(call: A.Call, scope: Scope, text: str, *vals: Typed) -> Typed:
    return Typed(
        render(text, scope.ctx.dialect.sqlglot_dialect, *(v.sql for v in vals)), "real", agg_flag(*vals)
    )


def series_pearson_correlation(call: A.Call, scope: Scope) -> Typed:
    a, b = vals = args(call, scope, 2)
    expect(call, vals, 0, DYNAMIC, "a dynamic array")
    expect(call, vals, 1, DYNAMIC, "a dynamic array")
    s = spell(call, scope)
    n = s.length("_x")
    sxy = s.sum(s.tab(n, "_i", f"({s.ops.at('_x', '_i')} - _mx) * ({s.ops.at('_y', '_i')} - _my)"))
    sxx = s.sum(s.ops.map("_v", "(_v - _mx) * (_v - _mx)", "_x"))
    syy = s.sum(s.ops.map("_v", "(_v - _my) * (_v - _my)", "_y"))
    r = let(
        s,
        "_mx",
        f"{s.sum('_x')} / {n}",
        let(s, "_my", f"{s.sum('_y')} / {n}", f"{sxy} / sqrt({sxx} * {syy})"),
    )
    invalid = f"{n} <> {s.length('_y')} OR {n} = 0 OR {s.count('_x')} < {n} OR {s.count('_y')} < {n}"
    body = f"CASE WHEN {invalid} THEN NULL ELSE {r} END"
    text = let(s, "_x", nums(s, s.items(slot(0))), let(s, "_y", nums(s, s.items(slot(1))), body))
    return _real(call, scope, text, a, b)


def _operand(call: A.Call, s: Spell, t: Typed, k: int) -> tuple[str, bool]:
    """The operand's text (a list of doubles or a double) and whether it is an array."""
    if t.type == "dynamic":
        return nums(s, s.items(slot(k))), True
    if t.type in NUMERIC:
        return s.ops.to_double(slot(k)), False
    raise KqlError(
        "TypeMismatch",
        f"Argument {k + 1} of '{call.name}' must be a dynamic array or a number",
        *call.args[k].pos,
    )


def _cut(s: Spell, arrays: list[str]) -> str:
    lens = [s.length(v) for v in arrays]
    return lens[0] if len(lens) == 1 else f"least({', '.join(lens)})"


def series_dot_product(call: A.Call, scope: Scope) -> Typed:
    a, b = args(call, scope, 2)
    s = spell(call, scope)
    (xa, arr_a), (xb, arr_b) = _operand(call, s, a, 0), _operand(call, s, b, 1)
    if not (arr_a or arr_b):
        raise KqlError("TypeMismatch", "'series_dot_product' expects at least one dynamic array", *call.pos)
    n = _cut(s, [v for v, arr in (("_x", arr_a), ("_y", arr_b)) if arr])
    x = s.ops.at("_x", "_i") if arr_a else "_x"
    y = s.ops.at("_y", "_i") if arr_b else "_y"
    body = f"CASE WHEN {n} = 0 THEN NULL ELSE {s.sum(s.tab(n, '_i', f'{x} * {y}'))} END"
    return _real(call, scope, let(s, "_x", xa, let(s, "_y", xb, body)), a, b)


def series_cosine_similarity(call: A.Call, scope: Scope) -> Typed:
    vals = args(call, scope, 2, 4)
    expect(call, vals, 0, DYNAMIC, "a dynamic array")
    expect(call, vals, 1, DYNAMIC, "a dynamic array")
    s = spell(call, scope)
    n = _cut(s, ["_x", "_y"])
    dot = s.sum(s.tab(n, "_i", f"{s.ops.at('_x', '_i')} * {s.ops.at('_y', '_i')}"))
    mags = []
    for k, v in ((2, "_x"), (3, "_y")):
        if len(vals) > k:
            expect(call, vals, k, NUMERIC, "a number")
            mags.append(s.ops.to_double(slot(k)))
        else:
            e = s.ops.at(v, "_i")
            mags.append(f"sqrt({s.sum(s.tab(n, '_i', f'{e} * {e}'))})")
    body = f"CASE WHEN {n} = 0 THEN NULL ELSE {dot} / ({mags[0]} * {mags[1]}) END"
    text = let(s, "_x", nums(s, s.items(slot(0))), let(s, "_y", nums(s, s.items(slot(1))), body))
    return _real(call, scope, text, *vals)


def _reduce(f: str) -> ScalarFn:
    """series_sum / series_product / series_magnitude of the numeric elements (null when empty)."""

    def build(call: A.Call, scope: Scope) -> Typed:
        (a,) = vals = args(call, scope, 1)
        expect(call, vals, 0, DYNAMIC, "a dynamic array")
        s = spell(call, scope)
        value = {
            "sum": s.sum("_x"),
            "product": _PRODUCT[scope.ctx.dialect.name].format("_x"),
            "magnitude": f"sqrt({s.sum(s.ops.map('_v', '_v * _v', '_x'))})",
        }[f]
        body = f"CASE WHEN {s.length('_x')} = 0 THEN NULL ELSE CAST({value} AS DOUBLE) END"
        return _real(call, scope, let(s, "_x", nums(s, s.items(slot(0))), body), a)

    return build


SERIES_VECTOR: dict[str, ScalarFn] = {
    "series_pearson_correlation": series_pearson_correlation,
    "series_dot_product": series_dot_product,
    "series_cosine_similarity": series_cosine_similarity,
    "series_magnitude": _reduce("magnitude"),
    "series_sum": _reduce("sum"),
    "series_product": _reduce("product"),
}
