"""Round-6 series functions on real engines: each query runs on DuckDB and on in-process ClickHouse (chdb).

Expected figures are Kusto's documented series_fit_line example and hand-checkable series.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from typing import Any

import duckdb
import pytest

from calypso.kql import KqlError, compile_query
from calypso.kql.dialects.clickhouse import ClickHouse

Runner = Callable[[str], list[list[Any]]]
DOC_Y = "dynamic([2, 5, 6, 8, 11, 15, 17, 18, 25, 26, 30, 30])"


def _norm(v: Any) -> Any:
    if isinstance(v, str) and v[:1] in ("[", "{"):
        return json.loads(v)
    return v


def _duckdb() -> Iterator[Runner]:
    con = duckdb.connect()

    def run(kql: str) -> list[list[Any]]:
        return [
            [_norm(v) for v in r]
            for r in con.execute(compile_query(kql, {}, dialect="duckdb").sql).fetchall()
        ]

    yield run
    con.close()


def _clickhouse() -> Iterator[Runner]:
    chs = pytest.importorskip("chdb.session", reason="chdb (in-process ClickHouse) is not installed")
    sess = chs.Session()

    def run(kql: str) -> list[list[Any]]:
        sql = compile_query(kql, {}, dialect="clickhouse").sql
        res = sess.query(sql + " " + ClickHouse.settings_clause(), "JSONCompact")
        return [[_norm(v) for v in r] for r in json.loads(res.bytes())["data"]]

    yield run
    sess.close()


@pytest.fixture(scope="module", params=["duckdb", "clickhouse"])
def run(request: pytest.FixtureRequest) -> Iterator[Runner]:
    yield from (_duckdb() if request.param == "duckdb" else _clickhouse())


def test_series_fit_line_matches_the_documented_example(run: Runner) -> None:
    q = f"print y={DOC_Y} | extend (r, s, v, rv, i, fit) = series_fit_line(y) | project-away y"
    ((r, s, v, rv, i, fit),) = run(q)
    assert (round(r, 3), round(s, 3), round(v, 3), round(rv, 3), round(i, 3)) == (
        0.983,
        2.731,
        98.629,
        1.686,
        -1.667,
    )
    assert [round(x, 3) for x in fit][:3] == [1.064, 3.795, 6.526] and len(fit) == 12


def test_series_fit_line_exact_line_and_constant_series(run: Runner) -> None:
    q = "print y=dynamic([3, 5, 7, 9]) | extend (r, s, v, rv, i) = series_fit_line(y) | project-away y"
    assert run(q) == [[1.0, 2.0, pytest.approx(20 / 3), 0.0, 1.0]]
    q = "print y=dynamic([4, 4, 4]) | extend (r, s, v) = series_fit_line(y) | project-away y"
    assert run(q) == [[1.0, 0.0, 0.0]]


def test_series_fit_line_fewer_names_keep_first_outputs(run: Runner) -> None:
    cols = compile_query("print y=dynamic([1,2]) | extend (a, b) = series_fit_line(y)", {}).columns
    assert [c.name for c in cols] == ["y", "a", "b"]


def test_decompose_anomalies_flags_a_spike_and_returns_three_series(run: Runner) -> None:
    q = (
        "print y=dynamic([1,2,1,2,1,2,1,20,1,2,1,2]) "
        "| extend (flag, score, base) = series_decompose_anomalies(y, 1.5, 2) | project-away y"
    )
    ((flag, score, base),) = run(q)
    assert flag == [0] * 7 + [1] + [0] * 4
    assert score[7] > 1.5 and all(s == 0 for i, s in enumerate(score) if i != 7)
    assert [round(b, 6) for b in base] == [1.0, 5.0] * 6  # seasonal average per phase


def test_decompose_anomalies_single_column_is_the_flag_series(run: Runner) -> None:
    # The name goes to the flag series; the other outputs follow under Kusto's names (projected away).
    q = "print y=dynamic([10,10,10,10,10,-50,10,10,10,10]) | project f = series_decompose_anomalies(y) | project f"
    assert run(q) == [[[0, 0, 0, 0, 0, -1, 0, 0, 0, 0]]]


def test_decompose_anomalies_linefit_baseline_is_the_fitted_line(run: Runner) -> None:
    q = (
        "print y=dynamic([1, 2, 3, 4, 30, 6, 7, 8]) "
        "| extend (f, s, b) = series_decompose_anomalies(y, 1.5, 0, 'linefit') | project f"
    )
    assert run(q) == [[[0, 0, 0, 0, 1, 0, 0, 0]]]


def test_decompose_anomalies_rejects_unsupported_arguments() -> None:
    with pytest.raises(KqlError, match="Test_points"):
        compile_query("print f = series_decompose_anomalies(dynamic([1,2]), 1.5, -1, 'avg', 3)", {})
    with pytest.raises(KqlError, match="must be one of"):
        compile_query("print f = series_decompose_anomalies(dynamic([1,2]), 1.5, -1, 'poly')", {})
    with pytest.raises(KqlError, match="threshold must be a number"):
        compile_query("print f = series_decompose_anomalies(dynamic([1,2]), 'x')", {})
