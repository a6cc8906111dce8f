"""compile_query on real DuckDB tables: the rows and columns a user would see."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import duckdb
import pytest

from calypso.kql import KqlError, compile_query, storage_type, to_json_value

NOW = datetime(2024, 1, 2, 12, 0, 0, tzinfo=UTC)
CATALOG = {
    "Syslog": [
        ("TimeGenerated", "datetime"),
        ("Computer", "string"),
        ("SeverityLevel", "string"),
        ("SyslogMessage", "string"),
        ("ProcessID", "int"),
    ]
}
ROWS = [
    (datetime(2024, 1, 2, 11, 10), "web1", "err", "Disk error on sda", 10),
    (datetime(2024, 1, 2, 11, 50), "web1", "info", "user login ok", 11),
    (datetime(2024, 1, 2, 10, 30), "DB1", "err", "errors: none", 12),
    (datetime(2024, 1, 1, 9, 0), "db1", "warning", "ERROR in module", 13),
]


@pytest.fixture(scope="module")
def con() -> duckdb.DuckDBPyConnection:
    c = duckdb.connect()
    for table, cols in CATALOG.items():
        ddl = ", ".join(f'"{n}" {storage_type(t)}' for n, t in cols)
        c.execute(f'CREATE TABLE "{table}" ({ddl})')
    c.executemany('INSERT INTO "Syslog" VALUES (?, ?, ?, ?, ?)', ROWS)
    return c


def run(con: duckdb.DuckDBPyConnection, kql: str, **kw: Any) -> tuple[list[str], list[tuple[Any, ...]]]:
    q = compile_query(kql, CATALOG, now=NOW, **kw)
    rows = con.execute(q.sql).fetchall()
    return [c.name for c in q.columns], rows


def test_where_equals_is_case_sensitive_and_tilde_is_not(con: duckdb.DuckDBPyConnection) -> None:
    _, rows = run(con, 'Syslog | where Computer == "db1" | project ProcessID')
    assert rows == [(13,)]
    _, rows = run(con, 'Syslog | where Computer =~ "db1" | project ProcessID | sort by ProcessID asc')
    assert rows == [(12,), (13,)]


def test_has_matches_whole_terms_contains_matches_substrings(con: duckdb.DuckDBPyConnection) -> None:
    _, rows = run(con, 'Syslog | where SyslogMessage has "error" | project ProcessID | sort by ProcessID asc')
    assert rows == [(10,), (13,)]
    _, rows = run(
        con, 'Syslog | where SyslogMessage contains "error" | project ProcessID | sort by ProcessID asc'
    )
    assert rows == [(10,), (12,), (13,)]
    _, rows = run(
        con, 'Syslog | where SyslogMessage !has "error" | project ProcessID | sort by ProcessID asc'
    )
    assert rows == [(11,), (12,)]


def test_summarize_count_by_bin_names_columns_like_kusto(con: duckdb.DuckDBPyConnection) -> None:
    cols, rows = run(
        con,
        "Syslog | where TimeGenerated > ago(1d) | summarize count() by bin(TimeGenerated, 1h) | sort by TimeGenerated asc",
    )
    assert cols == ["TimeGenerated", "count_"]
    assert rows == [(datetime(2024, 1, 2, 10), 1), (datetime(2024, 1, 2, 11), 2)]


def test_summarize_aggregates_and_names(con: duckdb.DuckDBPyConnection) -> None:
    cols, rows = run(
        con,
        "Syslog | summarize avg(ProcessID), dcount(Computer), n=max(ProcessID) by SeverityLevel | sort by SeverityLevel asc",
    )
    assert cols == ["SeverityLevel", "avg_ProcessID", "dcount_Computer", "n"]
    assert rows == [("err", 11.0, 2, 12), ("info", 11.0, 1, 11), ("warning", 13.0, 1, 13)]


def test_arg_max_star_returns_whole_row(con: duckdb.DuckDBPyConnection) -> None:
    _cols, rows = run(
        con,
        "Syslog | summarize arg_max(TimeGenerated, *) by Computer | sort by Computer asc | project Computer, ProcessID",
    )
    assert rows == [("DB1", 12), ("db1", 13), ("web1", 11)]


def test_top_take_count_distinct(con: duckdb.DuckDBPyConnection) -> None:
    _, rows = run(con, "Syslog | top 2 by ProcessID desc | project ProcessID")
    assert rows == [(13,), (12,)]
    _, rows = run(con, "Syslog | take 3 | count")
    assert rows == [(3,)]
    _, rows = run(con, "Syslog | distinct SeverityLevel | sort by SeverityLevel asc")
    assert rows == [("err",), ("info",), ("warning",)]


def test_let_scalar_in_and_extend(con: duckdb.DuckDBPyConnection) -> None:
    cols, rows = run(
        con,
        'let hosts = dynamic(["web1", "db1"]);\nlet minPid = 11;\nSyslog | where Computer in (hosts) and ProcessID >= minPid | extend double = ProcessID * 2, strlen(Computer) | project-away SyslogMessage, TimeGenerated',
    )
    assert cols == ["Computer", "SeverityLevel", "ProcessID", "double", "strlen_Computer"]
    assert sorted(rows) == [("db1", "warning", 13, 26, 3), ("web1", "info", 11, 22, 4)]


def test_int_division_truncates_and_timespan_arithmetic(con: duckdb.DuckDBPyConnection) -> None:
    _cols, rows = run(
        con,
        "print a = 7 / 2, b = 1h + 30m, c = datetime(2024-01-01) + 1d, d = datetime(2024-01-02) - datetime(2024-01-01)",
    )
    assert rows == [(3, 54_000_000_000, datetime(2024, 1, 2), 864_000_000_000)]
    assert to_json_value(rows[0][1], "timespan") == "01:30:00"


def test_timespan_filter_applies_to_tables(con: duckdb.DuckDBPyConnection) -> None:
    span = (datetime(2024, 1, 2, 11, tzinfo=UTC), datetime(2024, 1, 2, 12, tzinfo=UTC))
    _, rows = run(con, "Syslog | count", timespan=span)
    assert rows == [(2,)]


def test_join_innerunique_dedups_left_and_suffixes_columns(con: duckdb.DuckDBPyConnection) -> None:
    kql = """let L = datatable(k:string, v:int)["a", 1, "a", 2, "b", 3];
