"""Calypso's KQL compiler: KQL text -> one SQL SELECT for DuckDB or ClickHouse, with Kusto semantics.

A pure library (imports nothing else from calypso). Public surface: `compile_query`,
`CompiledQuery`, `OutputColumn`, `KqlError`, `storage_type`, `to_json_value`.
"""

from __future__ import annotations

from .compiler import compile_query, storage_type
from .errors import CompiledQuery, KqlError, OutputColumn
from .values import to_json_value

__all__ = ["CompiledQuery", "KqlError", "OutputColumn", "compile_query", "storage_type", "to_json_value"]
