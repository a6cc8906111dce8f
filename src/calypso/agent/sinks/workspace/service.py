"""One HTTP call to a workspace's agent path, signed with the agent's key, mapped to typed errors.

200/204 succeed; 304 means "unchanged"; 400/401/403/404/413 are `Permanent`; 429 and 503 are
`Throttled` (honouring Retry-After); other 5xx and transport failures are `Retryable`.
"""

from __future__ import annotations

import json
from typing import Any

import httpx
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from calypso.agent.identity import Connection
from calypso.agent.transport import Routes
from calypso.wire import agentapi, batch, sharedkey
from calypso.wire.errors import Permanent, Retryable, Throttled

PERMANENT = {400, 401, 403, 404, 405, 409, 413, 415, 422}


def _error_text(resp: httpx.Response) -> str:
    try:
        body = resp.json()
        err = body.get("error") if isinstance(body, dict) else None
        if isinstance(err, dict):
            return f"{err.get('code', resp.status_code)}: {err.get('message', '')}"
        if isinstance(body, dict) and "Message" in body:
            return f"{body.get('Error')}: {body['Message']}"
    except (ValueError, json.JSONDecodeError):
        pass
    return f"HTTP {resp.status_code}: {resp.text[:200]}"


def _retry_after(resp: httpx.Response) -> float | None:
    value = resp.headers.get("retry-after")
    try:
        return max(0.0, float(value)) if value is not None else None
    except ValueError:
        return None


def check(resp: httpx.Response) -> httpx.Response:
    code = resp.status_code
    if code < 300 or code == 304:
        return resp
    if code in (429, 503):
        raise Throttled(_error_text(resp), _retry_after(resp), code)
    if code in PERMANENT:
        raise Permanent(_error_text(resp), code)
    raise Retryable(_error_text(resp), code)


async def send(routes: Routes, url: str, method: str, body: bytes, headers: dict[str, str]) -> httpx.Response:
    try:
        resp = await routes.request(method, url, content=body, headers=headers)
    except httpx.ProxyError as e:
        raise Retryable(f"proxy refused the connection: {e}") from None
    except httpx.TransportError as e:
        raise Retryable(f"{type(e).__name__}: {e or 'connection failed'}") from None
    return check(resp)


class WorkspaceService:
    def __init__(self, conn: Connection, key: Ed25519PrivateKey, routes: Routes):
        self.conn, self.key, self.routes = conn, key, routes
        self.base = conn.url.rstrip("/")

    def _signed(self, method: str, path: str, body: bytes) -> dict[str, str]:
        date = sharedkey.rfc1123_now()
        return {
            agentapi.H_AGENT: self.conn.agent_id,
            agentapi.H_DATE: date,
            agentapi.H_SIGNATURE: agentapi.sign_request(self.key, method, path, date, body),
        }

    async def post_batches(self, body: bytes) -> dict[str, Any]:
        headers = self._signed("POST", agentapi.BATCHES, body) | {"content-type": batch.CONTENT_TYPE}
        resp = await send(self.routes, self.base + agentapi.BATCHES, "POST", body, headers)
        try:
            result: dict[str, Any] = resp.json()
        except ValueError:
            result = {}
        return result

    async def get_rules(self, etag: str | None) -> tuple[dict[str, Any] | None, str | None]:
        """(rules, etag), or (None, etag) when unchanged since `etag`."""
        headers = self._signed("GET", agentapi.CONFIG, b"")
        if etag:
            headers["if-none-match"] = etag
        resp = await send(self.routes, self.base + agentapi.CONFIG, "GET", b"", headers)
        if resp.status_code == 304:
            return None, etag
        body = resp.json()
        rules = body.get("rules", body) if isinstance(body, dict) else {}
        return rules, resp.headers.get("etag")

    async def register_clone(self, payload: dict[str, Any]) -> dict[str, Any]:
        """Register this (cloned) machine as a new agent, proving it with the key it was cloned with."""
        body = json.dumps(payload).encode()
        headers = self._signed("POST", agentapi.ONBOARD, body) | {"content-type": "application/json"}
        resp = await send(self.routes, self.base + agentapi.ONBOARD, "POST", body, headers)
        result: dict[str, Any] = resp.json()
        return result

    async def disconnect(self) -> None:
        await send(
            self.routes,
            self.base + agentapi.DISCONNECT,
            "POST",
            b"",
            self._signed("POST", agentapi.DISCONNECT, b""),
        )


async def onboard(
    routes: Routes, url: str, workspace_id: str, workspace_key: str, payload: dict[str, Any]
) -> dict[str, Any]:
    """Prove knowledge of the workspace key once; the workspace answers with this agent's id."""
    body = json.dumps(payload).encode()
    date = sharedkey.rfc1123_now()
    signature = sharedkey.sign(
        workspace_key,
        date=date,
        content_length=len(body),
        content_type="application/json",
        resource=agentapi.ONBOARD,
    )
    headers = {
        "content-type": "application/json",
        "x-ms-date": date,
        "authorization": f"SharedKey {workspace_id}:{signature}",
    }
    resp = await send(routes, url.rstrip("/") + agentapi.ONBOARD, "POST", body, headers)
    result: dict[str, Any] = resp.json()
    return result