let R = datatable(k:string, w:int)["a", 10, "a", 20, "c", 30];
L | join R on k | project k, k1, w | sort by w asc"""
    cols, rows = run(con, kql)
    assert cols == ["k", "k1", "w"]
    assert rows == [("a", "a", 10), ("a", "a", 20)]


def test_leftanti_and_leftouter(con: duckdb.DuckDBPyConnection) -> None:
    base = 'let L = datatable(k:string)["a", "b"]; let R = datatable(k:string, w:int)["a", 1];\n'
    _, rows = run(con, base + "L | join kind=leftanti R on k")
    assert rows == [("b",)]
    _, rows = run(
        con, base + "L | join kind=leftouter R on $left.k == $right.k | sort by k asc | project k, w"
    )
    assert rows == [("a", 1), ("b", None)]


def test_parse_and_mv_expand(con: duckdb.DuckDBPyConnection) -> None:
    _, rows = run(
        con, 'print s = "user=bob id=42" | parse s with "user=" user " id=" id:int | project user, id'
    )
    assert rows == [("bob", 42)]
    _, rows = run(con, 'print d = dynamic(["x", "y"]) | mv-expand d to typeof(string)')
    assert rows == [("x",), ("y",)]


def test_render_is_metadata() -> None:
    q = compile_query(
        "Syslog | summarize count() by bin(TimeGenerated, 1h) | render timechart", CATALOG, now=NOW
    )
    assert q.render == {"visualization": "timechart"}


@pytest.mark.parametrize(
    ("kql", "code", "line", "column", "fragment"),
    [
        ('Syslog | where Computr == "x"', "UnknownColumn", 1, 16, "did you mean 'Computer'"),
        ("Syslogg | take 1", "UnknownTable", 1, 1, "did you mean 'Syslog'"),
        ("Syslog | frobnicate", "UnsupportedOperator", 1, 10, "frobnicate"),
        ("Syslog | where nosuchfn(1)", "UnknownFunction", 1, 16, "nosuchfn"),
        ("Syslog | where (", "SyntaxError", 1, 17, ""),
        ("Syslog\n| where x == 'unterminated", "SyntaxError", 2, 14, "Unterminated"),
    ],
)
def test_errors_carry_code_and_position(kql: str, code: str, line: int, column: int, fragment: str) -> None:
    with pytest.raises(KqlError) as info:
        compile_query(kql, CATALOG)
    err = info.value
    assert (err.code, err.line, err.column) == (code, line, column)
    assert fragment in err.message


def test_hostile_string_is_a_literal_not_sql(con: duckdb.DuckDBPyConnection) -> None:
    _, rows = run(con, 'Syslog | where Computer == "x\'; DROP TABLE Syslog; --" | count')
    assert rows == [(0,)]
    assert con.execute('SELECT count(*) FROM "Syslog"').fetchone() == (4,)


def test_to_json_value_formats() -> None:
    assert to_json_value(datetime(2024, 1, 1, 0, 0, 0, 5), "datetime") == "2024-01-01T00:00:00.0000050Z"
    assert to_json_value(-(864_000_000_000 + 10_000_001), "timespan") == "-1.00:00:01.0000001"
    assert to_json_value('{"a": [1]}', "dynamic") == {"a": [1]}
    assert to_json_value(None, "string") is None


def test_project_rename_without_assignment_points_at_the_name() -> None:
    # Kusto: "Column rename assignment expected" on the bare name, not on what follows it
    with pytest.raises(KqlError, match="rename assignment expected") as e:
        compile_query("print a = 1\n| project-rename b = a, c\n", {})
    assert (e.value.line, e.value.column) == (2, 25)


def test_a_bare_search_covers_every_standard_table_even_wide_ones() -> None:
    """`search "x"` tests every string column of every table: SecurityEvent alone has ~200, which
    once made a chain of `or`s too deep to compile."""
    from calypso.wire.schemas import standard_tables

    cat = {name: list(cols) for name, cols in standard_tables().items()}
    con = duckdb.connect()
    for name, cols in cat.items():
        con.execute(
            f'CREATE TABLE "{name}" ({", ".join(f"{chr(34)}{c}{chr(34)} {storage_type(t)}" for c, t in cols)})'
        )
    con.execute("INSERT INTO Syslog (Computer, SyslogMessage) VALUES ('a', 'an error here'), ('b', 'fine')")
    con.execute("INSERT INTO SecurityEvent (Computer, Activity) VALUES ('c', 'logon error')")
    sql = compile_query('search "error" | summarize n = count() by $table | sort by $table asc', cat).sql
    assert con.execute(sql).fetchall() == [("SecurityEvent", 1), ("Syslog", 1)]
    assert compile_query('search "error"', cat, dialect="clickhouse").sql


def test_set_query_now_moves_now_and_ago() -> None:
    sql = compile_query("set query_now = datetime(2024-01-01); print n = now(), a = ago(1d)", {}).sql
    assert duckdb.connect().execute(sql).fetchall() == [(datetime(2024, 1, 1), datetime(2023, 12, 31))]


def test_declared_query_parameters_take_their_defaults(con: duckdb.DuckDBPyConnection) -> None:
    kql = (
        "declare query_parameters(who:string = 'DB1', n:long = 1, missing:string);"
        " Syslog | where Computer == who | take n | extend m = isnull(missing) | project Computer, m"
    )
    sql = compile_query(kql, CATALOG).sql
    assert con.execute(sql).fetchall() == [("DB1", True)]


def test_partition_refuses_what_it_cannot_run_per_group() -> None:
    with pytest.raises(KqlError) as e:
        compile_query("Syslog | partition by Computer (distinct SyslogMessage)", CATALOG)
    assert e.value.code == "UnsupportedOperator" and "distinct" in e.value.message
    assert (e.value.line, e.value.column) == (1, 33)  # where `distinct` stands


def test_range_is_a_function_inside_an_expression_and_a_table_at_the_start() -> None:
    con = duckdb.connect()
    assert con.execute(compile_query("print n = array_length(range(1, 3))", {}).sql).fetchall() == [(3,)]
    assert con.execute(compile_query("range x from 1 to 4 step 1 | count", {}).sql).fetchall() == [(4,)]
    sql = compile_query("print n = toscalar(range x from 1 to 5 step 1 | count)", {}).sql
    assert con.execute(sql).fetchall() == [(5,)]
