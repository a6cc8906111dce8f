"""Nested window calls and window calls in `where` are split into extra SELECT layers."""

from __future__ import annotations

import duckdb
import pytest
from sqlglot import exp, parse_one

from calypso.kql import compile_query

CATALOG = {"T": [("k", "string"), ("n", "long")]}


@pytest.fixture()
def con() -> duckdb.DuckDBPyConnection:
    c = duckdb.connect()
    c.execute("CREATE TABLE T (k VARCHAR, n BIGINT)")
    c.execute("INSERT INTO T VALUES ('c', 30), ('a', 10), ('d', 40), ('b', 20)")
    return c


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
