"""Golden semantic cases: KQL over inline `datatable`s, expected rows from Kusto's documented semantics.

Every case in `tests/golden/kql/*.json` runs on DuckDB and on ClickHouse (in-process, chdb) and must
return the expected columns (`name:type`) and rows. Rows compare order-insensitively unless the case
says `"ordered": true`. Values compare after normalising both sides to Kusto's types: datetimes as
instants, timespans as ticks, dynamic as parsed JSON, reals to 9 significant digits.

A case the compiler cannot yet handle on one engine carries `"xfail": {"<engine>": "<reason>"}` and
is a strict xfail: it fails the run once it passes, so the mark is removed when the bug is fixed.

Case file format (a JSON list): {"name", "doc" (the Kusto rule the case pins), "query",
"columns": ["Name:type", ...], "rows": [[...], ...], "ordered"?: bool, "xfail"?: {engine: reason}}.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import duckdb
import pytest

from calypso.kql import compile_query
from calypso.kql.dialects.clickhouse import ClickHouse
from calypso.kql.values import parse_datetime, parse_timespan

CASES_DIR = Path(__file__).resolve().parent / "kql"
NOW = datetime(2024, 1, 1, tzinfo=UTC)
ENGINES = ("duckdb", "clickhouse")
Runner = Callable[[str], list[list[Any]]]


def load_cases() -> list[dict[str, Any]]:
    cases: list[dict[str, Any]] = []
    for path in sorted(CASES_DIR.glob("*.json")):
        for case in json.loads(path.read_text("utf-8")):
            case["file"] = path.stem
            cases.append(case)
    return cases


def _params() -> Iterator[Any]:
    for case in load_cases():
        for engine in ENGINES:
            marks = []
            reason = case.get("xfail", {}).get(engine)
            if reason:
                marks.append(pytest.mark.xfail(reason=reason, strict=True))
            yield pytest.param(case, engine, id=f"{case['file']}/{case['name']}-{engine}", marks=marks)


@pytest.fixture(scope="module")
def duckdb_runner() -> Iterator[Runner]:
    con = duckdb.connect()
    yield lambda sql: [list(r) for r in con.execute(sql).fetchall()]
    con.close()


@pytest.fixture(scope="module")
def clickhouse_runner() -> Iterator[Runner]:
    chs = pytest.importorskip("chdb.session", reason="chdb (in-process ClickHouse) is not installed")
    sess = chs.Session()

    def run(sql: str) -> list[list[Any]]:
        res = sess.query(sql + " " + ClickHouse.settings_clause(), "JSONCompact")
        return list(json.loads(res.bytes())["data"]) if res.bytes() else []

    yield run
    sess.close()


def _real(v: Any) -> Any:
    f = float(v)
    if math.isnan(f) or math.isinf(f):
        return str(f)
    return float(f"{f:.9g}")


def _dynamic(v: Any) -> Any:
    if isinstance(v, str):
        try:
            return json.loads(v)
        except ValueError:
            return v
    return v


def _datetime(v: Any) -> Any:
    if isinstance(v, datetime):
        return v.replace(tzinfo=None)
    return parse_datetime(str(v))


def _timespan(v: Any) -> Any:
    if isinstance(v, int | float) and not isinstance(v, bool):
        return int(v)
    return parse_timespan(str(v))


def _bool(v: Any) -> Any:
    if isinstance(v, str):
        return v.lower() == "true"
    return bool(v)


NORMALISE: dict[str, Callable[[Any], Any]] = {
    "string": str,
    "guid": str,
    "int": int,
    "long": int,
    "real": _real,
    "decimal": _real,
    "bool": _bool,
    "datetime": _datetime,
    "timespan": _timespan,
    "dynamic": _dynamic,
}


def normalise(rows: list[list[Any]], types: list[str]) -> list[tuple[Any, ...]]:
    return [
        tuple(None if v is None else NORMALISE[t](v) for v, t in zip(row, types, strict=True)) for row in rows
    ]


def _sort_key(row: tuple[Any, ...]) -> str:
    return json.dumps(row, default=str, sort_keys=True)


@pytest.mark.parametrize(("case", "engine"), list(_params()))
def test_golden(case: dict[str, Any], engine: str, request: pytest.FixtureRequest) -> None:
    runner: Runner = request.getfixturevalue(f"{engine}_runner")
    compiled = compile_query(case["query"], {}, dialect=engine, now=NOW)
    got_columns = [f"{c.name}:{c.type}" for c in compiled.columns]
    assert got_columns == case["columns"], f"columns differ for {case['query']}"
    types = [c.type for c in compiled.columns]
    got = normalise(runner(compiled.sql), types)
    want = normalise(case["rows"], types)
    if not case.get("ordered"):
        got, want = sorted(got, key=_sort_key), sorted(want, key=_sort_key)
    assert got == want, f"{case['name']}: {case.get('doc', '')}\nquery: {case['query']}\nsql: {compiled.sql}"


def test_enough_cases() -> None:
    """The suite keeps covering the semantics it was written for."""
    assert len(load_cases()) >= 60
