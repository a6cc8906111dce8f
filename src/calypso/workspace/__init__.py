"""The workspace server: stores users' data (DuckDB, one database per workspace) and answers KQL through
Azure-compatible APIs (Data Collector, Logs Ingestion, Query) and Calypso's own agent path.

Layout: `layout` (files under the data directory), `tls` (workspace CA), `auth` (keys, tokens, agent
signatures), `columns` (JSON values -> Arrow columns of a Kusto type), `catalog` (table schemas),
`store/` (DuckDB writer and readers), `ingest/` (turning requests into rows), `api/` (one module per API),
`app` (routing), `server` (uvicorn + TLS + signals), `cli` (the `workspace` command group).
"""
