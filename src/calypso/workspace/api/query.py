"""The Log Analytics Query API: `POST|GET /v1/workspaces/{id}/query` and `POST /v1/$batch`.

Invariants: answers have Azure's shape (`{"tables": [{"name": "PrimaryResult", "columns": [{"name",
"type"}], "rows": [...]}]}`); errors are `{"error": {"code", "message", "innererror"}}` with the KQL
position; a result cut by the row or size limit carries a `PartialError` next to the rows it has. KQL is
compiled only by `calypso.kql`; the reader role of the workspace in the URL is required.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import uuid
from collections.abc import Mapping
from typing import Any

import duckdb
import orjson
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from calypso.workspace import events, externaldata, kqlbridge
from calypso.workspace.api.common import json_response, read_body, state_of
from calypso.workspace.auth import AuthError, Principal, require
from calypso.workspace.state import ServerState
from calypso.workspace.timespan import parse_timespan

QUERY_BODY_MAX = 1024 * 1024


class QueryFailure(Exception):
    def __init__(self, status: int, code: str, message: str, inner: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.body = {
            "error": {
                "code": code,
                "message": message,
                "correlationId": str(uuid.uuid4()),
                **({"innererror": inner} if inner else {}),
            }
        }


def _kql_failure(e: Exception) -> QueryFailure:
    code = str(getattr(e, "code", "SyntaxError"))
    message = str(getattr(e, "message", None) or e)
    line, column = getattr(e, "line", None), getattr(e, "column", None)
    inner: dict[str, Any] = {"code": code, "message": message}
    if line is not None:
        inner["line"] = line
    if column is not None:
        inner["pos"] = column
        inner["column"] = column
    return QueryFailure(400, "BadArgumentError", "The request had some invalid properties", inner)


def run_query(state: ServerState, workspace_id: str, text: Any, timespan: Any) -> dict[str, Any]:
    """Compile and run one query; returns the response body or raises QueryFailure."""
    ws = state.workspace(workspace_id)
    if ws is None:
        raise QueryFailure(404, "WorkspaceNotFoundError", f"The workspace {workspace_id} could not be found")
    if not isinstance(text, str) or not text.strip():
        raise QueryFailure(
            400,
            "BadArgumentError",
            "The request had some invalid properties",
            {"code": "QueryIsEmpty", "message": "'query' is required and must be a non-empty string"},
        )
    window: tuple[dt.datetime, dt.datetime] | None = None
    if timespan not in (None, ""):
        if not isinstance(timespan, str):
            raise QueryFailure(400, "BadArgumentError", "timespan must be an ISO 8601 duration or interval")
        try:
            window = parse_timespan(timespan)
        except ValueError as e:
            raise QueryFailure(400, "BadArgumentError", f"Invalid timespan: {e}") from None
    try:
        compiled = kqlbridge.compile_query(text, ws.store.catalog(), timespan=window)
    except kqlbridge.KqlUnavailable as e:
        raise QueryFailure(501, "NotImplemented", str(e)) from None
    except kqlbridge.kql_error_type() as e:
        raise _kql_failure(e) from None
    limits = state.limits
    try:
        tables = externaldata.fetch_tables(compiled.externals, limits)
    except externaldata.ExternalDataError as e:
        raise QueryFailure(
            400,
            "BadArgumentError",
            "The request had some invalid properties",
            {"code": "ExternalDataError", "message": str(e)},
        ) from None
    try:
        result = ws.store.query(
            compiled.sql, limits.max_result_rows, timeout=limits.query_timeout_seconds, tables=tables
        )
    except duckdb.InterruptException:
        raise QueryFailure(
            504,
            "GatewayTimeout",
            f"The query ran longer than {limits.query_timeout_seconds:g} seconds and was cancelled",
        ) from None
    except duckdb.Error as e:
        raise QueryFailure(
            400,
            "BadArgumentError",
            "Query execution has failed",
            {"code": "EngineError", "message": str(e).splitlines()[0]},
        ) from None
    columns = [(c.name, c.type) for c in compiled.columns]
    if len(columns) != len(result.names):
        columns = [(name, "string") for name in result.names]
    to_json = kqlbridge.json_value_function()
    types = [t for _, t in columns]
    rows = [[to_json(v, t) for v, t in zip(row, types, strict=True)] for row in result.rows]
    body: dict[str, Any] = {
        "tables": [
            {"name": "PrimaryResult", "columns": [{"name": n, "type": t} for n, t in columns], "rows": rows}
        ]
    }
    render = getattr(compiled, "render", None)
    if render:
        body["render"] = render if isinstance(render, dict) else {"visualization": str(render)}
    truncated = result.truncated
    size = len(orjson.dumps(rows))
    if size > limits.max_result_bytes and rows:
        keep = max(0, int(len(rows) * limits.max_result_bytes / size * 0.9))
        del rows[keep:]
        truncated = True
    if truncated:
        body["error"] = {
            "code": "PartialError",
            "message": "There were some errors when processing your query.",
            "details": [
                {
                    "code": "EngineError",
                    "message": (
                        f"Query result set has exceeded the internal limit of {limits.max_result_rows} records "
                        f"or {limits.max_result_bytes} bytes; only {len(rows)} rows are returned. Narrow the "
                        "query with where, summarize or take."
                    ),
                }
            ],
        }
    ws.counters["queries"] += 1
    return body


def _principal(request: Request) -> Principal:
    return state_of(request).tokens.principal(request.headers.get("authorization"))


async def query(request: Request) -> Response:
    state = state_of(request)
    workspace_id = request.path_params["workspace_id"]
    principal = _principal(request)
    require(principal, workspace_id, "reader")
    if request.method == "GET":
        text, timespan = request.query_params.get("query"), request.query_params.get("timespan")
    else:
        raw = await read_body(request, QUERY_BODY_MAX)
        try:
            obj = orjson.loads(raw)
        except orjson.JSONDecodeError:
            return json_response(
                QueryFailure(400, "BadArgumentError", "The body is not valid JSON").body, 400
            )
        if not isinstance(obj, dict):
            return json_response(
                QueryFailure(400, "BadArgumentError", "The body must be a JSON object").body, 400
            )
        text, timespan = obj.get("query"), obj.get("timespan")
        other = [w for w in (obj.get("workspaces") or []) if str(w).lower() != workspace_id.lower()]
        if other:
            return json_response(
                QueryFailure(400, "BadArgumentError", "Cross-workspace queries are not supported").body, 400
            )
    try:
        body = await asyncio.to_thread(run_query, state, workspace_id, text, timespan)
    except QueryFailure as e:
        events.info(
            "Query refused.", workspace=workspace_id, status=e.status, error=e.body["error"]["message"]
        )
        return json_response(e.body, e.status)
    return json_response(body)


async def batch(request: Request) -> Response:
    state = state_of(request)
    principal = _principal(request)
    raw = await read_body(request, QUERY_BODY_MAX * 10)
    try:
        obj = orjson.loads(raw)
        requests = obj["requests"]
        if not isinstance(requests, list):
            raise TypeError
    except (orjson.JSONDecodeError, KeyError, TypeError):
        return json_response(
            QueryFailure(400, "BadArgumentError", 'The body must be {"requests": [...]}').body, 400
        )
    responses = []
    for item in requests:
        responses.append(await _batch_item(state, principal, item))
    return json_response({"responses": responses})


async def _batch_item(state: ServerState, principal: Principal, item: Any) -> dict[str, Any]:
    if not isinstance(item, Mapping):
        return {
            "id": None,
            "status": 400,
            "body": QueryFailure(400, "BadArgumentError", "Each request must be an object").body,
        }
    request_id = item.get("id")
    workspace_id = str(item.get("workspace", ""))
    body = item.get("body") if isinstance(item.get("body"), Mapping) else {}
    assert isinstance(body, Mapping)
    try:
        require(principal, workspace_id, "reader")
    except AuthError as e:
        return {"id": request_id, "status": e.status, "body": {"error": {"code": e.code, "message": str(e)}}}
    try:
        result = await asyncio.to_thread(
            run_query, state, workspace_id, body.get("query"), body.get("timespan")
        )
    except QueryFailure as e:
        return {"id": request_id, "status": e.status, "body": e.body}
    return {"id": request_id, "status": 200, "body": result}


def routes() -> list[Route]:
    return [
        Route("/v1/workspaces/{workspace_id}/query", query, methods=["GET", "POST"]),
        Route("/v1/$batch", batch, methods=["POST"]),
    ]
