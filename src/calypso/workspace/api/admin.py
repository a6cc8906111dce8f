"""Administration (`/admin/v1/workspaces/{id}/...`, bearer token with role `admin`): agent rules, data
collection rules, agents, key rotation, status; plus an unauthenticated `/healthz`.

Invariant: every admin route checks that the token belongs to the workspace in the URL.
"""

from __future__ import annotations

import asyncio
from dataclasses import replace
from typing import Any

import orjson
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from calypso.workspace import events, layout
from calypso.workspace.api.agent import agent_json
from calypso.workspace.api.common import calypso_error, json_response, read_body, state_of
from calypso.workspace.auth import require
from calypso.workspace.state import Workspace

ADMIN_BODY_MAX = 4 * 1024 * 1024


async def _workspace(request: Request) -> Workspace:
    state = state_of(request)
    workspace_id = request.path_params["workspace_id"]
    require(state.tokens.principal(request.headers.get("authorization")), workspace_id, "admin")
    ws = state.workspace(workspace_id)
    assert ws is not None  # require() passed, so the token's workspace exists
    return ws


async def _json_body(request: Request) -> Any:
    return orjson.loads(await read_body(request, ADMIN_BODY_MAX))


async def put_rules(request: Request) -> Response:
    ws = await _workspace(request)
    try:
        rules = await _json_body(request)
    except orjson.JSONDecodeError:
        return calypso_error(400, "InvalidJson", "The rules body is not valid JSON.")
    if not isinstance(rules, dict):
        return calypso_error(400, "InvalidRules", "Rules must be a JSON object.")
    etag = ws.rules.set(rules)
    events.info("Rules updated.", workspace=ws.id, etag=etag)
    return json_response({"etag": etag})


async def get_rules(request: Request) -> Response:
    ws = await _workspace(request)
    rules, etag = ws.rules.current()
    return json_response({"rules": rules, "etag": etag}, headers={"ETag": etag})


async def put_dcr(request: Request) -> Response:
    ws = await _workspace(request)
    rule_id = request.path_params["rule_id"]
    try:
        spec = await _json_body(request)
        ws.dcrs.put(rule_id, spec)
    except orjson.JSONDecodeError:
        return calypso_error(400, "InvalidJson", "The rule body is not valid JSON.")
    except ValueError as e:
        return calypso_error(400, "InvalidRule", str(e))
    events.info("Data collection rule saved.", workspace=ws.id, rule=rule_id)
    return json_response({"rule_id": rule_id})


async def get_dcrs(request: Request) -> Response:
    ws = await _workspace(request)
    return json_response(ws.dcrs.all())


async def list_agents(request: Request) -> Response:
    ws = await _workspace(request)
    return json_response({"agents": [agent_json(a) for a in ws.store.agents()]})


async def revoke_agent(request: Request) -> Response:
    ws = await _workspace(request)
    record = ws.store.agent(request.path_params["agent_id"])
    if record is None:
        return calypso_error(404, "AgentNotFound", "No such agent in this workspace.")
    await asyncio.wrap_future(ws.store.put_agent(replace(record, revoked=True)))
    events.info("Agent revoked.", workspace=ws.id, agent=record.agent_id)
    return json_response(agent_json(replace(record, revoked=True)))


async def rotate_key(request: Request) -> Response:
    ws = await _workspace(request)
    which = request.path_params["which"]
    if which not in ("primary", "secondary"):
        return calypso_error(404, "NoSuchKey", "Use primary or secondary.")
    state = state_of(request)
    secrets = await asyncio.to_thread(layout.rotate_key, state.data_dir, ws.id, which)
    await asyncio.to_thread(state.reload)
    events.info("Shared key rotated.", workspace=ws.id, key=which)
    return json_response({"workspace_id": ws.id, f"{which}_key": getattr(secrets, f"{which}_key")})


async def status(request: Request) -> Response:
    ws = await _workspace(request)
    return json_response(
        {
            "workspace_id": ws.id,
            "counters": dict(ws.counters),
            "tables": sorted(ws.store.catalog()),
            "agents": len(ws.store.agents()),
        }
    )


async def tables(request: Request) -> Response:
    ws = await _workspace(request)
    catalog = ws.store.catalog()
    rows = await asyncio.to_thread(ws.store.table_rows)
    return json_response(
        {
            "tables": [
                {
                    "name": name,
                    "rows": rows.get(name, 0),
                    "columns": [{"name": c, "type": t} for c, t in catalog[name]],
                }
                for name in sorted(catalog)
            ]
        }
    )


async def healthz(request: Request) -> Response:
    return json_response({"status": "ok", "workspaces": len(state_of(request).workspaces)})


def routes() -> list[Route]:
    base = "/admin/v1/workspaces/{workspace_id}"
    return [
        Route(f"{base}/rules", put_rules, methods=["PUT"]),
        Route(f"{base}/rules", get_rules, methods=["GET"]),
        Route(f"{base}/dcrs", get_dcrs, methods=["GET"]),
        Route(f"{base}/dcrs/{{rule_id}}", put_dcr, methods=["PUT"]),
        Route(f"{base}/agents", list_agents, methods=["GET"]),
        Route(f"{base}/agents/{{agent_id}}/revoke", revoke_agent, methods=["POST"]),
        Route(f"{base}/keys/{{which}}/rotate", rotate_key, methods=["POST"]),
        Route(f"{base}/status", status, methods=["GET"]),
        Route(f"{base}/tables", tables, methods=["GET"]),
        Route("/healthz", healthz, methods=["GET"]),
    ]
