"""Kusto result types of literals and integer arithmetic, and the values DuckDB computes for them."""

from __future__ import annotations

import duckdb
import pytest

from calypso.kql import compile_query
from calypso.wire.schemas import standard_tables

CATALOG = standard_tables()


def run(query: str) -> tuple[list[tuple[str, str]], list[tuple[object, ...]]]:
    q = compile_query(query, CATALOG)
    return [(c.name, c.type) for c in q.columns], duckdb.sql(q.sql).fetchall()


def types(query: str) -> list[str]:
    return [c.type for c in compile_query(query, CATALOG).columns]


def test_integer_literals_are_long() -> None:
    assert types("print x = 1, y = -5, z = 1.5") == ["long", "long", "real"]


def test_int_arithmetic_is_long_and_does_not_overflow_int32() -> None:
    cols, rows = run(
        "datatable(a:int)[2147483647] | extend b = a * 2, c = a + a, d = a / 2, e = -a, f = abs(a), g = a"
    )
    assert cols == [
        ("a", "int"),
        ("b", "long"),
        ("c", "long"),
        ("d", "long"),
        ("e", "long"),
        ("f", "long"),
        ("g", "int"),
    ]
    assert rows == [(2147483647, 4294967294, 4294967294, 1073741823, -2147483647, 2147483647, 2147483647)]


def test_literal_arithmetic_is_64_bit() -> None:
    cols, rows = run("print x = 2147483647 + 1, y = -7 / 2")
    assert cols == [("x", "long"), ("y", "long")]
    assert rows == [(2147483648, -3)]  # int/int still truncates toward zero


@pytest.mark.parametrize(
    ("expr", "expected"),
    [
        ("SampleCount + 1", "long"),
        ("SampleCount / 2", "long"),
        ("floor(SampleCount, 5)", "long"),
        ("bin(SampleCount, 2)", "long"),
        ("iff(true, 1, 2)", "long"),
        ("iff(true, SampleCount, SampleCount)", "int"),
        ("coalesce(SampleCount, 1)", "long"),
        ("max_of(SampleCount, 1)", "long"),
        ("SampleCount * 1.5", "real"),
    ],
)
def test_perf_int_column_expressions(expr: str, expected: str) -> None:
    assert types(f"Perf | project v = {expr}") == [expected]


def test_getschema_ordinal_is_long() -> None:
    cols, rows = run("print a = 1, b = 'x' | getschema")
    assert cols[1] == ("ColumnOrdinal", "long")
    assert [(r[0], r[1], r[3]) for r in rows] == [("a", 0, "long"), ("b", 1, "string")]


def test_iff_of_two_dynamic_branches_is_dynamic() -> None:
    cols, rows = run(
        "print arr = dynamic([1]) | extend arr = iff(true, array_concat(arr, pack_array(2)), arr)"
        " | extend n = array_length(arr)"
    )
    assert cols == [("arr", "dynamic"), ("n", "long")]
    assert [(str(r[0]).replace(" ", ""), r[1]) for r in rows] == [("[1,2]", 2)]
