"""series_fit_2lines as pure SQL over engine arrays (the templates of `series_fit`).

Kusto's documented method: every split of the series into a left and a right part is tried, a line
is fitted to each part with series_fit_line(), and the split with the highest total r-square wins.
Invariant (our reading where the documentation is silent, stated here so it can be checked):

- a split k = 1..n-1 puts points 0..k-1 on the left and k..n-1 on the right (both non-empty);
  `split_idx` is k, the zero-based index of the first point of the right part;
- each part is fitted as series_fit_line() would fit it alone, so x runs 1..size on each side and
  `right_interception` is the right line's value one step before its first point;
- the total r-square is 1 - (SSE_left + SSE_right) / SST of the whole series (1 for a constant
  series); ties go to the smallest k, comparing r-squares rounded to 9 decimals so that float noise
  does not pick the split;
- `variance` is the sample variance of the series, `rvariance` the sample variance of the residuals
  of both lines ((SSE_left + SSE_right) / (n - 1), as least-squares residuals have zero mean); the
  per-side values follow series_fit_line (sample variances, rsquare 1 for a constant part);
- a series of fewer than 2 points has no split: every output is null.

Everything is computed from the series by closed forms over prefix sums (sum y, sum i*y, sum y*y;
arrayCumSum on ClickHouse, a sum per prefix on DuckDB), so each candidate split costs O(1) after
them. All outputs come from one record (a list of double lists) that multi-assignment computes once
per row in a hidden column (`fit_2lines_record`, `fit_2lines_part`), not once per output.
"""

from __future__ import annotations

from collections.abc import Callable

from sqlglot import exp

from .. import ast as A
from ..binder import Scope, Typed
from ..errors import KqlError
from .series_fit import _ICEPT, _SLOPE, OPS, ArrayOps, _fit_stats, _let, _series_arg, index_calls
from .template import render, slot

FIT_2LINES_PARTS = (
    ("rsquare", "real"),
    ("split_idx", "long"),
    ("variance", "real"),
    ("rvariance", "real"),
    ("line_fit", "dynamic"),
    ("right_rsquare", "real"),
    ("right_slope", "real"),
    ("right_interception", "real"),
    ("right_variance", "real"),
    ("right_rvariance", "real"),
    ("left_rsquare", "real"),
    ("left_slope", "real"),
    ("left_interception", "real"),
    ("left_variance", "real"),
    ("left_rvariance", "real"),
)

# Per engine: running sums of a list, the candidate splits 1..len-1, and the 1-based position of
# the smallest element.
_CUMSUM: dict[str, Callable[[str], str]] = {
    "duckdb": lambda x: f"list_transform(range(1, len({x}) + 1), lambda _j: list_sum({x}[1:_j]))",
    "clickhouse": lambda x: f"arrayCumSum({x})",
}
_SPLITS: dict[str, Callable[[str], str]] = {
    "duckdb": lambda x: f"range(1, len({x}))",
    "clickhouse": lambda x: f"range(1, length({x}))",
}
_ARGMIN: dict[str, Callable[[str], str]] = {
    "duckdb": lambda x: f"list_position({x}, list_min({x}))",
    "clickhouse": lambda x: f"indexOf({x}, arrayMin({x}))",
}


def _on(v: str, template: str) -> str:
    """A series_fit template over the stats array `v` = [n, sum y, sum x*y, sum y*y] (x = 1..n)."""
    return template.replace("_s[", f"{v}[")


def _sst(v: str) -> str:
    return f"(CASE WHEN {v}[1] = 0 THEN 0.0 ELSE {v}[4] - {v}[2] * {v}[2] / {v}[1] END)"


def _sse(v: str) -> str:
    """Residual sum of squares of the least-squares line: SST - slope * centred sum of x*y."""
    sx = f"({v}[1] * ({v}[1] + 1) / 2.0)"
    centred = f"({v}[3] - {sx} * {v}[2] / {v}[1])"
    return f"(CASE WHEN {v}[1] = 0 THEN 0.0 ELSE {_sst(v)} - {_on(v, _SLOPE)} * {centred} END)"


def _sample(v: str, sum_sq: str) -> str:
    return f"(CASE WHEN {v}[1] < 2 THEN 0.0 ELSE {sum_sq} / ({v}[1] - 1) END)"


# Bound names (few lambda levels: DuckDB's binding time doubles with each nested lambda):
# _y the series; _c = [[n, sum y, sum x*y, sum y*y], prefix sums of y, of x*y, of y*y];
# _k the best split; _lr = [stats of the left part, stats of the right part];
# _f = [slope, interception, SST, SSE] of the left line then of the right line.
_T, _CY, _CXY, _CYY = "_c[1]", "_c[2]", "_c[3]", "_c[4]"
_L, _R = "_lr[1]", "_lr[2]"


