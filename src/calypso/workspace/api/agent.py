"""Calypso's agent path (`/agent/v1/...`, contract in `calypso.wire.agentapi`).

Invariants: onboarding is the only request authorized by the workspace key; every other request must
carry a valid Ed25519 signature of a registered, non-revoked agent. A batch and its id are stored in
one transaction (see the store), so redelivered batches are answered as duplicates.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import uuid
from typing import Any

import orjson
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from calypso.wire import agentapi, batch
from calypso.workspace import events
from calypso.workspace.api.common import calypso_error, json_response, read_body, state_of
from calypso.workspace.auth import AuthError, check_date, parse_sharedkey, verify_agent, verify_sharedkey
from calypso.workspace.ingest.prepare import RawBatch
from calypso.workspace.state import Workspace
from calypso.workspace.store.duckdb import AgentRecord

ONBOARD_MAX_BYTES = 64 * 1024


async def onboard(request: Request) -> Response:
    """Register an agent. Proof is the workspace key (SharedKey) or, for a machine cloned from an
    onboarded image, the signature of the agent it was cloned from: the clone gets an id of its own."""
    state = state_of(request)
    body = await read_body(request, ONBOARD_MAX_BYTES)
    cloned_from: str | None = None
    if request.headers.get(agentapi.H_AGENT) and not request.headers.get("authorization"):
        ws, parent = await _signed(request, body)
        cloned_from = parent.agent_id
    else:
        workspace_id, signature = parse_sharedkey(request.headers.get("authorization"))
        date = request.headers.get("x-ms-date", "")
        check_date(date)
        found = state.workspace(workspace_id)
        if found is None or not verify_sharedkey(
            found.secrets,
            signature,
            date=date,
            content_length=len(body),
            content_type="application/json",
            resource=agentapi.ONBOARD,
        ):
            raise AuthError(403, "InvalidAuthorization", "The workspace key signature does not verify.")
        ws = found
    try:
        obj = orjson.loads(body)
    except orjson.JSONDecodeError:
        return calypso_error(400, "InvalidJson", "The onboarding body is not valid JSON.")
    if not isinstance(obj, dict):
        return calypso_error(400, "InvalidJson", "The onboarding body must be a JSON object.")
    if str(obj.get("workspace_id", "")).lower() != ws.id.lower():
        return calypso_error(
            400, "WorkspaceMismatch", "workspace_id in the body differs from the Authorization header."
        )
    public_key = obj.get("public_key")
    try:
        agentapi.load_public_key(public_key if isinstance(public_key, str) else "")
    except ValueError as e:
        return calypso_error(400, "InvalidPublicKey", str(e))
    labels = obj.get("labels") or {}
    if not isinstance(labels, dict):
        return calypso_error(400, "InvalidLabels", "labels must be an object of name -> value.")
    labels = {str(k): str(v) for k, v in labels.items()}
    if cloned_from:
        labels["cloned_from"] = cloned_from
    record = AgentRecord(
        agent_id=str(uuid.uuid4()),
        machine_id=str(obj.get("machine_id", "")),
        hostname=str(obj.get("hostname", "")),
        public_key=str(public_key),
        labels=labels,
        created=dt.datetime.now(dt.UTC),
    )
    await asyncio.wrap_future(ws.store.put_agent(record))
    events.info(
        "Agent onboarded.",
        workspace=ws.id,
        agent=record.agent_id,
        hostname=record.hostname,
        cloned_from=cloned_from,
    )
    return json_response({"agent_id": record.agent_id, "workspace_id": ws.id})


async def _signed(request: Request, body: bytes) -> tuple[Workspace, AgentRecord]:
    agent_id = request.headers.get(agentapi.H_AGENT, "")
    found = request.app.state.calypso.find_agent(agent_id) if agent_id else None
    if found is None:
        raise AuthError(
            401, "UnknownAgent", "The agent is not registered with this workspace; onboard again."
        )
    ws, record = found
    if record.revoked:
        raise AuthError(403, "AgentRevoked", "The agent's credentials were revoked; onboard again.")
    verify_agent(request.headers, record.public_key, request.method, request.url.path, body)
    return ws, record


def _raw_batches(body: bytes) -> list[RawBatch]:
    # Constant columns stay one value each (`prepare` converts it once and repeats the Arrow value),
    # joined ones one string each (`prepare` splits it with Arrow).
    return [
        RawBatch(
            b.table,
            b.columns,
            b.count,
            b.batch_id,
            source_system="OpsManager",
            consts=b.consts,
            joined=b.joined,
        )
        for b in batch.decode(body, expand_consts=False)
    ]


async def batches(request: Request) -> Response:
    state = state_of(request)
    body = await read_body(request, state.limits.agent_max_body_bytes)
    ws, record = await _signed(request, body)
    try:
        raws = await asyncio.to_thread(_raw_batches, body)
    except ValueError as e:
        ws.counters["agent_batches_rejected"] += 1
        events.warning("Batch rejected.", workspace=ws.id, agent=record.agent_id, error=e)
        return calypso_error(400, "InvalidBatch", str(e))
    result = await asyncio.wrap_future(ws.store.write(raws))
    ws.counters["agent_rows"] += result.rows
    for table, rows in result.tables:
        events.info("Batch stored.", workspace=ws.id, agent=record.agent_id, table=table, rows=rows)
    if result.duplicates:
        events.info(
            "Duplicate batches skipped.", workspace=ws.id, agent=record.agent_id, batches=result.duplicates
        )
    return json_response({"accepted": result.accepted, "duplicates": result.duplicates})


async def config(request: Request) -> Response:
    body = await read_body(request, 1024)
    ws, _record = await _signed(request, body)
    rules, etag = ws.rules.current()
    headers = {"ETag": etag, "Cache-Control": "no-cache"}
    match = request.headers.get("if-none-match")
    if match and etag in [m.strip() for m in match.split(",")]:
        return Response(status_code=304, headers=headers)
    return json_response({"rules": rules}, headers=headers)


async def disconnect(request: Request) -> Response:
    body = await read_body(request, 64 * 1024)
    ws, record = await _signed(request, body)
    await asyncio.wrap_future(ws.store.put_agent(_revoked(record)))
    events.info("Agent disconnected.", workspace=ws.id, agent=record.agent_id)
    return json_response({"agent_id": record.agent_id, "revoked": True})


def _revoked(record: AgentRecord) -> AgentRecord:
    from dataclasses import replace

    return replace(record, revoked=True)


def agent_json(record: AgentRecord) -> dict[str, Any]:
    return {
        "agent_id": record.agent_id,
        "machine_id": record.machine_id,
        "hostname": record.hostname,
        "labels": record.labels,
        "created": record.created.isoformat(),
        "revoked": record.revoked,
    }


def routes() -> list[Route]:
    return [
        Route(agentapi.ONBOARD, onboard, methods=["POST"]),
        Route(agentapi.BATCHES, batches, methods=["POST"]),
        Route(agentapi.CONFIG, config, methods=["GET"]),
        Route(agentapi.DISCONNECT, disconnect, methods=["POST"]),
    ]
