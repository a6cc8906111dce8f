"""The Starlette application: routes of every API, error translation, background jobs.

Invariants: a client-caused error is answered in the shape of the API it called (Data Collector
`{"Error", "Message"}`, Azure `{"error": {...}}` elsewhere), counted, and logged as one line; an
unexpected error answers 500 without internals and logs one line, never a stack trace. On shutdown,
queued writes finish and every store closes.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from calypso.workspace import events, jobs
from calypso.workspace.api import admin, agent, datacollector, ingestion, query
from calypso.workspace.api.common import BodyTooLarge, json_response
from calypso.workspace.auth import AuthError
from calypso.workspace.ingest.prepare import IngestError
from calypso.workspace.state import ServerState
from calypso.workspace.store.duckdb import StoreClosed

ROUTE_PROVIDERS: tuple[Callable[[], list[Route]], ...] = (
    agent.routes,
    datacollector.routes,
    ingestion.routes,
    query.routes,
    admin.routes,
)


def _error_body(path: str, status: int, code: str, message: str) -> dict[str, Any]:
    if path.startswith("/api/logs"):
        return {"Error": code, "Message": message}
    return {"error": {"code": code, "message": message}}


def _respond(
    request: Request, status: int, code: str, message: str, headers: dict[str, str] | None = None
) -> Response:
    request.app.state.errors[status] = request.app.state.errors.get(status, 0) + 1
    events.info(
        "Request refused.",
        method=request.method,
        path=request.url.path,
        status=status,
        code=code,
        error=message,
    )
    return json_response(_error_body(request.url.path, status, code, message), status, headers)


async def _auth_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, AuthError)
    return _respond(request, exc.status, exc.code, str(exc))


async def _too_large(request: Request, exc: Exception) -> Response:
    return _respond(request, 413, "RequestEntityTooLarge", str(exc))


async def _ingest_error(request: Request, exc: Exception) -> Response:
    code = "InvalidDataFormat" if request.url.path.startswith("/api/logs") else "InvalidData"
    return _respond(request, 400, code, str(exc))


async def _closed(request: Request, exc: Exception) -> Response:
    return _respond(
        request,
        503,
        "ServiceUnavailable",
        "The workspace is shutting down; retry shortly.",
        {"Retry-After": "5"},
    )


async def _unexpected(request: Request, exc: Exception) -> Response:
    events.error("Unexpected error.", method=request.method, path=request.url.path, error=repr(exc)[:300])
    return json_response(
        _error_body(
            request.url.path,
            500,
            "InternalServerError",
            "The server failed to handle the request; see the server log.",
        ),
        500,
    )


def create_app(state: ServerState) -> Starlette:
    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        tasks = [
            asyncio.create_task(jobs.reload_loop(state)),
            asyncio.create_task(jobs.retention_loop(state)),
        ]
        events.info("Workspace server ready.", workspaces=len(state.workspaces))
        try:
            yield
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            await asyncio.to_thread(state.close)
            events.info("Workspace server stopped; stores closed.")

    routes = [route for provider in ROUTE_PROVIDERS for route in provider()]
    app = Starlette(
        routes=routes,
        lifespan=lifespan,
        exception_handlers={
            AuthError: _auth_error,
            BodyTooLarge: _too_large,
            IngestError: _ingest_error,
            StoreClosed: _closed,
            Exception: _unexpected,
        },
    )
    app.state.calypso = state
    app.state.errors = {}
    return app