def _parts(k: str) -> str:
    """[left stats, right stats] of split `k`; the right part's x restarts at 1."""
    left = f"[{k}, {_CY}[{k}], {_CXY}[{k}], {_CYY}[{k}]]"
    sy = f"({_T}[2] - {_CY}[{k}])"
    right = f"[{_T}[1] - {k}, {sy}, ({_T}[3] - {_CXY}[{k}]) - {k} * {sy}, {_T}[4] - {_CYY}[{k}]]"
    return f"[{left}, {right}]"


def _fits() -> str:
    return f"[{', '.join(f'{_on(v, _SLOPE)}, {_on(v, _ICEPT)}, {_sst(v)}, {_sse(v)}' for v in (_L, _R))}]"


def _ratio(sse: str, sst: str) -> str:
    return f"(CASE WHEN {sst} <= 0 THEN 1.0 ELSE 1 - {sse} / {sst} END)"


def _body(part: str) -> str:
    """Scalar `part` of the best split, with _y, _c, _k, _lr and _f bound."""
    if part in ("rsquare", "variance", "rvariance"):
        total_sse = "(_f[4] + _f[8])"
        return {
            "rsquare": _ratio(total_sse, _sst(_T)),
            "variance": _sample(_T, _sst(_T)),
            "rvariance": _sample(_T, total_sse),
        }[part]
    side, name = part.split("_", 1)
    v, at = (_L, 0) if side == "left" else (_R, 4)
    slope, icept, sst, sse = (f"_f[{at + i}]" for i in (1, 2, 3, 4))
    return {
        "rsquare": _ratio(sse, sst),
        "slope": slope,
        "interception": icept,
        "variance": _sample(v, sst),
        "rvariance": _sample(v, sse),
    }[name]


def _record(o: ArrayOps, dialect: str, y: str) -> str:
    """Every output at once, as a list of double lists: [[n], [rsquare], [split_idx], ...]."""
    per_split = _let(o, "_lr", _parts("_i"), f"{_sse(_L)} + {_sse(_R)}")
    score = f"(CASE WHEN {_sst(_T)} <= 0 THEN 0.0 ELSE round(({per_split}) / {_sst(_T)}, 9) END)"
    scores = o.map("_i", score, _SPLITS[dialect]("_y"))
    outputs = [f"[{_T}[1]]"]
    for part, _ in FIT_2LINES_PARTS:
        if part == "line_fit":
            line = "CASE WHEN _q <= _k THEN _f[2] + _f[1] * _q ELSE _f[6] + _f[5] * (_q - _k) END"
            outputs.append(o.map2("_p", "_q", line, "_y"))
        elif part == "split_idx":
            outputs.append("[CAST(_k AS DOUBLE)]")
        else:
            outputs.append(f"[{_body(part)}]")
    body = _let(o, "_f", _fits(), f"[{', '.join(outputs)}]")
    body = _let(o, "_lr", _parts("_k"), body)
    body = _let(o, "_k", _ARGMIN[dialect](scores), body)
    cumsum = _CUMSUM[dialect]
    sums = [
        _fit_stats(o, "_y"),
        cumsum("_y"),
        cumsum(o.map2("_p", "_q", "_p * _q", "_y")),
        cumsum(o.map("_w", "_w * _w", "_y")),
    ]
    body = _let(o, "_c", f"[{', '.join(sums)}]", body)
    return index_calls(o, _let(o, "_y", y, body))


def _part(o: ArrayOps, dialect: str, record: str, index: int) -> str:
    """Output `index` of a record made by `_record` (null for a series of fewer than 2 points)."""
    kusto_type = FIT_2LINES_PARTS[index][1]
    value = o.at(record, str(index + 2))
    value = o.to_dynamic(value) if kusto_type == "dynamic" else o.at(value, "1")
    value = f"(CASE WHEN {o.at(o.at(record, '1'), '1')} < 2 THEN NULL ELSE {value} END)"
    if kusto_type == "long":
        value = f"CAST({value} AS {'Nullable(Int64)' if dialect == 'clickhouse' else 'BIGINT'})"
    return value


def fit_2lines_record(call: A.Call, scope: Scope) -> Typed:
    """The engine list every output is read from (computed once per row by multi-assignment)."""
    if len(call.args) != 1:
        raise KqlError("SyntaxError", "series_fit_2lines() expects one series", *call.pos)
    o, y, series = _series_arg(call, scope)
    text = _record(o, scope.ctx.dialect.name, y)
    return Typed(render(text, scope.ctx.dialect.sqlglot_dialect, series), "dynamic")


def fit_2lines_part(record: exp.Expression, index: int, scope: Scope) -> Typed:
    o = OPS[scope.ctx.dialect.name]
    text = _part(o, scope.ctx.dialect.name, slot(0), index)
    return Typed(render(text, scope.ctx.dialect.sqlglot_dialect, record), FIT_2LINES_PARTS[index][1])


def series_fit_2lines(call: A.Call, scope: Scope, index: int) -> Typed:
    """Output `index` alone (the record computed inline)."""
    rec = fit_2lines_record(call, scope)
    return fit_2lines_part(rec.sql, index, scope)
