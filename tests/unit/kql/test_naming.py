"""Kusto's names for unnamed output columns (calypso.kql.naming), as Microsoft's language service gives them."""

from __future__ import annotations

import pytest

from calypso.kql import compile_query
from calypso.wire.schemas import standard_tables

CATALOG = standard_tables()


def names(query: str) -> list[str]:
    return [c.name for c in compile_query(query, CATALOG).columns]


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("print 1, 'a'", ["print_0", "print_1"]),
        ("print a = 1, 2, strlen('x')", ["a", "print_1", "print_2"]),
        ("Heartbeat | project Computer, strlen(Computer)", ["Computer", "strlen_Computer"]),
        ("Heartbeat | project toupper(Computer), trim(' ', Computer)", ["Column1", "Column2"]),
        ("Heartbeat | project gettype(Computer), tostring(OSType)", ["type_Computer", "OSType"]),
        ("Heartbeat | project strlen(Computer), strlen(Computer)", ["strlen_Computer", "strlen_Computer1"]),
        ("print x = 1 | project strlen('a'), abs(1)", ["strlen_", "Column1"]),
        ("print d = dynamic({}) | project d.a, d['b'], d[0]", ["d_a", "d_b", "d_0"]),
        ("Heartbeat | summarize count() by startofday(TimeGenerated)", ["TimeGenerated", "count_"]),
        ("Heartbeat | summarize by tolower(Computer), strlen(Computer)", ["Column1", "strlen_Computer"]),
        ("Heartbeat | summarize count(), count() by Computer", ["Computer", "count_", "count_1"]),
    ],
)
def test_unnamed_scalar_columns(query: str, expected: list[str]) -> None:
    assert names(query) == expected


@pytest.mark.parametrize(
    ("aggregate", "expected"),
    [
        ("take_any(OSType)", "OSType"),
        ("any(Computer)", "any_Computer"),
        ("count(Computer)", "count_Computer"),
        ("countif(IsGatewayInstalled)", "countif_IsGatewayInstalled"),
        ("dcount(strlen(Computer))", "dcount_strlen_Computer"),
        ("make_list(Computer)", "list_Computer"),
        ("make_set(Computer, 10)", "set_Computer"),
        ("percentile(strlen(Computer), 50)", "percentile_strlen_Computer_50"),
        ("sum(strlen(Computer) * 2)", "sum_"),
        ("avg(toint(Version))", "avg_Version"),
        ("stdev(1)", "stdev_"),
    ],
)
def test_aggregate_names(aggregate: str, expected: str) -> None:
    assert names(f"Heartbeat | summarize {aggregate}") == [expected]


def test_explicit_names_are_deduplicated_after_derived_keys() -> None:
    assert names("print x = 1 | summarize strlen_ = count() by strlen('a')") == ["strlen_", "strlen_1"]
