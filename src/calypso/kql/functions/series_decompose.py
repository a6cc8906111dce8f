"""series_decompose, series_decompose_forecast and series_outliers as pure SQL over engine arrays.

Invariant: each output is one SQL expression over the series alone, built with series_fit's
templates and ArrayOps (series bound once, nulls as 0 for the decompositions, x = 1..n).

series_decompose(y [, seasonality, trend, test_points, seasonality_threshold]) follows Kusto's
documented order: seasonal = median of the same-phase points of y (phase = position modulo the
period, as series_seasonal), trend extracted from y - seasonal ('avg' mean, the default, 'linefit'
linear fit, 'none' 0), baseline = seasonal + trend, residual = y - baseline. The last test_points
points take no part in the learning (the medians, the mean, the fit) but get every component, the
line extended over them. Seasonality -1 (auto-detect, the default) is treated as no seasonality,
like 0: a documented difference from Kusto; seasonality_threshold (read only by auto-detection) is
accepted and ignored. series_decompose_forecast(y, points [, seasonality, trend, threshold]) is the
same with points as test_points; its outputs are series_decompose's (the forecast is the baseline).

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
from .series_fit import OPS, ArrayOps, _fit_stats, _int_arg, _let, _line, _parse, _series_arg, _str_arg
from .template import slot

DECOMPOSE_PARTS = (
    ("baseline", "dynamic"),
    ("seasonal", "dynamic"),
    ("trend", "dynamic"),
    ("residual", "dynamic"),
)


# the first m elements of a list, and a list's length as a signed integer (m = n - test points)
_PREFIX = {
    "duckdb": lambda lst, m: f"list_slice({lst}, 1, {m})",
    "clickhouse": lambda lst, m: f"arraySlice({lst}, 1, {m})",
}
_LEN = {"duckdb": lambda lst: f"len({lst})", "clickhouse": lambda lst: f"toInt64(length({lst}))"}


def _seasonal(o: ArrayOps, y: str, period: int, learned: str) -> str:
    """Median of the learned points (position <= `learned`) of `y` in each position's phase."""
    if period <= 0:
        return o.map("_p", "0.0", y)
    same = f"_q % {period} = _k % {period} AND _q <= {learned}"
    phase = o.map2("_p", "_q", f"CASE WHEN {same} THEN _p ELSE NULL END", y)
    # coalesce: not Nullable on ClickHouse, where the sums of the trend refuse Nullable elements; a
    # phase with no learned point has no seasonal part
    return o.map2("_r", "_k", f"coalesce({o.quantile(phase, 0.5)}, 0.0)", y)


def _trend(o: ArrayOps, ds: str, kind: str, learn: str) -> str:
    """The trend of `ds` learned from its prefix `learn` (avg: its mean; linefit: its line, extended)."""
    if kind == "none":
        return o.map("_p", "0.0", ds)
    if kind == "avg":
        n = o.length(learn)
        return _let(
            o, "_m", f"(CASE WHEN {n} = 0 THEN 0.0 ELSE {o.sum(learn)} / {n} END)", o.map("_p", "_m", ds)
        )
    return _let(o, "_s", _fit_stats(o, learn), _line(o, ds))


def _decompose(o: ArrayOps, dialect: str, y: str, period: int, trend: str, points: int, part: str) -> str:
    body = {
        "seasonal": "_se",
        "trend": "_tr",
        "baseline": o.map2("_p", "_q", "_p + _tr[_q]", "_se"),
        "residual": o.map2("_p", "_q", "_p - _se[_q] - _tr[_q]", "_y"),
    }[part]
    learned = f"({_LEN[dialect]('_y')} - {points})"
    learn = _PREFIX[dialect]("_ds", f"greatest({learned}, 0)") if points else "_ds"
    deseasoned = o.map2("_p", "_q", "_p - _se[_q]", "_y")
    with_trend = _let(o, "_ds", deseasoned, _let(o, "_tr", _trend(o, "_ds", trend, learn), body))
    return _let(o, "_y", y, _let(o, "_se", _seasonal(o, "_y", period, learned), with_trend))


def _build(call: A.Call, scope: Scope, part: str, forecast: bool) -> Typed:
    """series_decompose(y, period, trend, points, threshold) or _forecast(y, points, period, trend, threshold)."""
    if not (2 if forecast else 1) <= len(call.args) <= 5:
        what = "2 to 5" if forecast else "1 to 5"
        raise KqlError("SyntaxError", f"{call.name}() expects {what} arguments", *call.pos)
    o, y, series = _series_arg(call, scope)
    i_points, i_period = (1, 2) if forecast else (3, 1)
    period = _int_arg(call, i_period, -1)
    trend = _str_arg(call, i_period + 1, "avg", ("avg", "linefit", "none"))
    points = _int_arg(call, i_points, 0)
    if points < 0:
        raise KqlError("TypeMismatch", f"{call.name}() test points must not be negative", *call.pos)
    if len(call.args) > 4 and translate(call.args[4], scope).type not in ("int", "long", "real", "decimal"):
        raise KqlError("TypeMismatch", f"{call.name}() Seasonality_threshold must be a number", *call.pos)
    text = o.to_dynamic(_decompose(o, scope.ctx.dialect.name, y, period, trend, points, part))
    return Typed(_parse(text, scope, series), "dynamic")


def series_decompose(call: A.Call, scope: Scope, index: int) -> Typed:
    return _build(call, scope, DECOMPOSE_PARTS[index][0], forecast=False)


def series_decompose_forecast(call: A.Call, scope: Scope, index: int) -> Typed:
    return _build(call, scope, DECOMPOSE_PARTS[index][0], forecast=True)


def decompose_baseline(call: A.Call, scope: Scope) -> Typed:
    """Single-column use `x = series_decompose(s, ...)`: the baseline series."""
    return series_decompose(call, scope, 0)


def forecast_baseline(call: A.Call, scope: Scope) -> Typed:
    """`x = series_decompose_forecast(s, points, ...)`: the forecast, i.e. the baseline series."""
    return series_decompose_forecast(call, scope, 0)


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


assert set(_NULLABLE) == set(_PREFIX) == set(_LEN) == set(OPS)
