"""series_fit_line and series_decompose_anomalies as pure SQL over engine arrays (2lines: series_fit2).

Invariant: every output is computed inside one SQL expression from the series alone (no UDFs): the
series is bound once with the "map over a one-element list" idiom (`list_transform([a], y -> ...)[1]`
on DuckDB, `arrayMap(y -> ..., [a])[1]` on ClickHouse), nulls count as 0, and x runs 1..n as in
Kusto (so `interception` is the line's value at x = 0). Fit results follow Kusto's documented
example: `variance` is the sample variance of the input, `rvariance` the sample variance of the
residuals, `rsquare` = 1 - rvariance / variance (1 for a constant series).

series_decompose_anomalies: baseline = trend ('avg' mean, 'linefit' linear fit, 'none' 0) plus,
for a positive seasonality p, the centred average of the de-trended series per position modulo p.
Seasonality -1 (auto-detect) is treated as no seasonality: a documented difference from Kusto.
ad_score is Tukey's fence on the residuals (ctukey: 10th-90th percentiles, tukey: 25th-75th,
linear interpolation): (r - q_hi) / iqr above, (r - q_lo) / iqr below, 0 inside or when iqr = 0;
ad_flag is +1 / -1 where the score passes +threshold / -threshold, else 0.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from sqlglot import exp

from .. import ast as A
from ..binder import Scope, Typed
from ..errors import KqlError
from ..scalars import translate
from .template import render, slot


@dataclass(frozen=True)
class ArrayOps:
    """The few array primitives the templates need, spelled per engine."""

    doubles: Callable[[str], str]  # dynamic (JSON) -> array of doubles with nulls as 0
    map: Callable[[str, str, str], str]  # (var, body, list) -> mapped list
    map2: Callable[[str, str, str, str], str]  # (v, i, body, list) -> map with 1-based index i
    sum: Callable[[str], str]
    length: Callable[[str], str]
    quantile: Callable[[str, float], str]
    to_dynamic: Callable[[str], str]
    at: Callable[[str, str], str]  # (list, 1-based index) -> element, as a call (not `x[i]`, see _parse)


DUCKDB = ArrayOps(
    doubles=lambda a: (
        f"list_transform(coalesce(try_cast(CAST({a} AS JSON) AS DOUBLE[]), []), lambda _v: coalesce(_v, 0.0))"
    ),
    map=lambda v, body, lst: f"list_transform({lst}, lambda {v}: {body})",
    map2=lambda v, i, body, lst: (
        f"list_transform(range(1, len({lst}) + 1), lambda {i}: "
        f"list_extract(list_transform([list_extract({lst}, {i})], lambda {v}: {body}), 1))"
    ),
    sum=lambda x: f"coalesce(list_sum({x}), 0.0)",
    length=lambda x: f"CAST(len({x}) AS DOUBLE)",
    quantile=lambda x, q: f"list_aggregate({x}, 'quantile_cont', {q})",
    to_dynamic=lambda x: f"to_json({x})",
    at=lambda x, i: f"list_extract({x}, {i})",
)
CLICKHOUSE = ArrayOps(
    doubles=lambda a: (
        f"arrayMap(_v -> ifNull(_v, 0.0), JSONExtract(ifNull({a}, '[]'), 'Array(Nullable(Float64))'))"
    ),
    map=lambda v, body, lst: f"arrayMap({v} -> {body}, {lst})",
    map2=lambda v, i, body, lst: f"arrayMap(({v}, {i}) -> {body}, {lst}, arrayEnumerate({lst}))",
    sum=lambda x: f"arraySum({x})",
    length=lambda x: f"toFloat64(length({x}))",
    quantile=lambda x, q: f"arrayReduce('quantileExactInclusive({q})', {x})",
    to_dynamic=lambda x: f"toJSONString({x})",
    at=lambda x, i: f"arrayElement({x}, {i})",
)
OPS: dict[str, ArrayOps] = {"duckdb": DUCKDB, "clickhouse": CLICKHOUSE}


class ListSpelling(Protocol):
    """What `_let` needs from an engine's spellings: `ArrayOps` here, and ipv6's and url's ops."""

    @property
    def map(self) -> Callable[[str, str, str], str]: ...  # (var, body, list) -> mapped list
    @property
    def at(self) -> Callable[[str, str], str]: ...  # (list, 1-based index) -> element


