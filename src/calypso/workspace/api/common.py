"""Helpers every API shares: bounded body reading, JSON responses, the state on the request.

Invariant: a body larger than the API's limit is never read into memory beyond limit + one chunk.
"""

from __future__ import annotations

from typing import Any

import orjson
from starlette.requests import Request
from starlette.responses import Response

from calypso.workspace.state import ServerState


class BodyTooLarge(Exception):
    def __init__(self, limit: int) -> None:
        super().__init__(f"The request body is larger than the limit of {limit} bytes.")
        self.limit = limit


def state_of(request: Request) -> ServerState:
    state: ServerState = request.app.state.calypso
    return state


async def read_body(request: Request, limit: int) -> bytes:
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > limit:
        raise BodyTooLarge(limit)
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise BodyTooLarge(limit)
        chunks.append(chunk)
    return b"".join(chunks)


def json_response(obj: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(
        orjson.dumps(obj, option=orjson.OPT_NON_STR_KEYS),
        status_code=status,
        headers=headers,
        media_type="application/json; charset=utf-8",
    )


def calypso_error(status: int, code: str, message: str, headers: dict[str, str] | None = None) -> Response:
    """The agent and admin paths' error shape: {"error": {"code", "message"}}."""
    return json_response({"error": {"code": code, "message": message}}, status, headers)
