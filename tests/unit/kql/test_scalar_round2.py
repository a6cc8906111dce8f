"""tohex and array_slice on a real DuckDB table, with Kusto's results."""

from __future__ import annotations

import duckdb

from calypso.kql import compile_query

CATALOG = {"T": [("n", "long"), ("a", "dynamic")]}


def run(kql: str) -> list[tuple[object, ...]]:
    con = duckdb.connect()
    con.execute("CREATE TABLE T (n BIGINT, a JSON)")
    con.execute("""INSERT INTO T VALUES (256, '[1,2,3,4,5]'), (-546, '["x","y"]')""")
    return con.execute(compile_query(kql + " | order by n desc", CATALOG).sql).fetchall()


def test_tohex_plain_negative_and_padded() -> None:
    assert run("T | project n, h = tohex(n), p = tohex(n, 6)") == [
        (256, "100", "000100"),
        (-546, "fffffffffffffdde", "fffffffffffffdde"),
    ]


def test_array_slice_inclusive_and_negative_indices() -> None:
    got = run(
        "T | project n, s = array_slice(a, 1, 2), t = array_slice(a, -2, -1), u = array_slice(a, 1, 99)"
    )
    assert got == [(256, "[2,3]", "[4,5]", "[2,3,4,5]"), (-546, '["y"]', '["x","y"]', '["y"]')]
