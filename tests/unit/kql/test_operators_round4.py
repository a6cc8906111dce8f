"""Round-4 tabular operators on real DuckDB tables (and ClickHouse via chdb): the rows a user sees."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from typing import Any

import duckdb
import pytest

from calypso.kql import KqlError, compile_query, storage_type
from calypso.kql.dialects.clickhouse import ClickHouse

CATALOG: dict[str, list[tuple[str, str]]] = {
    "Sales": [("region", "string"), ("person", "string"), ("amount", "long"), ("props", "dynamic")],
    "Logs": [("msg", "string"), ("level", "long"), ("host", "string")],
}
ROWS: dict[str, list[tuple[Any, ...]]] = {
    "Sales": [
        ("north", "ann", 50, '{"a":"x","n":1}'),
        ("north", "bob", 30, '{"a":"y"}'),
        ("north", "cy", 10, "{}"),
        ("south", "ann", 40, '{"n":2}'),
        ("south", "dee", 5, None),
        ("east", "eve", 20, '{"a":"z","n":3}'),
        ("west", "wu", 1, '{"n":"bad"}'),
    ],
    "Logs": [
        ("user=alice; action=login; ms=12", 1, "h1"),
        ("user=bob; action=error disk; ms=x", 3, "h2"),
        ("nothing here", 2, "h1"),
    ],
}

Run = Callable[[str], tuple[list[str], list[tuple[Any, ...]]]]


@pytest.fixture(scope="module")
def run() -> Iterator[Run]:
    con = duckdb.connect()
    for name, cols in CATALOG.items():
        con.execute(f'CREATE TABLE "{name}" ({", ".join(f"{n} {storage_type(t)}" for n, t in cols)})')
        con.executemany(f'INSERT INTO "{name}" VALUES ({", ".join("?" for _ in cols)})', ROWS[name])

    def go(kql: str) -> tuple[list[str], list[tuple[Any, ...]]]:
        q = compile_query(kql, CATALOG)
        return [f"{c.name}:{c.type}" for c in q.columns], con.execute(q.sql).fetchall()

    yield go
    con.close()


# ---- top-nested ---------------------------------------------------------------------------------
def test_top_nested_picks_top_groups_then_top_members_within_each(run: Run) -> None:
    cols, rows = run(
        "Sales | top-nested 2 of region by total=sum(amount), top-nested 2 of person by sum(amount)"
        " | order by total desc, aggregated_person desc"
    )
    assert cols == ["region:string", "total:long", "person:string", "aggregated_person:long"]
    assert rows == [
        ("north", 90, "ann", 50),
        ("north", 90, "bob", 30),
        ("south", 45, "ann", 40),
        ("south", 45, "dee", 5),
    ]


def test_top_nested_asc_and_others_and_all_values(run: Run) -> None:
    _, rows = run("Sales | top-nested 1 of region with others='other' by c=count() asc | order by region asc")
    # count per region: north 3, south 2, east 1, west 1 -> the smallest (ties by value: east) and the rest
    assert rows == [("east", 1), ("other", 6)]
    _, rows = run("Sales | top-nested of r=region by max(amount) | order by r asc")
    assert rows == [("east", 20), ("north", 50), ("south", 40), ("west", 1)]


def test_top_nested_rejects_a_non_aggregate(run: Run) -> None:
    with pytest.raises(KqlError) as e:
        run("Sales | top-nested 2 of region by amount")
    assert e.value.code == "TypeMismatch"


# ---- parse-kv -----------------------------------------------------------------------------------
def test_parse_kv_extracts_typed_columns(run: Run) -> None:
    cols, rows = run(
        "Logs | parse-kv msg as (user:string, action:string, ms:long) "
        "with (pair_delimiter=';', kv_delimiter='=') | project user, action, ms | order by user asc"
    )
    assert cols == ["user:string", "action:string", "ms:long"]
    assert rows == [("", "", None), ("alice", "login", 12), ("bob", "error disk", None)]


def test_parse_kv_rejects_regex_form_and_unknown_options(run: Run) -> None:
    for q in (
        "Logs | parse-kv msg as (user:string) with (regex=@'(\\w+)=(\\w+)')",
        "Logs | parse-kv msg as (user:string) with (pair_delim=';')",
    ):
        with pytest.raises(KqlError):
            run(q)


# ---- find ---------------------------------------------------------------------------------------
def test_find_over_all_tables_skips_tables_without_the_column(run: Run) -> None:
    cols, rows = run("find where host == 'h1' project msg, level")
    assert cols == ["source_:string", "msg:string", "level:long"]
    assert sorted(rows) == [("Logs", "nothing here", 2), ("Logs", "user=alice; action=login; ms=12", 1)]


def test_find_terms_and_pack_all(run: Run) -> None:
    cols, rows = run('find withsource=T in (Sales, Log*) where "ann" or "bob" project host, pack_all()')
    assert cols == ["T:string", "host:string", "pack_:dynamic"]
    got = sorted((t, h, json.loads(p).get("person") or json.loads(p).get("msg")) for t, h, p in rows)
    assert got == [
        ("Logs", "h2", "user=bob; action=error disk; ms=x"),
        ("Sales", None, "ann"),
        ("Sales", None, "ann"),
        ("Sales", None, "bob"),
    ]


def test_find_with_unknown_column_everywhere_is_an_error(run: Run) -> None:
    with pytest.raises(KqlError) as e:
        run("find in (Sales, Logs) where nosuch == 1")
    assert e.value.code == "UnknownColumn"


# ---- evaluate -----------------------------------------------------------------------------------
def test_bag_unpack_with_schema_types_slots_and_keeps_input(run: Run) -> None:
    cols, rows = run(
        "Sales | where region == 'north' or person == 'wu' | evaluate bag_unpack(props, 'p_') : (*, p_a:string, p_n:long)"
        " | project person, p_a, p_n | order by person asc"
    )
    assert cols == ["person:string", "p_a:string", "p_n:long"]
    assert rows == [("ann", "x", 1), ("bob", "y", None), ("cy", None, None), ("wu", None, None)]


def test_bag_unpack_infers_slots_from_bag_pack(run: Run) -> None:
    cols, rows = run(
        "Sales | where person == 'eve' | extend b = bag_pack('amt', 7, 'who', 'me') | project region, b "
        "| evaluate bag_unpack(b)"
    )
    assert cols == ["region:string", "amt:long", "who:string"]
    assert rows == [("east", 7, "me")]


def test_bag_unpack_without_knowable_slots_asks_for_schema(run: Run) -> None:
    with pytest.raises(KqlError) as e:
        run("Sales | evaluate bag_unpack(props)")
    assert "output schema" in e.value.message


def test_pivot_with_schema(run: Run) -> None:
    cols, rows = run(
        "Sales | where person in ('ann', 'bob') | evaluate pivot(person, sum(amount)) : (region:string, ann:long, bob:long)"
        " | order by region asc"
    )
    assert cols == ["region:string", "ann:long", "bob:long"]
    assert rows == [("north", 50, 30), ("south", 40, None)]
    _, rows = run(
        "Sales | project region, person | evaluate pivot(region) : (person:string, north:long) | order by person asc"
    )
    assert rows[:2] == [("ann", 1), ("bob", 1)] and ("dee", 0) in rows


def test_pivot_without_schema_and_unknown_plugin_are_clear_errors(run: Run) -> None:
    with pytest.raises(KqlError) as e:
        run("Sales | evaluate pivot(region)")
    assert "output schema" in e.value.message
    with pytest.raises(KqlError) as e:
        run("Sales | evaluate bag_unpak(props)")
    assert e.value.code == "UnsupportedOperator" and "bag_unpack" in e.value.message


def test_narrow_turns_columns_into_rows(run: Run) -> None:
    cols, rows = run("Logs | where level == 2 | project host, level | evaluate narrow()")
    assert cols == ["Row:long", "Column:string", "Value:string"]
    assert rows == [(0, "host", "h1"), (0, "level", "2")]


# ---- multi-column assignment ----------------------------------------------------------------------
def test_tuple_assignment_from_series_stats(run: Run) -> None:
    cols, rows = run(
        "Sales | summarize s = make_list(amount) by region | where region == 'north' "
        "| extend (lo, lo_i, hi, hi_i, mean, sd) = series_stats(s) | project lo, lo_i, hi, hi_i, mean, sd"
    )
    assert cols == ["lo:real", "lo_i:long", "hi:real", "hi_i:long", "mean:real", "sd:real"]
    lo, lo_i, hi, hi_i, mean, sd = rows[0]
    assert (lo, hi, mean, round(sd, 6)) == (10.0, 50.0, 30.0, 20.0)
    assert {lo_i, hi_i} <= {0, 1, 2} and lo_i != hi_i


def test_tuple_assignment_errors(run: Run) -> None:
    with pytest.raises(KqlError) as e:
        run("Sales | extend (a, b) = strlen(person)")
    assert e.value.code == "TypeMismatch"
    with pytest.raises(KqlError) as e:
        run("Sales | extend (a, b) = series_periods_detect(dynamic([1,2,3]), 0, 4, 2)")
    assert e.value.code == "UnsupportedFunction" and "series_periods_detect" in e.value.message
    with pytest.raises(KqlError) as e:
        run("print s=dynamic([1]) | extend (a, b, c, d, e, f, g, h) = series_stats(s)")
    assert "7 columns" in e.value.message


# ---- ClickHouse ---------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def ch() -> Iterator[Callable[[str], list[list[Any]]]]:
    chs = pytest.importorskip("chdb.session", reason="chdb (in-process ClickHouse) is not installed")
    sess = chs.Session()
    sess.query(
        "CREATE TABLE IF NOT EXISTS Logs (msg Nullable(String), level Nullable(Int64), host Nullable(String)) ENGINE = Memory"
    )
    sess.query(
        "INSERT INTO Logs VALUES ('user=alice; action=login; ms=12', 1, 'h1'), ('user=bob; ms=x', 3, 'h2'), ('z', 2, 'h1')"
    )

    def query(kql: str) -> list[list[Any]]:
        sql = compile_query(kql, {"Logs": CATALOG["Logs"]}, dialect="clickhouse").sql
        res = sess.query(sql + " " + ClickHouse.settings_clause(), "JSONCompact")
        return list(json.loads(res.bytes())["data"]) if res.bytes() else []

    yield query
    sess.close()


def test_clickhouse_top_nested_parse_kv_find(ch: Callable[[str], list[list[Any]]]) -> None:
    assert ch("Logs | top-nested 1 of host by max(level)") == [["h2", 3]]
    assert ch("Logs | top-nested 1 of host by sum(level)") == [
        ["h1", 3]
    ]  # a tie (3 and 3) goes to the smaller value
    rows = ch(
        "Logs | parse-kv msg as (user:string, ms:long) with (pair_delimiter=';', kv_delimiter='=') | project user, ms | order by user asc"
    )
    assert rows == [["", None], ["alice", 12], ["bob", None]]
    assert ch("find where level > 2 project host") == [["Logs", "h2"]]


def test_clickhouse_narrow_and_pivot(ch: Callable[[str], list[list[Any]]]) -> None:
    assert ch("Logs | where level == 2 | project host | evaluate narrow()") == [[0, "host", "h1"]]
    rows = ch("Logs | project host, level | evaluate pivot(host, sum(level)) : (h1:long, h2:long)")
    assert rows == [[3, 3]]
