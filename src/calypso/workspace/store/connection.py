"""Opening a workspace's DuckDB database: the file attached with our row group size, locked settings.

Invariant: the connection runs with external access disabled and locked configuration: SQL compiled
from KQL cannot touch the file system. The file is attached as `CATALOG`, so reader cursors `USE` it.
`META` holds the store's own tables (batch ids, custom table columns, agents), created when it opens.
"""

from __future__ import annotations

from pathlib import Path

import duckdb

from calypso.workspace.store.ddl import literal

DUCKDB_CONFIG = {"enable_external_access": False, "lock_configuration": True}
CATALOG = "workspace"  # the database file's name inside the connection
# Row groups of 16,384 rows (DuckDB's default: 122,880): an insert's full row groups go straight into the
# database file, compressed, the rest through the write-ahead log and again at the next checkpoint, so
# smaller row groups let the agent's ~27k-row requests mostly skip the log (1.7x the rows/s of 32,768
# for them, 2x for 50k-row commits against the default) and give TimeGenerated filters finer zone
# maps. The size is a property of the attachment, not of the file.
ROW_GROUP_SIZE = 16_384
META = """
CREATE SCHEMA IF NOT EXISTS _calypso;
CREATE TABLE IF NOT EXISTS _calypso.batches (batch_id VARCHAR PRIMARY KEY, tbl VARCHAR, rows BIGINT,
    received TIMESTAMP);
CREATE TABLE IF NOT EXISTS _calypso.columns (tbl VARCHAR, col VARCHAR, kusto_type VARCHAR, ord INTEGER);
CREATE TABLE IF NOT EXISTS _calypso.agents (agent_id VARCHAR PRIMARY KEY, machine_id VARCHAR,
    hostname VARCHAR, public_key VARCHAR, labels VARCHAR, created TIMESTAMP, revoked BOOLEAN);
"""


def connect(path: Path) -> duckdb.DuckDBPyConnection:
    """The workspace file attached with our row group size, then external access off and locked."""
    db = duckdb.connect(":memory:")
    try:
        db.execute(f"ATTACH {literal(str(path))} AS {CATALOG} (ROW_GROUP_SIZE {ROW_GROUP_SIZE})")
        db.execute(f"USE {CATALOG}")
        db.execute(f"SET temp_directory = {literal(str(path) + '.tmp')}")  # where a file database spills
        for name, value in DUCKDB_CONFIG.items():
            db.execute(f"SET {name} = {str(value).lower()}")
    except BaseException:
        db.close()
        raise
    return db
