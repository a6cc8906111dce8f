"""The development corpus (real queries) compiles and runs on empty standard tables, on both engines.

Every failure must be a KqlError with a position; custom tables not in tables.json are counted apart.
An `externaldata` table is registered empty, as the workspace registers a fetched empty file.
Each query compiles once per dialect; the engines run in one in-process connection each, ClickHouse
with a per-query time limit, so the whole file stays well under a minute.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa
import pytest

from calypso.kql import KqlError, compile_query, storage_type

REPO = Path(__file__).resolve().parents[3]
CORPUS = REPO / ".." / "shared" / "kql" / "dev-corpus.jsonl"
TABLES = REPO / "src" / "calypso" / "wire" / "tables.json"
COMMON = [
    ("TenantId", "string"),
    ("TimeGenerated", "datetime"),
    ("Type", "string"),
    ("_ResourceId", "string"),
    ("SourceSystem", "string"),
]
FLOOR = {"duckdb": 0.95, "clickhouse": 0.95}  # the target


def catalog() -> dict[str, list[tuple[str, str]]]:
    raw = json.loads(TABLES.read_text("utf-8"))
    out: dict[str, list[tuple[str, str]]] = {}
    for name, cols in raw.items():
        cols = [(c, t) for c, t in cols]
        have = {c for c, _ in cols}
        out[name] = cols + [c for c in COMMON if c[0] not in have]
    return out


def corpus() -> list[dict[str, object]]:
    if not CORPUS.exists():
        pytest.skip(f"corpus not found at {CORPUS}")
    return [json.loads(line) for line in CORPUS.read_text("utf-8").splitlines() if line.strip()]


def _duckdb_runner(cat: dict[str, list[tuple[str, str]]]):  # type: ignore[no-untyped-def]
    con = duckdb.connect()
    for name, cols in cat.items():
        con.execute(
            f'CREATE TABLE "{name}" ({", ".join(f"{chr(34)}{c}{chr(34)} {storage_type(t)}" for c, t in cols)})'
        )

    def run(sql: str, externals: Sequence[Any] = ()) -> object:
        for ext in externals:
            con.register(ext.table, pa.table({c: pa.array([], pa.string()) for c, _ in ext.columns}))
        try:
            return con.execute(sql).fetchall()
        finally:
            for ext in externals:
                con.unregister(ext.table)

    return run


def _clickhouse_runner(cat: dict[str, list[tuple[str, str]]]):  # type: ignore[no-untyped-def]
    chdb_session = pytest.importorskip("chdb.session")
    sess = chdb_session.Session()
    from calypso.kql.dialects.clickhouse import ClickHouse

    sess.query("SET max_query_size = 4000000")
    for name, cols in cat.items():
        ddl = ", ".join(f"`{c}` {storage_type(t, 'clickhouse')}" for c, t in cols)
        sess.query(f"CREATE TABLE IF NOT EXISTS `{name}` ({ddl}) ENGINE = Memory")
    # The settings the store applies (outer-join nulls, no exponential expression merging), plus a time limit.
    settings = ClickHouse.settings_clause() + ", max_execution_time = 5"

    def run(sql: str, externals: Sequence[Any] = ()) -> object:
        for ext in externals:
            sess.query(f"DROP TABLE IF EXISTS `{ext.table}`")
            ddl = ", ".join(f"`{c}` Nullable(String)" for c, _ in ext.columns)
            sess.query(f"CREATE TABLE `{ext.table}` ({ddl}) ENGINE = Memory")
        return sess.query(f"{sql} {settings}", "CSV")

    return run


@pytest.mark.parametrize("dialect", ["duckdb", "clickhouse"])
def test_corpus_pass_rate(dialect: str) -> None:
    cat = catalog()
    entries = corpus()
    runner = _duckdb_runner(cat) if dialect == "duckdb" else _clickhouse_runner(cat)
    ok, custom, failures = 0, 0, []
    kinds: Counter[str] = Counter()
    for entry in entries:
        text = str(entry["query"])
        try:
            q = compile_query(text, cat, dialect=dialect, now=datetime(2024, 1, 1, tzinfo=UTC))
        except KqlError as e:
            assert e.line >= 1 and e.column >= 1 and e.message
            if e.code == "UnknownTable":
                custom += 1
            else:
                failures.append(f"{entry['id']}: compile {e}")
                kinds[e.code] += 1
            continue
        try:
            runner(q.sql, q.externals)
            ok += 1
        except Exception as e:  # the engine rejected our SQL: a compiler bug to count
            failures.append(f"{entry['id']}: run {str(e).splitlines()[0][:200]}")
            kinds[f"engine:{type(e).__name__}"] += 1
    eligible = len(entries) - custom
    rate = ok / eligible
    print(f"\n{dialect}: {ok}/{eligible} pass ({rate:.1%}); {custom} reference custom tables")
    print("  failures by kind:", ", ".join(f"{k}={n}" for k, n in kinds.most_common()) or "none")
    for f in failures:
        print("  ", f)
    assert rate >= FLOOR[dialect], "\n".join(failures)
