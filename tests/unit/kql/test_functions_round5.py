"""Round-5 functions on real engines: each query runs on DuckDB and on in-process ClickHouse (chdb)."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from datetime import datetime
from typing import Any

import duckdb
import pytest

from calypso.kql import KqlError, compile_query
from calypso.kql.dialects.clickhouse import ClickHouse
from calypso.kql.functions.charmap import kusto_translation

Runner = Callable[[str], list[list[Any]]]
CATALOG = {"Heartbeat": [("TimeGenerated", "datetime"), ("Computer", "string")]}


def _duckdb() -> Iterator[Runner]:
    con = duckdb.connect()
    con.execute("CREATE TABLE Heartbeat (TimeGenerated TIMESTAMP, Computer VARCHAR)")
    con.execute("INSERT INTO Heartbeat VALUES ('2024-05-01 10:00:00', 'a'), ('2024-05-01 11:30:00', 'b')")

    def run(kql: str) -> list[list[Any]]:
        rows = con.execute(compile_query(kql, CATALOG, dialect="duckdb").sql).fetchall()
        return [[_norm(v) for v in r] for r in rows]

    yield run
    con.close()


def _clickhouse() -> Iterator[Runner]:
    chs = pytest.importorskip("chdb.session", reason="chdb (in-process ClickHouse) is not installed")
    sess = chs.Session()
    sess.query(
        "CREATE TABLE IF NOT EXISTS Heartbeat (TimeGenerated DateTime64(6), Computer String) ENGINE = Memory"
    )
    sess.query("INSERT INTO Heartbeat VALUES ('2024-05-01 10:00:00', 'a'), ('2024-05-01 11:30:00', 'b')")

    def run(kql: str) -> list[list[Any]]:
        sql = compile_query(kql, CATALOG, dialect="clickhouse").sql
        res = sess.query(sql + " " + ClickHouse.settings_clause(), "JSONCompact")
        return [[_norm(v) for v in r] for r in json.loads(res.bytes())["data"]]

    yield run
    sess.close()


def _norm(v: Any) -> Any:
    """Engine-neutral cell: datetimes as 'YYYY-MM-DD HH:MM:SS', JSON text parsed."""
    if isinstance(v, datetime):
        return v.strftime("%Y-%m-%d %H:%M:%S")
    if isinstance(v, str) and len(v) >= 19 and v[4] == "-" and v[10] == " ":
        return v[:19]
    if isinstance(v, str) and v[:1] in ("[", "{"):
        return json.loads(v)
    return v


@pytest.fixture(scope="module", params=["duckdb", "clickhouse"])
def run(request: pytest.FixtureRequest) -> Iterator[Runner]:
    yield from (_duckdb() if request.param == "duckdb" else _clickhouse())


def test_percentiles_one_column_per_value_nearest_rank(run: Runner) -> None:
    q = "datatable(x:long)[1,2,3,4,5,6,7,8,9,10] | summarize percentiles(x, 50, 90, 95)"
    assert run(q) == [[5, 9, 10]]
    names = [c.name for c in compile_query(q, {}).columns]
    assert names == ["percentile_x_50", "percentile_x_90", "percentile_x_95"]


def test_percentiles_by_key_with_own_names(run: Runner) -> None:
    q = "datatable(k:string, x:real)['a',1.5,'a',2.5,'b',7.0] | summarize (lo, hi) = percentiles(x, 0, 100) by k"
    assert sorted(run(q)) == [["a", 1.5, 2.5], ["b", 7.0, 7.0]]


def test_percentiles_array_is_one_dynamic_in_argument_order(run: Runner) -> None:
    q = "datatable(x:long)[40, 10, 30, 20] | summarize p = percentiles_array(x, 75, 25)"
    assert run(q) == [[[30, 10]]]


def test_count_distinct_is_exact(run: Runner) -> None:
    q = "datatable(s:string)['a','b','a','c',''] | summarize n = count_distinct(s)"
    assert run(q) == [[4]]


def test_ingestion_time_and_time_received_read_time_generated(run: Runner) -> None:
    q = (
        "Heartbeat | extend lag = (ingestion_time() - TimeGenerated) / 1s, r = _TimeReceived "
        "| project Computer, lag, r | order by Computer asc"
    )
    assert sorted(run(q)) == [["a", 0.0, "2024-05-01 10:00:00"], ["b", 0.0, "2024-05-01 11:30:00"]]


def test_ingestion_time_without_time_generated_is_null(run: Runner) -> None:
    assert run("print t = ingestion_time()") == [[None]]


def test_translate_follows_kusto_rules(run: Runner) -> None:
    q = "print a = translate('abc', 'x', 'abc'), b = translate('abc', '', 'ab'), c = translate('krasp', 'otsku', 'spark')"
    assert run(q) == [["xxx", "", "kusto"]]


def test_translation_pairs_pad_with_last_character() -> None:
    assert kusto_translation("abc", "xy") == ("abc", "xyy")
    assert kusto_translation("ab", "xyz") == ("ab", "xy")
    assert kusto_translation("ab", "") == ("ab", "")


def test_translate_needs_literal_lists() -> None:
    with pytest.raises(KqlError) as err:
        compile_query("Heartbeat | extend t = translate(Computer, 'x', Computer)", CATALOG)
    assert err.value.code == "TypeMismatch"


def test_row_window_session_gap_first_and_restart(run: Runner) -> None:
    q = (
        "datatable(t:datetime, ok:bool)["
        "datetime(2024-01-01 00:00), false, datetime(2024-01-01 00:04), false, "
        "datetime(2024-01-01 00:08), false, datetime(2024-01-01 00:12), false, "
        "datetime(2024-01-01 00:30), false, datetime(2024-01-01 00:31), true, datetime(2024-01-01 00:32), false]"
        "| sort by t asc | extend s = row_window_session(t, 10m, 5m, ok) | project t, s"
    )
    got = {r[0][11:16]: r[1][11:16] for r in run(q)}
    # 00:12 is within 5m of its neighbour but more than 10m after the session's first row (00:00)
    assert got == {
        "00:00": "00:00",
        "00:04": "00:00",
        "00:08": "00:00",
        "00:12": "00:12",
        "00:30": "00:30",
        "00:31": "00:31",
        "00:32": "00:31",
    }


def test_row_window_session_needs_constant_distances() -> None:
    with pytest.raises(KqlError) as err:
        compile_query(
            "Heartbeat | sort by TimeGenerated asc | extend s = row_window_session(TimeGenerated, 1h, 1)",
            CATALOG,
        )
    assert err.value.code == "TypeMismatch"


def test_hash_is_stable_and_mod_is_in_range(run: Runner) -> None:
    q = "print a = hash('World'), b = hash('World'), m = hash('World', 100), n = hash('x', 7)"
    (row,) = run(q)
    assert row[0] == row[1] and isinstance(row[0], int)
    assert 0 <= row[2] < 100 and 0 <= row[3] < 7
    assert row[2] == row[0] % 100


def test_hash_equals_azure_xxhash64_on_clickhouse() -> None:
    chs = pytest.importorskip("chdb.session", reason="chdb (in-process ClickHouse) is not installed")
    sess = chs.Session()
    sql = compile_query("print a = hash('World'), m = hash('World', 100)", {}, dialect="clickhouse").sql
    res = json.loads(sess.query(sql + " " + ClickHouse.settings_clause(), "JSONCompact").bytes())["data"]
    sess.close()
    # the values of Kusto's documentation example
    assert [[int(v) for v in r] for r in res] == [[1846988464401551951, 51]]


def test_totimespan_of_constant_strings(run: Runner) -> None:
    q = "print a = totimespan('1.02:03:04.5') / 1s, b = totimespan('00:10:00') / 1m, c = isnull(totimespan('nope'))"
    ((a, b, c),) = run(q)
    assert (a, b, bool(c)) == (93784.5, 10.0, True)
