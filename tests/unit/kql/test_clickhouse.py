"""The ClickHouse dialect on in-process ClickHouse (chdb): settings, and the cases it once got wrong."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

from calypso.kql import compile_query
from calypso.kql.dialects.clickhouse import ClickHouse

chs = pytest.importorskip("chdb.session", reason="chdb (in-process ClickHouse) is not installed")


@pytest.fixture(scope="module")
def run() -> Iterator[Any]:
    sess = chs.Session()

    sess.query("CREATE TABLE IF NOT EXISTS T (s Nullable(String)) ENGINE = Memory")
    sess.query("INSERT INTO T VALUES ('a3 a7'), ('b')")

    def query(kql: str) -> list[list[Any]]:
        sql = compile_query(kql, {"T": [("s", "string")]}, dialect="clickhouse").sql
        res = sess.query(sql + " " + ClickHouse.settings_clause(), "JSONCompact")
        return list(json.loads(res.bytes())["data"])

    yield query
    sess.close()


def test_settings_clause_names_every_required_setting() -> None:
    clause = ClickHouse.settings_clause()
    assert clause.startswith("SETTINGS ")
    assert "join_use_nulls = 1" in clause
    assert "query_plan_merge_expressions = 0" in clause


def test_self_referencing_extend_chain_stays_small(run: Any) -> None:
    # On a real table (not constants), 14 layers of `arr = iff(c, f(arr), arr)` made ClickHouse's merged plan grow as 2^n (> 19 GB).
    steps = "".join(
        f"| extend arr = iff(s contains 'a{i}', array_concat(arr, pack_array('m{i}')), arr)"
        for i in range(16)
    )
    rows = run("T | extend arr = dynamic([])" + steps + "| project s, arr")
    assert sorted(rows) == [["a3 a7", '["m3","m7"]'], ["b", "[]"]]


def test_percentile_is_nearest_rank(run: Any) -> None:
    rows = run("datatable(x:long)[40, 10, 30, 20] | summarize p = percentile(x, 75), q = percentile(x, 30)")
    assert rows == [[30, 20]]


def test_percentile_of_no_values_is_null(run: Any) -> None:
    rows = run("datatable(x:long)[long(null)] | summarize p = percentile(x, 50)")
    assert rows == [[None]]


def test_toint_of_real_truncates(run: Any) -> None:
    assert run("print a = toint(2.7), b = tolong(-2.7), c = tolong('x')") == [[2, -2, None]]


def test_outer_join_gives_nulls_not_defaults(run: Any) -> None:
    kql = (
        "let L = datatable(k:string, a:long)['x', 1, 'y', 2]; let R = datatable(k:string, b:long)['x', 10];"
        " L | join kind=leftouter R on k | project k, b"
    )
    assert sorted(run(kql), key=str) == [["x", 10], ["y", None]]


def test_nested_arithmetic_keeps_its_grouping(run: Any) -> None:
    assert run("datatable(a:long, b:long, c:long)[10, 3, 2] | project r = a - (b + c), s = (a - b) * c") == [
        [5, 14]
    ]


def test_array_slices_and_json_strings_of_expressions_read_their_input_once(run: Any) -> None:
    kql = (
        "T | project s, a = strcat_array(array_slice(split(s, ' '), 1, 5), '+'),"
        " b = array_slice(array_slice(pack_array(1, 2, 3, 4), 1, 3), -1, -1), c = tostring(pack_array(s)[0])"
    )
    sql = compile_query(kql, {"T": [("s", "string")]}, dialect="clickhouse").sql
    assert sql.count("splitByString") == 1  # the sliced array is bound, not spelled out per bound
    assert sorted(run(kql)) == [["a3 a7", "a7", "[4]", "a3 a7"], ["b", "", "[4]", "b"]]