def _let(o: ListSpelling, var: str, value: str, body: str) -> str:
    """`body` with `var` bound to `value` (evaluated once)."""
    return o.at(o.map(var, body, f"[{value}]"), "1")


# ---- linear fit ----------------------------------------------------------------------------------
# _s = [n, sum y, sum i*y, sum y*y] over _y; closed forms for x = 1..n.
def _fit_stats(o: ArrayOps, y: str) -> str:
    sxy = o.sum(o.map2("_p", "_q", "_p * _q", y))
    return f"[{o.length(y)}, {o.sum(y)}, {sxy}, {o.sum(o.map('_w', '_w * _w', y))}]"


_N, _SY, _SXY, _SYY = "_s[1]", "_s[2]", "_s[3]", "_s[4]"
_SX = f"({_N} * ({_N} + 1) / 2.0)"
_SXX = f"({_N} * ({_N} + 1) * (2 * {_N} + 1) / 6.0)"
_DEN = f"({_N} * {_SXX} - {_SX} * {_SX})"
_SLOPE = f"(CASE WHEN {_DEN} = 0 THEN 0.0 ELSE ({_N} * {_SXY} - {_SX} * {_SY}) / {_DEN} END)"
_ICEPT = f"(CASE WHEN {_N} = 0 THEN 0.0 ELSE ({_SY} - {_SLOPE} * {_SX}) / {_N} END)"
_VAR = f"(CASE WHEN {_N} < 2 THEN 0.0 ELSE ({_SYY} - {_SY} * {_SY} / {_N}) / ({_N} - 1) END)"


def _line(o: ArrayOps, y: str) -> str:
    # intercept and slope bound once, not spelled out (and computed) for every element
    return _let(o, "_ln", f"[{_ICEPT}, {_SLOPE}]", o.map2("_p", "_q", "_ln[1] + _ln[2] * _q", y))


def _sample_var(o: ArrayOps, xs: str) -> str:
    """Sample variance of `xs` (bound once as `_sv`: the formula reads it six times)."""
    n, s, ss = o.length("_sv"), o.sum("_sv"), o.sum(o.map("_w", "_w * _w", "_sv"))
    return _let(o, "_sv", xs, f"(CASE WHEN {n} < 2 THEN 0.0 ELSE ({ss} - {s} * {s} / {n}) / ({n} - 1) END)")


def _rvar(o: ArrayOps, y: str) -> str:
    resid = _let(o, "_ln", f"[{_ICEPT}, {_SLOPE}]", o.map2("_p", "_q", "_p - (_ln[1] + _ln[2] * _q)", y))
    return _sample_var(o, resid)


def _fit_part(o: ArrayOps, y: str, part: str) -> str:
    body = {
        "slope": _SLOPE,
        "interception": _ICEPT,
        "variance": _VAR,
        "rvariance": _rvar(o, "_y"),
        "rsquare": f"(CASE WHEN {_VAR} = 0 THEN 1.0 ELSE 1 - {_rvar(o, '_y')} / {_VAR} END)",
        "line_fit": o.to_dynamic(_line(o, "_y")),
    }[part]
    return _let(o, "_y", y, _let(o, "_s", _fit_stats(o, "_y"), body))


FIT_LINE_PARTS = (
    ("rsquare", "real"),
    ("slope", "real"),
    ("variance", "real"),
    ("rvariance", "real"),
    ("interception", "real"),
    ("line_fit", "dynamic"),
)


