"""series_stats_dynamic(series [, ignore_nonfinite]): a series' statistics as one dynamic bag.

Invariant (Kusto's documented semantics): the bag holds, in this order, min, min_idx, max,
max_idx, avg, stdev, variance, sum and len: min_idx / max_idx are the 0-based first positions of the
extremes in the input, variance and stdev are the sample ones (0 for fewer than two values), len is
the input array's length. An element that is not a JSON number (null, a string, ...) is a
non-finite value: by default its presence makes every statistic but len null; with
ignore_nonfinite = true the statistics are taken over the numeric elements only. An empty array
gives null statistics and len 0.
"""

from __future__ import annotations

from .. import ast as A
from ..binder import Scope, Typed
from ..errors import KqlError
from .base import agg_flag, args
from .series_arrays import BOOL, expect, let, nums, spell
from .template import render, slot

_KEYS = ("min", "min_idx", "max", "max_idx", "avg", "stdev", "variance", "sum", "len")

# per engine: the numeric elements of `_x` without nulls, an extreme, its first 0-based position,
# and the bag of the statistics (key, SQL value) pairs
_PRESENT = {
    "duckdb": "list_filter(_x, lambda _v: _v IS NOT NULL)",
    "clickhouse": "arrayMap(_v -> assumeNotNull(_v), arrayFilter(_v -> isNotNull(_v), _x))",
}
_EXTREME = {"duckdb": "list_{}(_f)", "clickhouse": "array{}(_f)"}
_POSITION = {"duckdb": "(list_position(_x, {}) - 1)", "clickhouse": "(toInt64(indexOf(_x, {})) - 1)"}


def _bag(dialect: str, pairs: list[tuple[str, str]]) -> str:
    if dialect == "duckdb":
        return "json_object(" + ", ".join(f"'{k}', {v}" for k, v in pairs) + ")"
    parts = []
    for i, (k, v) in enumerate(pairs):
        opener = "{" if i == 0 else ","
        parts.append(f"'{opener}\"{k}\":', ifNull(toJSONString({v}), 'null')")
    return "concat(" + ", ".join(parts) + ", '}')"


def series_stats_dynamic(call: A.Call, scope: Scope) -> Typed:
    vals = args(call, scope, 1, 2)
    if vals[0].type != "dynamic":
        raise KqlError(
            "TypeMismatch", "Argument 1 of 'series_stats_dynamic' must be a dynamic array", *call.pos
        )
    ignore = "false"
    if len(vals) > 1:
        expect(call, vals, 1, BOOL, "a bool")
        ignore = f"coalesce({slot(1)}, false)"
    s, d = spell(call, scope), scope.ctx.dialect.name
    n = s.length("_f")
    extreme = {k: _EXTREME[d].format(k if d == "duckdb" else k.capitalize()) for k in ("min", "max")}
    # n * sum(v^2) - sum(v)^2 over n(n - 1): Kusto's own digits (812.45714285714291 in its example,
    # where the sum of squared deviations gives 812.4571428571428)
    squares, total = s.sum(s.ops.map("_v", "_v * _v", "_f")), s.sum("_f")
    variance = (
        f"(CASE WHEN {n} < 2 THEN 0.0 ELSE ({n} * {squares} - {total} * {total}) / ({n} * ({n} - 1)) END)"
    )
    values = {
        "min": extreme["min"],
        "min_idx": _POSITION[d].format(extreme["min"]),
        "max": extreme["max"],
        "max_idx": _POSITION[d].format(extreme["max"]),
        "avg": "_avg",
        "stdev": f"sqrt({variance})",
        "variance": variance,
        "sum": total,
    }
    pairs = [(k, f"(CASE WHEN _ok THEN {values[k]} END)") for k in _KEYS[:-1]]
    bag = _bag(d, [*pairs, ("len", s.length("_x"))])
    ok = f"(({ignore}) OR {s.count('_x')} = {s.length('_x')}) AND {n} > 0"
    body = let(s, "_f", _PRESENT[d], let(s, "_ok", ok, let(s, "_avg", f"{total} / {n}", bag)))
    text = let(s, "_x", nums(s, s.items(slot(0))), body)
    sql = render(text, scope.ctx.dialect.sqlglot_dialect, *(v.sql for v in vals))
    return Typed(sql, "dynamic", agg_flag(*vals))
