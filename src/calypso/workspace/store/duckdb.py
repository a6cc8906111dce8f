"""One workspace's DuckDB database, owned by this process: one writer thread, many reader cursors.

Invariants:
- Every write (rows, batch ids, schema growth, agents) runs on the single writer thread, inside one
  transaction: a batch and its batch id commit together, so a repeated id is answered as a duplicate
  and never stored twice, and a crash leaves a request either absent or whole. Write requests waiting
  at the same time share one transaction (group commit, see `group`); if it fails, each is retried
  alone, so one bad request never fails another.
- Write requests are converted to Arrow (`prepare`) on one preparing thread, in arrival order, while
  the writer inserts earlier ones; the writer re-prepares a batch whose table schema changed in
  between, and raises a preparation error only for a batch that is not a duplicate.
- Readers use their own cursors on a thread pool and never wait for the writer (DuckDB MVCC).
- The connection runs with external access disabled and locked configuration (see `connection`): SQL
  compiled from KQL cannot touch the file system.
- The in-memory catalog (table -> schema) changes only after the transaction that changed the tables
  committed.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import duckdb
import orjson
import pyarrow as pa

from calypso.wire.schemas import Schema, standard_tables
from calypso.workspace.ingest.prepare import IngestError, Prepared, RawBatch, prepare
from calypso.workspace.kqlbridge import storage_type
from calypso.workspace.store.connection import CATALOG, META, connect
from calypso.workspace.store.ddl import VIRTUAL, create_sql, quote, virtual_columns
from calypso.workspace.store.group import STOP, GroupPolicy, Item, WorkQueue

log = logging.getLogger("calypso.workspace.store")
T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class WriteResult:
    accepted: int
    duplicates: int
    rows: int
    tables: tuple[tuple[str, int], ...]


@dataclass(frozen=True, slots=True)
class AgentRecord:
    agent_id: str
    machine_id: str
    hostname: str
    public_key: str
    labels: dict[str, str]
    created: dt.datetime
    revoked: bool = False


@dataclass(frozen=True, slots=True)
class QueryResult:
    names: tuple[str, ...]
    rows: list[tuple[Any, ...]]
    truncated: bool


class StoreClosed(RuntimeError):
    pass


@dataclass(frozen=True, slots=True)
class Staged:
    """A batch converted ahead of its transaction against `schema` (the table's schema then)."""

    raw: RawBatch
    schema: Schema | None
    prepared: Prepared | None
    error: Exception | None


WriteRequest = tuple[tuple[Staged, ...], dt.datetime | None]


class DuckDBStore:
    def __init__(self, path: Path, workspace_id: str, policy: GroupPolicy | None = None) -> None:
        self.path = path
        self.workspace_id = workspace_id
        path.parent.mkdir(parents=True, exist_ok=True)
        storage_type("string")  # loads the KQL compiler's type map now rather than on the first new table
        self._db = connect(path)
        self._db.execute(META)
        self._catalog: dict[str, Schema] = self._load_catalog()
        self._virtual = virtual_columns(self._db, CATALOG)  # written by the writer thread only
        self._agents: dict[str, AgentRecord] = self._load_agents()
        self._queue = WorkQueue(policy)
        self._preparer = ThreadPoolExecutor(1, thread_name_prefix=f"duckdb-prepare-{workspace_id[:8]}")
        self._closed = False
        self._thread = threading.Thread(
            target=self._run, name=f"duckdb-writer-{workspace_id[:8]}", daemon=True
        )
        self._thread.start()

    # ---- catalog -------------------------------------------------------------------------------------
    def _load_catalog(self) -> dict[str, Schema]:
        existing = {
            r[0]
            for r in self._db.execute(
                "SELECT table_name FROM information_schema.tables WHERE table_schema = 'main'"
                " AND table_catalog = ?",
                [CATALOG],
            ).fetchall()
        }
        catalog: dict[str, Schema] = {}
        self._db.execute("BEGIN")
        for name, schema in standard_tables().items():
            if name not in existing:
                self._db.execute(create_sql(name, schema, self.workspace_id))
            catalog[name] = schema
        self._db.execute("COMMIT")
        custom: dict[str, list[tuple[str, str]]] = {}
        for tbl, col, kusto_type in self._db.execute(
            "SELECT tbl, col, kusto_type FROM _calypso.columns ORDER BY tbl, ord"
        ).fetchall():
            custom.setdefault(tbl, []).append((col, kusto_type))
        for tbl, cols in custom.items():
            if tbl in existing:
                catalog[tbl] = tuple(cols)
        return catalog

    def catalog(self) -> dict[str, Schema]:
        return dict(self._catalog)

    # ---- writer --------------------------------------------------------------------------------------
    def _run(self) -> None:
        while True:
            item = self._queue.get()
            if item is STOP:
                return
            if item.kind == "write":
                self._run_writes(self._queue.group(item))
                continue
            fut = item.future
            if not fut.set_running_or_notify_cancel():
                continue
            try:
                fut.set_result(item.payload(self._db))
            except BaseException as e:  # handed to the caller through the future
                fut.set_exception(e)

    def _run_writes(self, items: list[Item]) -> None:
        group = [(item.payload, item.future) for item in items if item.future.set_running_or_notify_cancel()]
        if not group:
            return
        try:
            results = self._write_many(self._db, [payload for payload, _ in group])
        except BaseException as e:
            if len(group) == 1:
                group[0][1].set_exception(e)
                return
            for payload, fut in group:  # one bad request must not fail the others: one by one
                try:
                    fut.set_result(self._write_many(self._db, [payload])[0])
                except BaseException as single:
                    fut.set_exception(single)
            return
        for (_, fut), result in zip(group, results, strict=True):
            fut.set_result(result)

    def submit(self, fn: Callable[[duckdb.DuckDBPyConnection], T]) -> Future[T]:
        fut: Future[T] = Future()
        if self._closed:
            fut.set_exception(StoreClosed("the store is shutting down"))
            return fut
        self._queue.put(Item("fn", fn, fut))
        return fut

    def write(self, batches: Sequence[RawBatch], now: dt.datetime | None = None) -> Future[WriteResult]:
        """Store the batches in one transaction (possibly shared with other requests: group commit)."""
        fut: Future[WriteResult] = Future()
        if self._closed:
            fut.set_exception(StoreClosed("the store is shutting down"))
            return fut
        self._queue.preparing(+1)
        try:
            self._preparer.submit(self._stage, tuple(batches), now, fut)
        except RuntimeError:  # the preparing thread stopped: close() began meanwhile
            self._queue.preparing(-1)
            fut.set_exception(StoreClosed("the store is shutting down"))
        return fut

    def preparing(self) -> int:
        """Write requests accepted but not yet queued for the writer (being converted to Arrow)."""
        return self._queue.in_preparation

    def _stage(
        self, batches: tuple[RawBatch, ...], now: dt.datetime | None, fut: Future[WriteResult]
    ) -> None:
        """On the preparing thread: convert every batch against the current catalog, then queue."""
        try:
            catalog = self._catalog
            staged: list[Staged] = []
            for raw in batches:
                schema = catalog.get(raw.table)
                try:
                    staged.append(Staged(raw, schema, prepare(raw, catalog, self.workspace_id, now), None))
                except Exception as e:  # raised in the transaction, unless the batch is a duplicate
                    staged.append(Staged(raw, schema, None, e))
            request: WriteRequest = (tuple(staged), now)
            self._queue.put(Item("write", request, fut, sum(b.count for b in batches)))
        except BaseException as e:
            fut.set_exception(e)
        finally:
            self._queue.preparing(-1)

    def _write_many(
        self, db: duckdb.DuckDBPyConnection, requests: Sequence[WriteRequest]
    ) -> list[WriteResult]:
        pending = dict(self._catalog)
        seen: set[str] = set()
        results: list[WriteResult] = []
        inserts: dict[str, list[pa.Table]] = {}
        ids: list[list[Any]] = []
        db.execute("BEGIN")
        try:
            # Every batch id of the group looked up at once (a query per batch cost as much as its rows).
            wanted = [item.raw.batch_id for staged, _ in requests for item in staged if item.raw.batch_id]
            stored = _stored_ids(db, wanted)
            for staged, now in requests:
                accepted = duplicates = rows = 0
                per_table: dict[str, int] = {}
                for item in staged:
                    raw = item.raw
                    if raw.batch_id is not None:
                        if raw.batch_id in seen or raw.batch_id in stored:
                            duplicates += 1
                            continue
                        seen.add(raw.batch_id)
                    prepared = _current(item, pending, self.workspace_id, now)
                    pending[prepared.table] = self._apply_schema(db, prepared, pending.get(prepared.table))
                    if prepared.data.num_rows:
                        inserts.setdefault(prepared.table, []).append(prepared.data)
                    if raw.batch_id is not None:
                        ids.append([raw.batch_id, prepared.table, prepared.data.num_rows, _utcnow()])
                    accepted += 1
                    rows += prepared.data.num_rows
                    per_table[prepared.table] = per_table.get(prepared.table, 0) + prepared.data.num_rows
                results.append(WriteResult(accepted, duplicates, rows, tuple(per_table.items())))
            for table, parts in inserts.items():
                self._insert(db, table, parts, self._virtual.get(table, frozenset()))
            if ids:
                _insert_ids(db, ids)
            db.execute("COMMIT")
        except BaseException:
            db.execute("ROLLBACK")
            raise
        self._catalog = pending
        return results

    @staticmethod
    def _insert(
        db: duckdb.DuckDBPyConnection, table: str, parts: list[pa.Table], virtual: frozenset[str]
    ) -> None:
        """One INSERT per table and transaction where the parts concatenate (bigger inserts are cheaper);
        `virtual` columns are computed by DuckDB and left out."""
        parts = (
            [p.drop_columns([c for c in p.column_names if c in virtual]) for p in parts] if virtual else parts
        )
        try:  # one contiguous chunk: DuckDB splits it across its threads and writes whole row groups
            chunks = [pa.concat_tables(parts, promote_options="permissive").combine_chunks()]
        except (pa.ArrowInvalid, pa.ArrowTypeError):
            chunks = parts
        for data in chunks:
            db.register("_calypso_incoming", data)
            try:
                db.execute(f"INSERT INTO {quote(table)} BY NAME SELECT * FROM _calypso_incoming")
            finally:
                db.unregister("_calypso_incoming")

    def _apply_schema(
        self, db: duckdb.DuckDBPyConnection, prepared: Prepared, current: Schema | None
    ) -> Schema:
        table = prepared.table
        if current is None:
            schema = standard_tables().get(table)
            if schema is None:  # a new custom table: base columns + the batch's
                from calypso.wire.schemas import CUSTOM_BASE_COLUMNS

                schema = (*CUSTOM_BASE_COLUMNS, *prepared.new_columns)
                db.execute(create_sql(table, schema, self.workspace_id))
                self._virtual[table] = frozenset(c for c in VIRTUAL if c in dict(schema))
                db.executemany(
                    "INSERT INTO _calypso.columns VALUES (?, ?, ?, ?)",
                    [[table, c, t, i] for i, (c, t) in enumerate(schema)],
                )
            return schema
        if not prepared.new_columns:
            return current
        present = dict(current)
        added: list[tuple[str, str]] = []
        for col, kusto_type in prepared.new_columns:
            if col in present:
                if present[col] != kusto_type:
                    raise IngestError(
                        f"table {table}, column {col}: type {kusto_type} conflicts with {present[col]}"
                    )
                continue
            db.execute(f"ALTER TABLE {quote(table)} ADD COLUMN {quote(col)} {storage_type(kusto_type)}")
            added.append((col, kusto_type))
        db.executemany(
            "INSERT INTO _calypso.columns VALUES (?, ?, ?, ?)",
            [[table, c, t, len(current) + i] for i, (c, t) in enumerate(added)],
        )
        return (*current, *added)

    # ---- agents --------------------------------------------------------------------------------------
    def _load_agents(self) -> dict[str, AgentRecord]:
        rows = self._db.execute(
            "SELECT agent_id, machine_id, hostname, public_key, labels, created, revoked FROM _calypso.agents"
        ).fetchall()
        return {
            r[0]: AgentRecord(r[0], r[1], r[2], r[3], orjson.loads(r[4] or "{}"), r[5], bool(r[6]))
            for r in rows
        }

    def agent(self, agent_id: str) -> AgentRecord | None:
        return self._agents.get(agent_id)

    def agents(self) -> list[AgentRecord]:
        return list(self._agents.values())

    def put_agent(self, record: AgentRecord) -> Future[None]:
        def run(db: duckdb.DuckDBPyConnection) -> None:
            db.execute(
                "INSERT OR REPLACE INTO _calypso.agents VALUES (?, ?, ?, ?, ?, ?, ?)",
                [
                    record.agent_id,
                    record.machine_id,
                    record.hostname,
                    record.public_key,
                    orjson.dumps(record.labels).decode(),
                    record.created.replace(tzinfo=None),
                    record.revoked,
                ],
            )
            self._agents[record.agent_id] = record

        return self.submit(run)

    # ---- readers -------------------------------------------------------------------------------------
    def _cursor(self) -> duckdb.DuckDBPyConnection:
        """A connection of its own on the same database (MVCC snapshot), reading the workspace file."""
        cur = self._db.cursor()
        cur.execute(f"USE {CATALOG}")
        return cur

    def query(
        self, sql: str, max_rows: int, timeout: float | None = None, tables: dict[str, Any] | None = None
    ) -> QueryResult:
        """Run SQL on a fresh cursor; at most `max_rows` rows, `truncated` says whether more existed.
        `tables` registers Arrow tables by name on that cursor only (ingestion-time transformations)."""
        if self._closed:
            raise StoreClosed("the store is shutting down")
        cur = self._cursor()
        timer = threading.Timer(timeout, cur.interrupt) if timeout else None
        try:
            for name, data in (tables or {}).items():
                cur.register(name, data)
            if timer:
                timer.start()
            cur.execute(sql)
            names = tuple(d[0] for d in cur.description or ())
            rows = cur.fetchmany(max_rows + 1)
        finally:
            if timer:
                timer.cancel()
            cur.close()
        return QueryResult(names, rows[:max_rows], len(rows) > max_rows)

    def table_rows(self) -> dict[str, int]:
        """Exact row count of every table that has rows (a reader cursor; writes go on)."""
        cur = self._cursor()
        try:
            out: dict[str, int] = {}
            for table in sorted(self._catalog):
                rows = cur.execute(f"SELECT count(*) FROM {quote(table)}").fetchall()
                if rows and rows[0][0]:
                    out[table] = int(rows[0][0])
            return out
        finally:
            cur.close()

    def query_arrow(self, sql: str, tables: dict[str, Any]) -> Any:
        cur = self._cursor()
        try:
            for name, data in tables.items():
                cur.register(name, data)
            return cur.sql(sql).to_arrow_table()  # from the relation: no extra copy of the rows
        finally:
            cur.close()

    # ---- retention -----------------------------------------------------------------------------------
    def enforce_retention(
        self, default_days: int, per_table: dict[str, int], now: dt.datetime | None = None
    ) -> dict[str, int]:
        """Delete rows older than each table's retention, on a cursor of its own (ingestion goes on)."""
        stamp = (now or dt.datetime.now(dt.UTC)).astimezone(dt.UTC).replace(tzinfo=None)
        deleted: dict[str, int] = {}
        cur = self._cursor()
        try:
            for table in self.catalog():
                days = per_table.get(table, default_days)
                cutoff = stamp - dt.timedelta(days=days)
                try:
                    row = cur.execute(
                        f"DELETE FROM {quote(table)} WHERE TimeGenerated < ?", [cutoff]
                    ).fetchall()
                except duckdb.TransactionException as e:  # a conflicting write; next round retries
                    log.info("table=%s error=%s Retention deferred.", table, e)
                    continue
                if row and row[0][0]:
                    deleted[table] = int(row[0][0])
            cur.execute("DELETE FROM _calypso.batches WHERE received < ?", [stamp - dt.timedelta(days=7)])
        finally:
            cur.close()
        return deleted

    # ---- lifecycle -----------------------------------------------------------------------------------
    def close(self) -> None:
        """Finish queued writes, then checkpoint and close the database."""
        if self._closed:
            return
        self._closed = True
        self._preparer.shutdown(wait=True)  # every accepted write is queued before the stop
        self._queue.put(STOP)
        self._thread.join()
        try:
            self._db.execute("CHECKPOINT")
        finally:
            self._db.close()


def _current(
    item: Staged, catalog: dict[str, Schema], workspace_id: str, now: dt.datetime | None
) -> Prepared:
    """The staged conversion if the table's schema is still the one it was made for, else a new one."""
    if catalog.get(item.raw.table) != item.schema:
        return prepare(item.raw, catalog, workspace_id, now)
    if item.error is not None:
        raise item.error
    assert item.prepared is not None
    return item.prepared


def _stored_ids(db: duckdb.DuckDBPyConnection, batch_ids: list[str]) -> set[str]:
    """Which of `batch_ids` are already stored, in one query."""
    if not batch_ids:
        return set()
    rows = db.execute(
        "SELECT batch_id FROM _calypso.batches WHERE batch_id IN (SELECT unnest(?::VARCHAR[]))", [batch_ids]
    ).fetchall()
    return {row[0] for row in rows}


def _insert_ids(db: duckdb.DuckDBPyConnection, ids: list[list[Any]]) -> None:
    """Record stored batches in one statement (executemany runs one insert per row)."""
    batch_id, table, rows, received = zip(*ids, strict=True)
    data = pa.table(
        {
            "batch_id": pa.array(batch_id, pa.string()),
            "tbl": pa.array(table, pa.string()),
            "rows": pa.array(rows, pa.int64()),
            "received": pa.array(received, pa.timestamp("us")),
        }
    )
    db.register("_calypso_ids", data)
    try:
        db.execute("INSERT INTO _calypso.batches SELECT * FROM _calypso_ids")
    finally:
        db.unregister("_calypso_ids")


def _utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC).replace(tzinfo=None)
