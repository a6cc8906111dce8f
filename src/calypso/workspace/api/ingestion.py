"""The Logs Ingestion API: `POST /dataCollectionRules/{rule}/streams/{stream}?api-version=2023-01-01`.

Invariants: a bearer token with role `ingest` of the workspace that owns the rule is required; bodies
may be gzip (decompressed size bounded too); success is 204; a body over the limit is 413 with a
message giving both sizes; a value that does not fit is 400 naming the field and row. A stream's rows
go to the rule's table, through its `transformKql` when it has one.
"""

from __future__ import annotations

import asyncio
import zlib
from collections.abc import Mapping, Sequence
from typing import Any

import orjson
import pyarrow as pa
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from calypso.wire.schemas import standard_tables
from calypso.workspace import events
from calypso.workspace.api.common import BodyTooLarge, json_response, read_body, state_of
from calypso.workspace.auth import require
from calypso.workspace.columns import ColumnError, infer_kusto_type, to_arrow
from calypso.workspace.ingest import transform
from calypso.workspace.ingest.prepare import IngestError, RawBatch
from calypso.workspace.rules import StreamRule
from calypso.workspace.state import Workspace

API_VERSIONS = ("2021-11-01-preview", "2023-01-01")


def _error(status: int, code: str, message: str) -> Response:
    return json_response({"error": {"code": code, "message": message}}, status)


def _gunzip(body: bytes, limit: int) -> bytes:
    d = zlib.decompressobj(wbits=31)
    try:
        out = d.decompress(body, limit + 1)
    except zlib.error as e:
        raise IngestError(f"The body is not valid gzip: {e}") from None
    if len(out) > limit:
        raise BodyTooLarge(limit)
    return out


def _records_to_columns(records: list[Any]) -> tuple[dict[str, list[Any]], int]:
    if not isinstance(records, list) or not all(isinstance(r, dict) for r in records):
        raise IngestError("The body must be a JSON array of objects.")
    n = len(records)
    columns: dict[str, list[Any]] = {}
    for i, record in enumerate(records):
        for name, value in record.items():
            values = columns.get(name)
            if values is None:
                values = columns[name] = [None] * n
            values[i] = value
    return columns, n


def _source_table(
    columns: Mapping[str, Sequence[Any]], declared: Mapping[str, str]
) -> tuple[pa.Table, list[tuple[str, str]]]:
    arrays: dict[str, pa.Array] = {}
    schema: list[tuple[str, str]] = [(c, t) for c, t in declared.items()]
    for name, values in columns.items():
        kusto_type = declared.get(name)
        if kusto_type is None:
            kusto_type = infer_kusto_type(values)
            schema.append((name, kusto_type))
        try:
            arrays[name] = to_arrow(values, kusto_type)
        except ColumnError as e:
            raise IngestError(f"field {name!r}: {e}") from None
    n = len(next(iter(columns.values()))) if columns else 0
    for name, kusto_type in declared.items():
        if name not in arrays:
            arrays[name] = to_arrow([None] * n, kusto_type)
    return pa.table(arrays), schema


def build_batch(ws: Workspace, rule: StreamRule, records: list[Any]) -> RawBatch:
    columns, n = _records_to_columns(records)
    declared = dict(rule.columns) or {}
    table_types = dict(standard_tables().get(rule.table, ()))
    if rule.transform is None:
        for name in columns:
            if table_types and name not in table_types:
                raise IngestError(
                    f"field {name!r} is not a column of table {rule.table}; add a transformKql that "
                    "renames or drops it"
                )
        hints = {c: t for c, t in declared.items() if c in columns}
        return RawBatch(rule.table, columns, n, None, type_hints=hints, source_system="RestAPI")
    source, schema = _source_table(columns, declared)
    result, types = transform.apply(ws.store, rule.transform, source, schema)
    out = {name: result.column(name).combine_chunks() for name in result.column_names}
    for name in out:
        if table_types and name not in table_types:
            raise IngestError(
                f"column {name!r} produced by transformKql is not a column of table {rule.table}"
            )
    return RawBatch(rule.table, out, result.num_rows, None, type_hints=types, source_system="RestAPI")


async def upload(request: Request) -> Response:
    state = state_of(request)
    rule_id, stream = request.path_params["rule_id"], request.path_params["stream"]
    version = request.query_params.get("api-version")
    if version not in API_VERSIONS:
        return _error(400, "InvalidApiVersion", f"api-version must be one of {', '.join(API_VERSIONS)}")
    principal = state.tokens.principal(request.headers.get("authorization"))
    ws = state.find_dcr(rule_id)
    if ws is None:
        require(principal, "", "ingest")  # a valid token never belongs to no workspace: answers 403
        return _error(404, "NotFound", f"Data collection rule {rule_id} not found")
    require(principal, ws.id, "ingest")
    rule = ws.dcrs.stream(rule_id, stream)
    if rule is None:
        return _error(
            404, "InvalidStream", f"Stream {stream!r} is not declared in data collection rule {rule_id}"
        )
    limit = state.limits.ingestion_max_bytes
    encoding = request.headers.get("content-encoding", "").strip().lower()
    body = await read_body(request, limit if encoding != "gzip" else limit * 4)
    if encoding == "gzip":
        body = await asyncio.to_thread(_gunzip, body, limit)
    elif encoding not in ("", "identity"):
        return _error(
            415, "UnsupportedMediaType", f"Content-Encoding {encoding!r} is not supported; use gzip"
        )
    try:
        records = orjson.loads(body)
    except orjson.JSONDecodeError as e:
        return _error(400, "InvalidJson", f"The body is not valid JSON: {e}")
    raw = await asyncio.to_thread(build_batch, ws, rule, records)
    result = await asyncio.wrap_future(ws.store.write([raw]))
    ws.counters["ingestion_rows"] += result.rows
    events.info(
        "Batch stored.",
        workspace=ws.id,
        table=rule.table,
        rows=result.rows,
        api="ingestion",
        rule=rule_id,
        stream=stream,
    )
    return Response(status_code=204)


def routes() -> list[Route]:
    return [Route("/dataCollectionRules/{rule_id}/streams/{stream}", upload, methods=["POST"])]
