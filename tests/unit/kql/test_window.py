"""Window functions after serialize run on a real DuckDB table and number rows in sorted order.

Window calls nested in window calls (and window calls in `where`) are split into extra SELECT
layers, so neither engine sees a nested window call.
"""

from __future__ import annotations

import duckdb
import pytest
from sqlglot import exp, parse_one

from calypso.kql import KqlError, compile_query

CATALOG = {"T": [("k", "string"), ("n", "long")]}


@pytest.fixture()
def con() -> duckdb.DuckDBPyConnection:
    c = duckdb.connect()
    c.execute("CREATE TABLE T (k VARCHAR, n BIGINT)")
    c.execute("INSERT INTO T VALUES ('c', 30), ('a', 10), ('d', 40), ('b', 20)")
    return c


def rows(con: duckdb.DuckDBPyConnection, kql: str) -> list[tuple[object, ...]]:
    return con.execute(compile_query(kql, CATALOG).sql).fetchall()


def test_row_number_prev_next_cumsum_follow_sort_order(con: duckdb.DuckDBPyConnection) -> None:
    got = rows(
        con,
        "T | sort by n asc | serialize rn = row_number(), p = prev(k), nx = next(n, 1, 0), "
        "s = row_cumsum(n) | project k, rn, p, nx, s",
    )
    assert got == [
        ("a", 1, None, 20, 10),
        ("b", 2, "a", 30, 30),
        ("c", 3, "b", 40, 60),
        ("d", 4, "c", 0, 100),
    ]


def test_row_number_start_and_prev_offset(con: duckdb.DuckDBPyConnection) -> None:
    got = rows(con, "T | sort by n desc | extend rn = row_number(0), p2 = prev(n, 2) | project rn, p2")
    assert got == [(0, None), (1, None), (2, 40), (3, 30)]


def test_restart_is_refused_with_position() -> None:
    with pytest.raises(KqlError) as e:
        compile_query("T | serialize | extend r = row_number(1, k != prev(k))", CATALOG)
    assert e.value.code == "UnsupportedFunction" and "restart" in e.value.message
    assert (e.value.line, e.value.column) == (1, 28)


@pytest.mark.parametrize(
    ("kql", "code", "where", "says"),
    [
        ("T | extend x = row_numbr()", "UnknownFunction", (1, 16), "did you mean 'row_number'"),
        ("T |\n  wher n > 1", "UnsupportedOperator", (2, 3), "did you mean 'where'"),
        ("T | sort by n | extend p = prev(kk)", "UnknownColumn", (1, 33), "did you mean 'k'"),
        ("T | fork (take 1)", "UnsupportedOperator", (1, 5), "'fork'"),
    ],
)
def test_errors_name_the_thing_and_its_position(
    kql: str, code: str, where: tuple[int, int], says: str
) -> None:
    with pytest.raises(KqlError) as e:
        compile_query(kql, CATALOG)
    assert (e.value.code, (e.value.line, e.value.column)) == (code, where)
    assert says in e.value.message


def _nested(sql: str, dialect: str) -> bool:
    tree = parse_one(sql, dialect=dialect)
    return any(w.find_ancestor(exp.Window) for w in tree.find_all(exp.Window))


@pytest.mark.parametrize("dialect", ["duckdb", "clickhouse"])
def test_no_window_call_is_nested_in_the_sql(dialect: str) -> None:
    kql = "T | sort by n asc | extend a = next(prev(n)), b = row_cumsum(prev(n, 1, 0))"
    assert not _nested(compile_query(kql, CATALOG, dialect=dialect).sql, dialect)


def test_hidden_columns_do_not_reach_the_output(con: duckdb.DuckDBPyConnection) -> None:
    q = compile_query("T | sort by n asc | extend a = next(prev(n), 1, -1)", CATALOG)
    assert [c.name for c in q.columns] == ["k", "n", "a"]
    assert con.execute(q.sql).fetchall() == [("a", 10, 10), ("b", 20, 20), ("c", 30, 30), ("d", 40, -1)]


def test_project_with_window_over_window(con: duckdb.DuckDBPyConnection) -> None:
    q = compile_query("T | sort by n asc | project k, s = row_cumsum(prev(n, 1, 0))", CATALOG)
    assert con.execute(q.sql).fetchall() == [("a", 0), ("b", 10), ("c", 30), ("d", 60)]


def test_where_on_window_functions(con: duckdb.DuckDBPyConnection) -> None:
    q = compile_query("T | sort by n asc | where prev(n) + 10 == n and next(k) != 'd' | project k", CATALOG)
    assert con.execute(q.sql).fetchall() == [("b",), ("d",)]  # next(k) of the last row is ""