def _series_arg(call: A.Call, scope: Scope) -> tuple[ArrayOps, str, exp.Expression]:
    """The engine's operations, the series' doubles as template text (over `slot(0)`), the series."""
    o = OPS.get(scope.ctx.dialect.name)
    if o is None:
        raise KqlError("UnsupportedFunction", f"{call.name} is not supported by {scope.ctx.dialect.name}")
    if not call.args:
        raise KqlError("SyntaxError", f"{call.name}() expects a series", *call.pos)
    a = translate(call.args[0], scope)
    return o, o.doubles(slot(0)), a.sql


# `_name[i]` / `_name[i][j]` in the templates: spelled as calls before parsing, because sqlglot
# re-derives the index offset of every `x[i]` it parses by walking the subtree (quadratic here).
_INDEXED = re.compile(r"\b(_[A-Za-z]\w*)((?:\[\w+\])+)")


def index_calls(o: ArrayOps, text: str) -> str:
    """`text` with every `_name[i]...` written with `o.at`."""

    def call(m: re.Match[str]) -> str:
        out = m.group(1)
        for i in re.findall(r"\[(\w+)\]", m.group(2)):
            out = o.at(out, i)
        return out

    return _INDEXED.sub(call, text)


def _parse(text: str, scope: Scope, *slots: exp.Expression) -> exp.Expression:
    o = OPS[scope.ctx.dialect.name]
    return render(index_calls(o, text), scope.ctx.dialect.sqlglot_dialect, *slots)


def series_fit_line(call: A.Call, scope: Scope, index: int) -> Typed:
    if len(call.args) != 1:
        raise KqlError("SyntaxError", "series_fit_line() expects one series", *call.pos)
    o, y, series = _series_arg(call, scope)
    part, kusto_type = FIT_LINE_PARTS[index]
    return Typed(_parse(_fit_part(o, y, part), scope, series), kusto_type)


# ---- decompose + anomalies -----------------------------------------------------------------------
def _int_arg(call: A.Call, i: int, default: int) -> int:
    if len(call.args) <= i:
        return default
    a = call.args[i]
    sign = 1
    if isinstance(a, A.Unary) and a.op == "-":
        sign, a = -1, a.operand
    if isinstance(a, A.Literal) and isinstance(a.value, int) and not isinstance(a.value, bool):
        return sign * a.value
    raise KqlError("TypeMismatch", f"Argument {i + 1} of '{call.name}' must be an integer literal", *a.pos)


def _str_arg(call: A.Call, i: int, default: str, allowed: tuple[str, ...]) -> str:
    if len(call.args) <= i:
        return default
    a = call.args[i]
    if not (isinstance(a, A.Literal) and isinstance(a.value, str)) or a.value not in allowed:
        raise KqlError(
            "TypeMismatch",
            f"Argument {i + 1} of '{call.name}' must be one of {', '.join(repr(x) for x in allowed)}",
            *a.pos,
        )
    return a.value


def _trend(o: ArrayOps, y: str, kind: str) -> str:
    n = o.length(y)
    if kind == "none":
        return o.map("_p", "0.0", y)
    if kind == "avg":
        return _let(o, "_m", f"(CASE WHEN {n} = 0 THEN 0.0 ELSE {o.sum(y)} / {n} END)", o.map("_p", "_m", y))
    return _let(o, "_s", _fit_stats(o, y), _line(o, y))


def _seasonal(o: ArrayOps, y: str, period: int) -> str:
    """Centred per-phase average of `y` (phase = position modulo `period`)."""
    same_phase = o.map2("_p", "_q", f"CASE WHEN _q % {period} = _k % {period} THEN _p ELSE 0.0 END", y)
    # number of same-phase points among positions 1..n (phase = (_k - 1) % p, 0-based)
    avg = f"({o.sum(same_phase)} / (floor(({o.length(y)} - 1 - (_k - 1) % {period}) / {period}) + 1))"
    phase = o.map2("_r", "_k", avg, y)
    return _let(o, "_ph", phase, o.map("_z", f"_z - {o.sum('_ph')} / {o.length('_ph')}", "_ph"))


