"""Workspace storage. `duckdb.DuckDBStore` is the default (and only, for now) store."""
