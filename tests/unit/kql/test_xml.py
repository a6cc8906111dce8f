"""parse_xml on both engines: the documented conversion plus the limits the module docstring states."""

from __future__ import annotations

import json

import duckdb
import pytest

from calypso.kql import compile_query

CATALOG = {"T": [("i", "long"), ("x", "string")]}
CASES: list[tuple[str, object]] = [
    (
        "<a x='1' y=\"2\"><b>&lt;&amp;&gt;&quot;&apos;</b><b/><c><d>1</d></c><b>3</b></a>",
        {"a": {"@x": "1", "@y": "2", "b": ["<&>\"'", None, "3"], "c": {"d": "1"}}},
    ),
    ("<a><!-- a > b --><b>1</b><![CDATA[skipped <x>]]><?pi x?></a>", {"a": {"b": "1"}}),
    ("<a>x<b/>y</a>", {"a": {"#text": ["x", "y"], "b": None}}),
    ("<a>\n\t  é ü 日本  \r\n</a>", {"a": "é ü 日本"}),
    ("<a>&#65;</a>", {"a": "&#65;"}),
    ("<a x='1 > 0' y=\"<b/>\">t</a>", {"a": {"@x": "1 > 0", "@y": "<b/>", "#text": "t"}}),
    ("<ns:a xmlns:ns='u'><ns:b k = 'v'/></ns:a>", {"ns:a": {"@xmlns:ns": "u", "ns:b": {"@k": "v"}}}),
    ("<a><b></c></a>", None),
    ("<a/><b/>", None),
    ("</a>", None),
    ("<a>", None),
    ("text", None),
    ("", None),
]


def _rows(dialect: str) -> list[tuple[int, object]]:
    q = compile_query("T | project i, d = parse_xml(x) | order by i asc", CATALOG, dialect=dialect)
    data = [(i, x) for i, (x, _) in enumerate(CASES)] + [(len(CASES), None)]
    if dialect == "duckdb":
        con = duckdb.connect()
        con.execute("CREATE TABLE T (i BIGINT, x VARCHAR)")
        con.executemany("INSERT INTO T VALUES (?, ?)", data)
        out = con.execute(q.sql).fetchall()
    else:
        chs = pytest.importorskip("chdb.session")
        from calypso.kql.dialects.clickhouse import ClickHouse

        s = chs.Session()
        s.query("CREATE TABLE T (i Nullable(Int64), x Nullable(String)) ENGINE = Memory")
        values = ", ".join(f"({i}, {'NULL' if x is None else _ch_string(x)})" for i, x in data)
        s.query(f"INSERT INTO T VALUES {values}")
        res = s.query(q.sql + " " + ClickHouse.settings_clause(), "JSONCompact")
        out = [tuple(r) for r in json.loads(res.bytes())["data"]]
    return [(int(i), None if d is None else json.loads(d)) for i, d in out]


def _ch_string(s: str) -> str:
    return "'" + s.replace("\\", "\\\\").replace("'", "\\'") + "'"


@pytest.mark.parametrize("dialect", ["duckdb", "clickhouse"])
def test_parse_xml(dialect: str) -> None:
    got = _rows(dialect)
    want = [(i, v) for i, (_, v) in enumerate(CASES)] + [(len(CASES), None)]
    assert got == want


def test_over_one_megabyte_is_null() -> None:
    con = duckdb.connect()
    con.execute("CREATE TABLE T (i BIGINT, x VARCHAR)")
    con.execute("INSERT INTO T VALUES (1, '<a>' || repeat('x', 1048576) || '</a>'), (2, '<a>x</a>')")
    q = compile_query("T | project i, n = isnull(parse_xml(x)) | order by i asc", CATALOG)
    assert con.execute(q.sql).fetchall() == [(1, True), (2, False)]


def test_needs_a_string() -> None:
    from calypso.kql import KqlError

    with pytest.raises(KqlError, match="parse_xml"):
        compile_query("print d = parse_xml(1)", {})
