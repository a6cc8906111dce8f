"""Round-3 tabular operators run on a real DuckDB table (and ClickHouse where noted): the rows a user sees."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import duckdb
import pytest

from calypso.kql import KqlError, compile_query, storage_type

NOW = datetime(2024, 1, 2, tzinfo=UTC)
CATALOG: dict[str, list[tuple[str, str]]] = {
    "T": [("ts", "datetime"), ("k", "string"), ("v", "long"), ("msg", "string"), ("tags", "dynamic")],
    "U": [("k", "string"), ("v", "string"), ("n", "long")],
}
ROWS = {
    "T": [
        ("2024-01-01 00:10:00", "a", 1, "Server corp.contoso.com started", '["x","y"]'),
        ("2024-01-01 00:20:00", "a", 2, "disk full on host1", '["y"]'),
        ("2024-01-01 02:10:00", "a", 5, "Shutdown requested", "[]"),
        ("2024-01-01 01:00:00", "b", 7, "user shutdown by admin", '["z","x","w"]'),
        ("2024-01-01 05:00:00", "b", 9, "all fine", None),
    ],
    "U": [("a", "shutdown later", 3), ("c", "nothing", 4)],
}


@pytest.fixture(scope="module")
def con() -> duckdb.DuckDBPyConnection:
    c = duckdb.connect()
    for name, cols in CATALOG.items():
        c.execute(f'CREATE TABLE "{name}" ({", ".join(f"{n} {storage_type(t)}" for n, t in cols)})')
        marks = ", ".join("?" for _ in cols)
        c.executemany(f'INSERT INTO "{name}" VALUES ({marks})', ROWS[name])
    return c


Run = Callable[[str], tuple[list[str], list[tuple[Any, ...]]]]


@pytest.fixture(scope="module")
def run(con: duckdb.DuckDBPyConnection) -> Run:
    def go(kql: str) -> tuple[list[str], list[tuple[Any, ...]]]:
        q = compile_query(kql, CATALOG, now=NOW)
        return [c.name for c in q.columns], con.execute(q.sql).fetchall()

    return go


# ---- make-series ---------------------------------------------------------------------------------
def test_make_series_fills_absent_bins_and_names_columns(run: Run) -> None:
    cols, rows = run(
        "T | make-series total=sum(v), count() default=-1 on ts "
        "from datetime(2024-01-01) to datetime(2024-01-01 04:00) step 1h by k | order by k asc"
    )
    assert cols == ["k", "total", "count_", "ts"]
    assert [(r[0], json.loads(r[1]), json.loads(r[2])) for r in rows] == [
        ("a", [3, 0, 5, 0], [2, -1, 1, -1]),
        ("b", [0, 7, 0, 0], [-1, 1, -1, -1]),
    ]
    axis = json.loads(rows[0][3])
    assert [a[:19] for a in axis] == [f"2024-01-01T0{h}:00:00" for h in range(4)]


def test_make_series_drops_rows_outside_range_and_numeric_axis(run: Run) -> None:
    cols, rows = run("T | make-series c=count() on v in range(0, 6, 2)")
    assert cols == ["c", "v"]
    assert [json.loads(x) for x in rows[0]] == [[1, 1, 1], [0, 2, 4]]  # 1 | 2 | 5; 7 and 9 dropped


def test_make_series_rejects_a_string_axis(run: Run) -> None:
    with pytest.raises(KqlError) as e:
        run("T | make-series count() on k step 1")
    assert e.value.code == "TypeMismatch"


# ---- search --------------------------------------------------------------------------------------
def test_search_piped_term_is_case_insensitive_whole_term(run: Run) -> None:
    cols, rows = run('T | search "shutdown" | project v')
    assert cols == ["v"]
    assert sorted(r[0] for r in rows) == [5, 7]


def test_search_source_adds_table_column_and_unions(run: Run) -> None:
    cols, rows = run('search in (T, U) "shutdown" | project ["$table"], k')
    assert cols == ["$table", "k"]
    assert sorted(rows) == [("T", "a"), ("T", "b"), ("U", "a")]


def test_search_wildcards_column_terms_and_not(run: Run) -> None:
    _, rows = run('search in (T) "corp*.com" | project v')
    assert [r[0] for r in rows] == [1]
    _, rows = run('T | search k:"b" and not "fine" | project v')
    assert [r[0] for r in rows] == [7]
    _, rows = run('T | search "host*" or "*tdown" | project v')
    assert sorted(r[0] for r in rows) == [2, 5, 7]


def test_search_type_clash_renames_columns(run: Run) -> None:
    cols, _ = run('search in (T, U) "a"')
    assert "v_long" in cols and "v_string" in cols and cols[0] == "$table"


# ---- mv-expand / mv-apply ------------------------------------------------------------------------
ARRAYS = (
    'datatable(v:long, a:dynamic, b:dynamic)[1, dynamic(["x","y","z"]), dynamic([10, 20]), '
    '2, dynamic([]), dynamic(["q"]), 3, dynamic(null), dynamic(null), 4, dynamic("s"), dynamic([])]'
)


def test_mv_expand_zips_several_columns_with_index(run: Run) -> None:
    cols, rows = run(ARRAYS + " | mv-expand with_itemindex=i a, b to typeof(long) | project v, a, b, i")
    assert cols == ["v", "a", "b", "i"]
    assert rows == [
        (1, '"x"', 10, 0),
        (1, '"y"', 20, 1),
        (1, '"z"', None, 2),
        (2, None, None, 0),
        (4, '"s"', None, 0),
    ]


def test_make_series_writes_its_input_once(run: Run) -> None:
    """The binned rows are read for the groups and for the aggregates: one common table."""
    kql = (
        "T | where v > 1 | make-series n = count() on ts from datetime(2024-01-01) "
        "to datetime(2024-01-01 03:00) step 1h by k | project k, n"
    )
    for dialect in ("duckdb", "clickhouse"):
        assert compile_query(kql, CATALOG, dialect=dialect, now=NOW).sql.count('FROM "T"') == 1
    _, rows = run(kql + " | order by k asc")
    assert [(k, json.loads(n)) for k, n in rows] == [("a", [1, 0, 1]), ("b", [0, 1, 0])]


def test_a_where_after_a_project_of_columns_filters_the_project_in_place(run: Run) -> None:
    kql = "T | project k, v | where v > 1 | project k, w = v"
    sql = compile_query(kql, CATALOG, now=NOW).sql
    assert sql.count("SELECT") == 3  # the scan, `project k, v` with the WHERE, `project k, w = v`
    assert sorted(run(kql)[1]) == [("a", 2), ("a", 5), ("b", 7), ("b", 9)]


def test_mv_expand_writes_its_input_once(run: Run) -> None:
    """The input is read for max(n) and for the rows: one common table, not two copies of its SQL."""
    kql = "T | where msg has 'shutdown' | mv-expand tags | project k, tags"
    for dialect in ("duckdb", "clickhouse"):
        assert compile_query(kql, CATALOG, dialect=dialect, now=NOW).sql.count('FROM "T"') == 1
    _, rows = run(kql)
    assert sorted(rows) == [("b", '"w"'), ("b", '"x"'), ("b", '"z"')]


def test_mv_expand_limit_per_row(run: Run) -> None:
    _, rows = run(ARRAYS + " | mv-expand a limit 1 | project v, a")
    assert rows == [(1, '"x"'), (4, '"s"')]


def test_mv_apply_summarizes_each_row_separately(run: Run) -> None:
    cols, rows = run(
        "T | extend xs = pack_array(v, v * 10, v * 100) "
        "| mv-apply x = xs to typeof(long) on (top 2 by x desc | summarize s = sum(x), n = count()) "
        "| project k, v, s, n | order by v asc"
    )
    assert cols == ["k", "v", "s", "n"]
    assert rows == [("a", 1, 110, 2), ("a", 2, 220, 2), ("a", 5, 550, 2), ("b", 7, 770, 2), ("b", 9, 990, 2)]


def test_mv_apply_filters_elements_and_keeps_other_columns(run: Run) -> None:
    _, rows = run('T | mv-apply t = tags on (where t == "x") | project v, t | order by v asc')
    assert rows == [(1, '"x"'), (7, '"x"')]


# ---- range, union isfuzzy, table(name), bare zero-parameter functions ----------------------------
def test_range_numbers_negative_step_and_datetimes(run: Run) -> None:
    assert run("range x from 1 to 10 step 3") == (["x"], [(1,), (4,), (7,), (10,)])
    assert run("range x from 5 to 1 step -2")[1] == [(5,), (3,), (1,)]
    cols, rows = run("range t from datetime(2024-01-01) to datetime(2024-01-01 02:00) step 1h")
    assert cols == ["t"] and [r[0].hour for r in rows] == [0, 1, 2]
    assert run("range x from 3 to 1 step 1")[1] == []


def test_union_isfuzzy_skips_missing_tables_but_not_all(run: Run) -> None:
    _, rows = run("union isfuzzy=true T, NoSuchTable | count")
    assert rows == [(5,)]
    with pytest.raises(KqlError) as e:
        run("union isfuzzy=true Missing1, Missing2")
    assert e.value.code == "UnknownTable"
    with pytest.raises(KqlError):
        run("union T, NoSuchTable")


def test_table_of_a_parameter_and_bare_function_call(run: Run) -> None:
    q = (
        "let G = (name:string) { table(name) | count }; let F = () { let big = T | where v > 5; big }; "
        'union isfuzzy=true (G("U")), (F | project v) | project Count, v'
    )
    cols, rows = run(q)
    assert cols == ["Count", "v"]
    assert sorted(rows, key=str) == sorted([(2, None), (None, 7), (None, 9)], key=str)
