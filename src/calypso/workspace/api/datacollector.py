"""The HTTP Data Collector API, as Azure defines it: `POST /api/logs?api-version=2016-04-01`.

Invariants: the workspace is the one the `SharedKey <id>:<signature>` header names, and the signature
must match its primary or secondary key over the exact body length and date (within 15 minutes);
success is 200 with an empty body; errors are `{"Error": code, "Message": text}` with Azure's codes.
Tolerated like Azure: a charset in Content-Type, whitespace or a newline after the signature, empty
optional headers.
"""

from __future__ import annotations

import asyncio

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from calypso.wire import sharedkey
from calypso.workspace import events
from calypso.workspace.api.common import json_response, read_body, state_of
from calypso.workspace.auth import AuthError, check_date, parse_sharedkey, verify_sharedkey
from calypso.workspace.ingest.datacollector import LOG_TYPE, parse

API_VERSIONS = ("2016-04-01",)


def _error(status: int, code: str, message: str) -> Response:
    return json_response({"Error": code, "Message": message}, status)


async def post_logs(request: Request) -> Response:
    state = state_of(request)
    version = request.query_params.get("api-version")
    if not version:
        return _error(400, "MissingApiVersion", "The API version wasn't specified.")
    if version not in API_VERSIONS:
        return _error(
            400, "InvalidApiVersion", "The API version that you specified was not recognized by the service."
        )
    content_type = request.headers.get("content-type", "").strip()
    if not content_type:
        return _error(400, "MissingContentType", "The content type wasn't specified.")
    if content_type.split(";")[0].strip().lower() != "application/json":
        return _error(400, "UnsupportedContentType", "The content type was not set to application/json.")
    log_type = request.headers.get("log-type", "").strip()
    if not log_type:
        return _error(400, "MissingLogType", "The value type log type wasn't specified.")
    if not LOG_TYPE.match(log_type):
        return _error(
            400,
            "InvalidLogType",
            "The log type specified contained special characters or was longer than "
            "100 characters; use letters, digits and underscores.",
        )
    body = await read_body(request, state.limits.max_body_bytes)
    workspace_id, signature = parse_sharedkey(request.headers.get("authorization"))
    ws = state.workspace(workspace_id)
    if ws is None:
        return _error(
            403,
            "InvalidAuthorization",
            "The service failed to authenticate the request. Verify that the "
            "workspace ID and connection key are valid.",
        )
    date = request.headers.get("x-ms-date", "").strip()
    check_date(date)
    signed_types = {content_type, "application/json"}
    if not any(
        verify_sharedkey(
            ws.secrets,
            signature,
            date=date,
            content_length=len(body),
            content_type=ct,
            resource=sharedkey.RESOURCE,
        )
        for ct in signed_types
    ):
        ws.counters["datacollector_auth_failures"] += 1
        raise AuthError(
            403,
            "InvalidAuthorization",
            "The service failed to authenticate the request. Verify that "
            "the workspace ID and connection key are valid.",
        )
    time_field = request.headers.get("time-generated-field", "").strip() or None
    resource_id = request.headers.get("x-ms-azureresourceid", "").strip() or None
    raw = await asyncio.to_thread(parse, log_type, body, time_field=time_field, resource_id=resource_id)
    if raw is None:
        return Response(status_code=200)
    result = await asyncio.wrap_future(ws.store.write([raw]))
    ws.counters["datacollector_rows"] += result.rows
    events.info("Batch stored.", workspace=ws.id, table=raw.table, rows=result.rows, api="datacollector")
    return Response(status_code=200)


def routes() -> list[Route]:
    return [Route("/api/logs", post_logs, methods=["POST"])]
