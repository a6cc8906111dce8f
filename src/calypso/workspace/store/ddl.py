"""SQL that defines a workspace's tables: quoting, CREATE TABLE, and which columns are virtual.

Invariant: in a table this module creates, `TenantId` (the workspace id) and `Type` (the table name)
are virtual columns: DuckDB computes them from the table's definition, so an insert writes neither
(a fifth of the insert's CPU for a tailed line). Tables created by older versions keep them as
stored columns; `virtual_columns` tells the two apart, and inserts leave out only the virtual ones.
"""

from __future__ import annotations

import duckdb

from calypso.wire.schemas import Schema
from calypso.workspace.kqlbridge import storage_type

VIRTUAL = ("TenantId", "Type")  # one value per table, known when it is created


def quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def create_sql(table: str, schema: Schema, workspace_id: str) -> str:
    values = {"TenantId": workspace_id, "Type": table}
    cols = ", ".join(
        f"{quote(c)} {storage_type(t)} GENERATED ALWAYS AS ({literal(values[c])}) VIRTUAL"
        if c in values and t == "string"
        else f"{quote(c)} {storage_type(t)}"
        for c, t in schema
    )
    return f"CREATE TABLE IF NOT EXISTS {quote(table)} ({cols})"


def virtual_columns(db: duckdb.DuckDBPyConnection, catalog: str) -> dict[str, frozenset[str]]:
    """Table -> its virtual columns, for every table of the attached database `catalog`."""
    rows = db.execute(
        "SELECT table_name, column_name FROM information_schema.columns"
        " WHERE table_catalog = ? AND table_schema = 'main' AND is_generated = 'ALWAYS'",
        [catalog],
    ).fetchall()
    out: dict[str, set[str]] = {}
    for table, column in rows:
        out.setdefault(table, set()).add(column)
    return {table: frozenset(cols) for table, cols in out.items()}