def _add(o: ArrayOps, a: str, b: str) -> str:
    return _let(o, "_b2", b, o.map2("_p", "_q", "_p + _b2[_q]", a))


def _baseline(o: ArrayOps, y: str, period: int, trend: str) -> str:
    if period <= 0:
        return _trend(o, y, trend)
    seasonal = _seasonal(o, y, period)
    return _let(
        o,
        "_se",
        seasonal,
        _add(o, "_se", _trend(o, o.map2("_p", "_q", "_p - _se[_q]", y), trend)),
    )


def _scores(o: ArrayOps, resid: str, lo: float, hi: float) -> str:
    """Tukey scores of the residuals (bound once: the fences and the map read them, 3 times)."""
    q = f"[{o.quantile('_rs', lo)}, {o.quantile('_rs', hi)}]"
    body = (
        "CASE WHEN _t[2] - _t[1] <= 0 THEN 0.0 "
        "WHEN _p > _t[2] THEN (_p - _t[2]) / (_t[2] - _t[1]) "
        "WHEN _p < _t[1] THEN (_p - _t[1]) / (_t[2] - _t[1]) ELSE 0.0 END"
    )
    return _let(o, "_rs", resid, _let(o, "_t", q, o.map("_p", body, "_rs")))


ANOMALY_PARTS = (("ad_flag", "dynamic"), ("ad_score", "dynamic"), ("baseline", "dynamic"))
_TUKEY = {"ctukey": (0.1, 0.9), "tukey": (0.25, 0.75)}


def series_decompose_anomalies(call: A.Call, scope: Scope, index: int) -> Typed:
    if not 1 <= len(call.args) <= 7:
        raise KqlError("SyntaxError", "series_decompose_anomalies() expects 1 to 7 arguments", *call.pos)
    o, y, series = _series_arg(call, scope)
    threshold, slots = "1.5", [series]
    if len(call.args) > 1:
        t = translate(call.args[1], scope)
        if t.type not in ("int", "long", "real", "decimal"):
            raise KqlError(
                "TypeMismatch", "series_decompose_anomalies() threshold must be a number", *call.pos
            )
        threshold, slots = f"CAST({slot(1)} AS DOUBLE)", [series, t.sql]
    period = _int_arg(call, 2, -1)
    trend = _str_arg(call, 3, "avg", ("avg", "linefit", "none"))
    if _int_arg(call, 4, 0) != 0:
        raise KqlError(
            "UnsupportedFunction", "series_decompose_anomalies() supports Test_points = 0 only", *call.pos
        )
    lo, hi = _TUKEY[_str_arg(call, 5, "ctukey", tuple(_TUKEY))]
    # three templates, each read into the next as an argument (not as text): the baseline's and the
    # scores' texts are then parsed once per process for all three outputs, not once per output
    baseline = _parse(_let(o, "_y", y, _baseline(o, "_y", period, trend)), scope, series)
    part = ANOMALY_PARTS[index][0]
    if part == "baseline":
        return Typed(_parse(o.to_dynamic(slot(0)), scope, baseline), "dynamic")
    resid = _let(o, "_bl", slot(1), o.map2("_p", "_q", "_p - _bl[_q]", "_y"))
    scores = _parse(_let(o, "_y", y, _scores(o, resid, lo, hi)), scope, series, baseline)
    if part == "ad_score":
        return Typed(_parse(o.to_dynamic(slot(0)), scope, scores), "dynamic")
    flag = f"CASE WHEN _p > {threshold} THEN 1 WHEN _p < -{threshold} THEN -1 ELSE 0 END"
    return Typed(_parse(o.to_dynamic(o.map("_p", flag, slot(0))), scope, scores, *slots[1:]), "dynamic")


def decompose_anomalies_flags(call: A.Call, scope: Scope) -> Typed:
    """Single-column use `x = series_decompose_anomalies(s, ...)`: the ad_flag series."""
    return series_decompose_anomalies(call, scope, 0)
