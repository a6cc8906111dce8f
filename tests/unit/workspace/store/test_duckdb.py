from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Iterator
from pathlib import Path

import duckdb
import pytest

from calypso.workspace.ingest.prepare import IngestError, RawBatch
from calypso.workspace.store.duckdb import DuckDBStore, StoreClosed

WS = "11111111-2222-3333-4444-555555555555"


@pytest.fixture
def store(tmp_path: Path) -> Iterator[DuckDBStore]:
    s = DuckDBStore(tmp_path / "store.duckdb", WS)
    yield s
    s.close()


def syslog(n: int, batch_id: str | None = None, when: str | None = None) -> RawBatch:
    columns = {"Computer": [f"c{i % 2}" for i in range(n)], "SyslogMessage": [f"m{i}" for i in range(n)]}
    if when:
        columns["TimeGenerated"] = [when] * n
    return RawBatch("Syslog", columns, n, batch_id)


def count(store: DuckDBStore, table: str) -> int:
    return int(store.query(f'SELECT count(*) FROM "{table}"', 10).rows[0][0])


def test_standard_tables_exist_with_kusto_schema(store: DuckDBStore) -> None:
    catalog = store.catalog()
    assert "Syslog" in catalog and "Heartbeat" in catalog
    assert dict(catalog["Syslog"])["ProcessID"] == "int"
    types = dict(
        store.query(
            "SELECT column_name, data_type FROM information_schema.columns WHERE table_name = 'Syslog'", 100
        ).rows
    )
    assert types["ProcessID"] == "INTEGER" and types["TimeGenerated"] == "TIMESTAMP"


def test_batch_id_deduplicated_within_and_across_requests(store: DuckDBStore) -> None:
    first = store.write([syslog(10, "b1"), syslog(10, "b1")]).result()
    assert (first.accepted, first.duplicates, first.rows) == (1, 1, 10)
    again = store.write([syslog(10, "b1"), syslog(5, "b2")]).result()
    assert (again.accepted, again.duplicates, again.rows) == (1, 1, 5)
    assert count(store, "Syslog") == 15


def test_failed_request_stores_nothing_and_keeps_id_free(store: DuckDBStore) -> None:
    bad = RawBatch("Syslog", {"ProcessID": ["x"]}, 1, "b9")
    with pytest.raises(IngestError):
        store.write([syslog(3, "b8"), bad]).result()
    assert count(store, "Syslog") == 0
    assert store.write([syslog(3, "b8")]).result().accepted == 1


def test_common_columns_are_filled(store: DuckDBStore) -> None:
    store.write([syslog(2)], now=dt.datetime(2026, 1, 1, tzinfo=dt.UTC)).result()
    rows = store.query('SELECT DISTINCT TenantId, Type, SourceSystem, TimeGenerated FROM "Syslog"', 10).rows
    assert rows == [(WS, "Syslog", "OpsManager", dt.datetime(2026, 1, 1))]


def test_custom_table_grows_and_survives_reopen(tmp_path: Path) -> None:
    path = tmp_path / "s.duckdb"
    s = DuckDBStore(path, WS)
    s.write([RawBatch("App_CL", {"A": ["x"]}, 1)]).result()
    s.write([RawBatch("App_CL", {"B": [1.5]}, 1)]).result()
    with pytest.raises(IngestError, match="column C"):  # C becomes long, then a text value: all rolled back
        s.write(
            [RawBatch("App_CL", {"C": [1]}, 1, type_hints={"C": "long"}), RawBatch("App_CL", {"C": ["x"]}, 1)]
        ).result()
    s.close()
    s = DuckDBStore(path, WS)
    schema = dict(s.catalog()["App_CL"])
    assert schema["A"] == "string" and schema["B"] == "real" and "C" not in schema
    assert count(s, "App_CL") == 2
    s.close()


def test_unknown_table_and_column(store: DuckDBStore) -> None:
    with pytest.raises(IngestError, match="not a standard table"):
        store.write([RawBatch("Nope", {"a": [1]}, 1)]).result()
    with pytest.raises(IngestError, match="Bogus"):
        store.write([RawBatch("Syslog", {"Bogus": [1]}, 1)]).result()


def test_sql_cannot_reach_the_file_system(store: DuckDBStore) -> None:
    for sql in (
        "SELECT * FROM read_csv('/etc/passwd')",
        "COPY (SELECT 1) TO '/tmp/calypso-leak.csv'",
        "ATTACH '/tmp/other.duckdb' AS o",
        "SET enable_external_access = true",
    ):
        with pytest.raises(duckdb.Error):
            store.query(sql, 10)


def test_readers_do_not_wait_for_a_long_write(store: DuckDBStore) -> None:
    started, release = threading.Event(), threading.Event()

    def slow(db: duckdb.DuckDBPyConnection) -> None:
        db.execute("BEGIN")
        db.execute("INSERT INTO \"Syslog\" (Computer) VALUES ('held')")
        started.set()
        release.wait(10)
        db.execute("COMMIT")

    fut = store.submit(slow)
    assert started.wait(5)
    assert count(store, "Syslog") == 0  # answered while the write transaction is open
    release.set()
    fut.result()
    assert count(store, "Syslog") == 1


