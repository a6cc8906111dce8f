"""externaldata: the compiler names a table of strings to fetch and applies the declared types in SQL,
the same on DuckDB and ClickHouse (chdb); it never fetches anything itself."""

from __future__ import annotations

import csv
import io

import duckdb
import pyarrow as pa
import pytest

from calypso.kql import KqlError, compile_query

QUERY = (
    "externaldata (Rank:long, Domain:string, Seen:datetime, Score:real, Tags:dynamic, Ok:bool) "
    '[@"https://feeds.example/top.csv", "https://feeds.example/more.csv"] '
    'with (format="csv", ignoreFirstRecord=true) | order by Domain asc'
)
FETCHED = {  # what a fetcher registers: every column as strings, as they were in the file
    "Rank": ["1", "x", None],
    "Domain": ["a.com", "b.com", "c.com"],
    "Seen": ["2024-05-01T10:00:00Z", "not a date", ""],
    "Score": ["0.5", "", "1e3"],
    "Tags": ['["p","q"]', "{bad", None],
    "Ok": ["true", "false", "maybe"],
}
EXPECTED = [
    ("1", "a.com", "2024-05-01 10:00:00", "0.5", "2", "true"),
    ("", "b.com", "", "", "", "false"),
    ("", "c.com", "", "1000", "", ""),
]
SHOWN = "Rank, Domain, Seen, Score, array_length(Tags), Ok"


def _normalized(rows: list[tuple[object, ...]]) -> list[tuple[str, ...]]:
    def one(v: object) -> str:
        if v is None:
            return ""
        if isinstance(v, bool):
            return "true" if v else "false"
        if isinstance(v, float):
            return f"{v:g}"
        return str(v).replace(".000000", "").replace("T", " ")

    return [tuple(one(v) for v in row) for row in rows]


def test_the_query_lists_what_to_fetch_and_its_columns() -> None:
    compiled = compile_query(QUERY, {})
    (ext,) = compiled.externals
    assert ext.urls == ("https://feeds.example/top.csv", "https://feeds.example/more.csv")
    assert ext.property("FORMAT") == "csv" and ext.property("ignoreFirstRecord") == "true"
    assert ext.columns[0] == ("Rank", "long")
    assert [(c.name, c.type) for c in compiled.columns] == [
        ("Rank", "long"),
        ("Domain", "string"),
        ("Seen", "datetime"),
        ("Score", "real"),
        ("Tags", "dynamic"),
        ("Ok", "bool"),
    ]
    assert "feeds.example" not in compiled.sql  # URLs never reach the SQL


def test_duckdb_converts_the_fetched_strings_as_declared() -> None:
    compiled = compile_query(f"{QUERY} | project {SHOWN}", {})
    con = duckdb.connect()
    con.register(
        compiled.externals[0].table, pa.table({k: pa.array(v, pa.string()) for k, v in FETCHED.items()})
    )
    assert _normalized(con.execute(compiled.sql).fetchall()) == EXPECTED


def test_clickhouse_converts_the_fetched_strings_the_same_way() -> None:
    chdb_session = pytest.importorskip("chdb.session")
    compiled = compile_query(f"{QUERY} | project {SHOWN}", {}, dialect="clickhouse")
    table = compiled.externals[0].table
    sess = chdb_session.Session()
    sess.query(
        f"CREATE TABLE `{table}` ({', '.join(f'`{k}` Nullable(String)' for k in FETCHED)}) ENGINE = Memory"
    )
    rows = list(zip(*FETCHED.values(), strict=True))
    values = ", ".join(
        "(" + ", ".join("NULL" if v is None else "'" + v + "'" for v in row) + ")" for row in rows
    )
    sess.query(f"INSERT INTO `{table}` VALUES {values}")
    out = str(sess.query(compiled.sql, "CSV"))
    got = [tuple(None if f == "\\N" else f for f in r) for r in csv.reader(io.StringIO(out))]
    assert _normalized(got) == EXPECTED


@pytest.mark.parametrize(
    ("kql", "message"),
    [
        ('externaldata () ["https://x/y.csv"]', "at least one column"),
        ("externaldata (a:string) []", "at least one URL"),
        ("externaldata (a:string) [strcat('https://x/', 'y')]", "Expected a literal"),
    ],
)
def test_malformed_externaldata_is_a_syntax_error_with_a_position(kql: str, message: str) -> None:
    with pytest.raises(KqlError) as e:
        compile_query(kql, {})
    assert e.value.code == "SyntaxError" and message in e.value.message and e.value.line == 1
