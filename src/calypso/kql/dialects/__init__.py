"""Engine dialects: what differs between DuckDB and ClickHouse, one class per engine.

Invariant: the planner and the function registries never test the dialect's name; every
engine-specific construct is a method on `Dialect`, looked up through `DIALECTS`.
"""

from __future__ import annotations

from .base import Dialect
from .clickhouse import ClickHouse
from .duckdb import DuckDB

DIALECTS: dict[str, Dialect] = {"duckdb": DuckDB(), "clickhouse": ClickHouse()}

__all__ = ["DIALECTS", "Dialect"]