def test_retention_deletes_only_expired_rows(store: DuckDBStore) -> None:
    now = dt.datetime(2026, 6, 1, tzinfo=dt.UTC)
    store.write([syslog(4, when="2026-01-01T00:00:00Z"), syslog(3, when="2026-05-30T00:00:00Z")]).result()
    store.write([RawBatch("App_CL", {"A": ["x"], "TimeGenerated": ["2026-05-20T00:00:00Z"]}, 1)]).result()
    deleted = store.enforce_retention(30, {"App_CL": 7}, now=now)
    assert deleted == {"Syslog": 4, "App_CL": 1}
    assert count(store, "Syslog") == 3


def test_writes_after_close_are_refused(tmp_path: Path) -> None:
    s = DuckDBStore(tmp_path / "c.duckdb", WS)
    s.close()
    with pytest.raises(StoreClosed):
        s.write([syslog(1)]).result()


def test_group_commit_isolates_a_bad_request(store: DuckDBStore) -> None:
    release = threading.Event()
    blocker = store.submit(lambda db: release.wait(10))  # writes queue up behind it
    good1 = store.write([syslog(5, "g1")])
    bad = store.write([RawBatch("Syslog", {"ProcessID": ["nope"]}, 1, "x1")])
    good2 = store.write([syslog(7, "g2"), syslog(7, "g1")])  # g1 again: a duplicate within the group
    release.set()
    blocker.result()
    assert good1.result().rows == 5
    with pytest.raises(IngestError):
        bad.result()
    second = good2.result()
    assert (second.accepted, second.duplicates, second.rows) == (1, 1, 7)
    assert count(store, "Syslog") == 12


def test_duplicate_is_answered_as_success_even_if_its_resent_content_is_bad(store: DuckDBStore) -> None:
    assert store.write([syslog(3, "d1")]).result().accepted == 1
    resent = store.write([RawBatch("Syslog", {"ProcessID": ["not a number"]}, 1, "d1")]).result()
    assert (resent.accepted, resent.duplicates, resent.rows) == (0, 1, 0)
    assert count(store, "Syslog") == 3


def test_batch_prepared_before_its_table_grew_is_converted_again(store: DuckDBStore) -> None:
    release = threading.Event()
    blocker = store.submit(lambda db: release.wait(10))  # both requests are prepared before either commits
    first = store.write([RawBatch("Grow_CL", {"N": ["text"]}, 1)])  # creates N as string
    second = store.write([RawBatch("Grow_CL", {"N": [5]}, 1)])  # alone, N would be inferred as long
    release.set()
    blocker.result()
    assert first.result().rows == 1 and second.result().rows == 1
    assert dict(store.catalog()["Grow_CL"])["N"] == "string"
    assert sorted(r[0] for r in store.query('SELECT N FROM "Grow_CL"', 10).rows) == ["5", "text"]


def test_large_commits_are_stored_whole_and_survive_reopen(tmp_path: Path) -> None:
    path = tmp_path / "big.duckdb"
    s = DuckDBStore(path, WS)
    futures = [s.write([syslog(50_000, f"big{i}")]) for i in range(4)]
    assert sum(f.result().rows for f in futures) == 200_000
    s.close()
    s = DuckDBStore(path, WS)
    try:
        assert count(s, "Syslog") == 200_000
        assert s.write([syslog(50_000, "big0")]).result().duplicates == 1
        distinct = s.query('SELECT count(DISTINCT SyslogMessage) FROM "Syslog"', 1).rows[0][0]
        assert distinct == 50_000
    finally:
        s.close()


def test_tenant_and_type_are_computed_not_stored_and_old_files_still_take_rows(tmp_path: Path) -> None:
    """New tables compute TenantId and Type (inserts skip them); a table an older version made
    with stored TenantId/Type columns keeps receiving rows with both filled."""
    path = tmp_path / "s.duckdb"
    s = DuckDBStore(path, WS)
    s.write([syslog(3), RawBatch("New_CL", {"A": ["x"]}, 1)]).result()
    generated = s.query(
        "SELECT table_name, column_name FROM information_schema.columns WHERE is_generated = 'ALWAYS'"
        " AND table_name IN ('Syslog', 'New_CL') ORDER BY 1, 2",
        10,
    ).rows
    assert generated == [
        ("New_CL", "TenantId"),
        ("New_CL", "Type"),
        ("Syslog", "TenantId"),
        ("Syslog", "Type"),
    ]
    s.close()
    db = duckdb.connect(str(path))  # what an older version made: the same table with stored columns
    db.execute(
        'CREATE TABLE "Old_CL" ("TenantId" VARCHAR, "TimeGenerated" TIMESTAMP, "Type" VARCHAR,'
        ' "_ResourceId" VARCHAR, "SourceSystem" VARCHAR, "A" VARCHAR)'
    )
    db.execute(
        "INSERT INTO _calypso.columns VALUES ('Old_CL', 'TenantId', 'string', 0),"
        " ('Old_CL', 'TimeGenerated', 'datetime', 1), ('Old_CL', 'Type', 'string', 2),"
        " ('Old_CL', '_ResourceId', 'string', 3), ('Old_CL', 'SourceSystem', 'string', 4),"
        " ('Old_CL', 'A', 'string', 5)"
    )
    db.close()
    s = DuckDBStore(path, WS)
    s.write([syslog(2), RawBatch("Old_CL", {"A": ["y"]}, 1)]).result()
    for table, n in (("Syslog", 5), ("New_CL", 1), ("Old_CL", 1)):
        rows = s.query(f'SELECT DISTINCT TenantId, Type FROM "{table}"', 10).rows
        assert rows == [(WS, table)] and count(s, table) == n
    s.close()
