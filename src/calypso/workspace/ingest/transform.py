"""Ingestion-time KQL transformations (`transformKql` of a data collection rule).

Invariant: the incoming rows are visible to the KQL as the table `source` (registered on one reader
cursor only, never stored); the KQL is compiled by `calypso.kql` like any query, so a transformation
can do exactly what a query can, and nothing more.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pyarrow as pa

from calypso.workspace import kqlbridge
from calypso.workspace.ingest.prepare import IngestError
from calypso.workspace.store.duckdb import DuckDBStore


def apply(
    store: DuckDBStore, kql: str, source: pa.Table, schema: Sequence[tuple[str, str]]
) -> tuple[pa.Table, dict[str, str]]:
    """Run `kql` over `source`; returns the result and its columns' Kusto types."""
    try:
        compiled = kqlbridge.compile_query(kql, {"source": tuple(schema)})
    except kqlbridge.KqlUnavailable as e:
        raise IngestError(f"transformKql cannot run: {e}") from None
    except kqlbridge.kql_error_type() as e:
        where = ""
        if getattr(e, "line", None) is not None:
            where = f" at line {getattr(e, 'line', '?')}, column {getattr(e, 'column', '?')}"
        raise IngestError(f"transformKql is not valid{where}: {getattr(e, 'message', e)}") from None
    if compiled.externals:
        raise IngestError("transformKql cannot use externaldata: it runs on every ingested batch")
    try:
        result: pa.Table = store.query_arrow(compiled.sql, {"source": source})
    except Exception as e:  # duckdb.Error: the transformation failed on these rows
        raise IngestError(f"transformKql failed on the data: {str(e).splitlines()[0]}") from None
    types: dict[str, Any] = {c.name: c.type for c in compiled.columns}
    return result, types
