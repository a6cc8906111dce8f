"""series_fit_2lines: the SQL closed forms agree with a direct reading of Kusto's documented method."""

from __future__ import annotations

import json
import random

import duckdb
import pytest

from calypso.kql import compile_query

PARTS = [
    "rsquare",
    "split_idx",
    "variance",
    "rvariance",
    "line_fit",
    "right_rsquare",
    "right_slope",
    "right_interception",
    "right_variance",
    "right_rvariance",
    "left_rsquare",
    "left_slope",
    "left_interception",
    "left_variance",
    "left_rvariance",
]


def _fit(ys: list[float]) -> dict[str, float | list[float]]:
    """series_fit_line of `ys` alone (x = 1..n), the straightforward way."""
    n = len(ys)
    xs = range(1, n + 1)
    mx, my = sum(xs) / n, sum(ys) / n
    sxx = sum((x - mx) ** 2 for x in xs)
    slope = sum((x - mx) * (y - my) for x, y in zip(xs, ys, strict=True)) / sxx if sxx else 0.0
    icept = my - slope * mx
    sst = sum((y - my) ** 2 for y in ys)
    sse = sum((y - icept - slope * x) ** 2 for x, y in zip(xs, ys, strict=True))
    var, rvar = (sst / (n - 1), sse / (n - 1)) if n > 1 else (0.0, 0.0)
    return {
        "slope": slope,
        "interception": icept,
        "sst": sst,
        "sse": sse,
        "variance": var,
        "rvariance": rvar,
        "rsquare": 1.0 if var == 0 else 1 - rvar / var,
        "fit": [icept + slope * x for x in xs],
    }


def reference(ys: list[float]) -> dict[str, object]:
    whole = _fit(ys)
    best: tuple[float, int] | None = None
    for k in range(1, len(ys)):
        sse = _fit(ys[:k])["sse"] + _fit(ys[k:])["sse"]  # type: ignore[operator]
        score = round(sse / whole["sst"], 9) if whole["sst"] else 0.0  # type: ignore[operator]
        if best is None or score < best[0]:
            best = (score, k)
    assert best is not None
    k = best[1]
    left, right = _fit(ys[:k]), _fit(ys[k:])
    sse = left["sse"] + right["sse"]  # type: ignore[operator]
    out: dict[str, object] = {
        "rsquare": 1 - sse / whole["sst"] if whole["sst"] else 1.0,  # type: ignore[operator]
        "split_idx": k,
        "variance": whole["variance"],
        "rvariance": sse / (len(ys) - 1),
        "line_fit": left["fit"] + right["fit"],  # type: ignore[operator]
    }
    for side, fit in (("left", left), ("right", right)):
        for name in ("rsquare", "slope", "interception", "variance", "rvariance"):
            out[f"{side}_{name}"] = fit[name]
    return out


def run(kql: str, dialect: str = "duckdb") -> tuple[list[str], list[tuple[object, ...]]]:
    q = compile_query(kql, {}, dialect=dialect)
    if dialect == "duckdb":
        return [c.name for c in q.columns], duckdb.connect().execute(q.sql).fetchall()
    chs = pytest.importorskip("chdb.session")
    from calypso.kql.dialects.clickhouse import ClickHouse

    res = chs.Session().query(q.sql + " " + ClickHouse.settings_clause(), "JSONCompact")
    return [c.name for c in q.columns], [tuple(r) for r in json.loads(res.bytes())["data"]]


def _close(a: object, b: object) -> bool:
    if isinstance(b, list):
        got = json.loads(a) if isinstance(a, str) else a
        return isinstance(got, list) and len(got) == len(b) and all(map(_close, got, b))
    assert isinstance(a, int | float) and isinstance(b, int | float)
    return abs(a - b) <= 1e-6 * max(1.0, abs(b))


@pytest.mark.parametrize("dialect", ["duckdb", "clickhouse"])
@pytest.mark.parametrize("seed", [1, 2, 3])
def test_matches_the_documented_method(dialect: str, seed: int) -> None:
    rng = random.Random(seed)
    n = rng.randint(3, 25)
    ys = [round(rng.uniform(-50, 50), 3) for _ in range(n)]
    names = ", ".join(PARTS)
    _, rows = run(f"print y=dynamic({json.dumps(ys)}) | project ({names}) = series_fit_2lines(y)", dialect)
    want = reference(ys)
    for name, got in zip(PARTS, rows[0], strict=True):
        assert _close(got, want[name]), (name, got, want[name])


def test_fewer_names_and_no_hidden_columns() -> None:
    cols, rows = run(
        "print k = 1, y = dynamic([1, 1, 1, 10, 20, 30]) | extend (r2, at) = series_fit_2lines(y)"
    )
    assert cols == ["k", "y", "r2", "at"]
    assert rows[0][0] == 1 and rows[0][2:] == (1.0, 3)


def test_constant_series_has_rsquare_one() -> None:
    _, rows = run("print y = dynamic([4, 4, 4, 4]) | project (r2, at, v, rv) = series_fit_2lines(y)")
    assert rows == [(1.0, 1, 0.0, 0.0)]
