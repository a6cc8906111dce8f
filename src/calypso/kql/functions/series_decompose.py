"""series_decompose and series_outliers as pure SQL over engine arrays (reusing series_fit's ArrayOps).

Invariant: each output is one SQL expression over the series alone, built with series_fit's
templates (series bound once, nulls as 0 for series_decompose, x = 1..n).

series_decompose(y [, seasonality, trend, test_points, seasonality_threshold]) follows Kusto's
documented order: seasonal = median of the same-phase points of y (phase = position modulo the
period, as series_seasonal), trend extracted from y - seasonal ('avg' mean, the default, 'linefit'
linear fit, 'none' 0), baseline = seasonal + trend, residual = y - baseline. Seasonality -1
(auto-detect, the default) is treated as no seasonality, like 0: a documented difference from
Kusto; seasonality_threshold (only read by auto-detection) is accepted and ignored; test_points
other than 0 are refused.

series_outliers(y [, kind, ignore_val, min_percentile, max_percentile]) scores each point with
Tukey's fences on the percentiles (ctukey: min/max, default 10/90; tukey: 25/75) of the points that
are neither null nor ignore_val, linear interpolation: (v - q_hi) / iqr above, (v - q_lo) / iqr
below, 0 inside, for null or ignored points, or when iqr = 0.
"""

from __future__ import annotations

from .. import ast as A
from ..binder import Scope, Typed
from ..errors import KqlError
from ..scalars import translate
from .series_fit import OPS, ArrayOps, _int_arg, _let, _parse, _series_arg, _str_arg, _trend
from .template import slot

DECOMPOSE_PARTS = (
    ("baseline", "dynamic"),
    ("seasonal", "dynamic"),
    ("trend", "dynamic"),
    ("residual", "dynamic"),
)


def _seasonal(o: ArrayOps, y: str, period: int) -> str:
    """Median of the points of `y` in the same phase as each position (0 without a period)."""
    if period <= 0:
        return o.map("_p", "0.0", y)
    same = o.map2("_p", "_q", f"CASE WHEN _q % {period} = _k % {period} THEN _p ELSE NULL END", y)
    # coalesce: not Nullable on ClickHouse, where the sums of the trend refuse Nullable elements
    return o.map2("_r", "_k", f"coalesce({o.quantile(same, 0.5)}, 0.0)", y)


def _decompose(o: ArrayOps, y: str, period: int, trend: str, part: str) -> str:
    body = {
        "seasonal": "_se",
        "trend": "_tr",
        "baseline": o.map2("_p", "_q", "_p + _tr[_q]", "_se"),
        "residual": o.map2("_p", "_q", "_p - _se[_q] - _tr[_q]", "_y"),
    }[part]
    deseasoned = o.map2("_p", "_q", "_p - _se[_q]", "_y")
    with_trend = _let(o, "_ds", deseasoned, _let(o, "_tr", _trend(o, "_ds", trend), body))
    return _let(o, "_y", y, _let(o, "_se", _seasonal(o, "_y", period), with_trend))


def series_decompose(call: A.Call, scope: Scope, index: int) -> Typed:
    if not 1 <= len(call.args) <= 5:
        raise KqlError("SyntaxError", "series_decompose() expects 1 to 5 arguments", *call.pos)
    o, y, series = _series_arg(call, scope)
    period = _int_arg(call, 1, -1)
    trend = _str_arg(call, 2, "avg", ("avg", "linefit", "none"))
    if _int_arg(call, 3, 0) != 0:
        raise KqlError("UnsupportedFunction", "series_decompose() supports Test_points = 0 only", *call.pos)
    if len(call.args) > 4 and translate(call.args[4], scope).type not in ("int", "long", "real", "decimal"):
        raise KqlError("TypeMismatch", "series_decompose() Seasonality_threshold must be a number", *call.pos)
    text = o.to_dynamic(_decompose(o, y, period, trend, DECOMPOSE_PARTS[index][0]))
    return Typed(_parse(text, scope, series), "dynamic")


def decompose_baseline(call: A.Call, scope: Scope) -> Typed:
    """Single-column use `x = series_decompose(s, ...)`: the baseline series."""
    return series_decompose(call, scope, 0)


# ---- series_outliers -----------------------------------------------------------------------------
# the series with its nulls kept (they score 0 and take no part in the percentiles)
_NULLABLE = {
    "duckdb": lambda a: f"coalesce(try_cast(CAST({a} AS JSON) AS DOUBLE[]), [])",
    "clickhouse": lambda a: f"JSONExtract(ifNull({a}, '[]'), 'Array(Nullable(Float64))')",
}


def _percentile_arg(call: A.Call, i: int, default: float) -> float:
    if len(call.args) <= i:
        return default
    a = call.args[i]
    if not (isinstance(a, A.Literal) and isinstance(a.value, int | float) and not isinstance(a.value, bool)):
        raise KqlError("TypeMismatch", f"Argument {i + 1} of '{call.name}' must be a number literal", *a.pos)
    if not 2.0 <= a.value <= 98.0:
        raise KqlError("TypeMismatch", f"Argument {i + 1} of '{call.name}' must be in [2.0, 98.0]", *a.pos)
    return float(a.value)


def series_outliers(call: A.Call, scope: Scope) -> Typed:
    if not 1 <= len(call.args) <= 5:
        raise KqlError("SyntaxError", "series_outliers() expects 1 to 5 arguments", *call.pos)
    o, _, series = _series_arg(call, scope)
    kind = _str_arg(call, 1, "ctukey", ("ctukey", "tukey"))
    lo, hi = _percentile_arg(call, 3, 10.0), _percentile_arg(call, 4, 90.0)
    if kind == "tukey":
        lo, hi = 25.0, 75.0
    if lo >= hi:
        raise KqlError(
            "TypeMismatch", "series_outliers() min_percentile must be below max_percentile", *call.pos
        )
    slots = [series]
    keep = "_p"
    if len(call.args) > 2:
        ignore = translate(call.args[2], scope)
        if ignore.type not in ("int", "long", "real", "decimal"):
            raise KqlError("TypeMismatch", "series_outliers() ignore_val must be a number", *call.pos)
        slots.append(ignore.sql)
        keep = f"CASE WHEN _p = {slot(1)} THEN NULL ELSE _p END"
    values = o.map("_p", keep, _NULLABLE[scope.ctx.dialect.name](slot(0)))
    fences = f"[{o.quantile('_xs', lo / 100)}, {o.quantile('_xs', hi / 100)}]"
    score = (
        "CASE WHEN _p IS NULL OR NOT (_t[2] - _t[1] > 0) THEN 0.0 "
        "WHEN _p > _t[2] THEN (_p - _t[2]) / (_t[2] - _t[1]) "
        "WHEN _p < _t[1] THEN (_p - _t[1]) / (_t[2] - _t[1]) ELSE 0.0 END"
    )
    text = o.to_dynamic(_let(o, "_xs", values, _let(o, "_t", fences, o.map("_p", score, "_xs"))))
    return Typed(_parse(text, scope, *slots), "dynamic")


assert set(_NULLABLE) == set(OPS)
