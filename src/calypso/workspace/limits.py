"""The server's limits, in a module of their own so the CLI can show defaults without loading the store."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Limits:
    max_body_bytes: int = 30 * 1024 * 1024  # Data Collector: 30 MB per post
    ingestion_max_bytes: int = 1024 * 1024  # Logs Ingestion API: 1 MB per call (after decompression)
    agent_max_body_bytes: int = 32 * 1024 * 1024
    max_result_rows: int = 500_000
    max_result_bytes: int = 64 * 1024 * 1024
    query_timeout_seconds: float = 180.0
    retention_interval_seconds: float = 3600.0
    externaldata_allow: tuple[str, ...] = ()  # URL prefixes a query's externaldata may read; none by default
    externaldata_ca: str | None = None  # CA file to trust for them (default: the system's)
    externaldata_max_bytes: int = 100 * 1024 * 1024
    externaldata_timeout: float = 30.0
