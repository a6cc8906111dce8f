"""parse_path splits Windows, Unix and URL paths into Kusto's property bag (run on DuckDB)."""

from __future__ import annotations

import json

import duckdb

from calypso.kql import compile_query


def parse(path: str) -> dict[str, str]:
    con = duckdb.connect()
    con.execute("CREATE TABLE T (p VARCHAR)")
    con.execute("INSERT INTO T VALUES (?)", [path])
    sql = compile_query("T | project r = parse_path(p)", {"T": [("p", "string")]}).sql
    value = con.execute(sql).fetchone()
    assert value is not None
    return dict(json.loads(value[0]))


def test_windows_path() -> None:
    assert parse("C:\\Windows\\System32\\cmd.exe") == {
        "Scheme": "",
        "RootPath": "C:",
        "DirectoryPath": "C:\\Windows\\System32",
        "DirectoryName": "System32",
        "Filename": "cmd.exe",
        "Extension": "exe",
        "AlternateDataStreamName": "",
    }


def test_unix_path_and_alternate_stream_and_url() -> None:
    unix = parse("/usr/bin/python3")
    assert (unix["DirectoryPath"], unix["Filename"], unix["Extension"]) == ("/usr/bin", "python3", "")
    ads = parse("C:\\temp\\file.txt:secret")
    assert (ads["Filename"], ads["Extension"], ads["AlternateDataStreamName"]) == (
        "file.txt",
        "txt",
        "secret",
    )
    url = parse("https://host.example/dir/f.txt")
    assert (url["Scheme"], url["RootPath"], url["DirectoryName"]) == ("https", "host.example", "dir")


def test_tostring_of_a_member_of_parse_path_is_usable() -> None:
    con = duckdb.connect()
    con.execute("CREATE TABLE T (p VARCHAR)")
    con.execute("INSERT INTO T VALUES ('D:\\a\\b.dll')")
    sql = compile_query(
        "T | extend pp = parse_path(p) | project d = tostring(pp.DirectoryPath)", {"T": [("p", "string")]}
    ).sql
    assert con.execute(sql).fetchall() == [("D:\\a",)]
