"""Who is calling: bearer tokens (role per token), SharedKey signatures, agent Ed25519 signatures.

Invariants: every secret comparison is constant time (`hmac.compare_digest`); a credential of one
workspace never authorizes anything in another (lookups return the workspace the credential belongs
to, and callers compare it with the workspace in the URL); dates more than 15 minutes off are refused.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from calypso.wire import agentapi, sharedkey
from calypso.workspace.layout import WorkspaceSecrets

MAX_SKEW = dt.timedelta(seconds=agentapi.MAX_CLOCK_SKEW_SECONDS)


class AuthError(Exception):
    """Authentication or authorization failed; `status` is 401 or 403, `code` an Azure-style code."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.code = code


@dataclass(frozen=True, slots=True)
class Principal:
    workspace_id: str
    role: str


def _digest(token: str) -> bytes:
    return hashlib.sha256(token.encode("utf-8", "replace")).digest()


class TokenIndex:
    """Bearer token -> (workspace, role). Looked up by SHA-256 digest, then compared in constant time."""

    def __init__(self, workspaces: Iterable[WorkspaceSecrets]) -> None:
        self._by_digest: dict[bytes, tuple[str, str, str]] = {}
        for ws in workspaces:
            for t in ws.tokens:
                self._by_digest[_digest(t.token)] = (t.token, ws.workspace_id, t.role)

    def principal(self, authorization: str | None) -> Principal:
        if not authorization or not authorization.lower().startswith("bearer "):
            raise AuthError(
                401, "AuthorizationRequiredError", "Provide a bearer token in the Authorization header."
            )
        token = authorization[7:].strip()
        hit = self._by_digest.get(_digest(token))
        if hit is None or not hmac.compare_digest(hit[0].encode(), token.encode("utf-8", "replace")):
            raise AuthError(401, "InvalidTokenError", "The bearer token is not valid.")
        return Principal(hit[1], hit[2])


def require(principal: Principal, workspace_id: str, role: str) -> None:
    """The principal must belong to `workspace_id` and have `role` (admin implies every role)."""
    same = hmac.compare_digest(principal.workspace_id.lower().encode(), workspace_id.lower().encode())
    if not same:
        raise AuthError(
            403,
            "InsufficientAccessError",
            "The provided credentials have insufficient access to perform the requested operation.",
        )
    if principal.role != role and principal.role != "admin":
        raise AuthError(
            403, "InsufficientAccessError", f"This operation requires a token with role {role!r}."
        )


def check_date(date_header: str | None, now: dt.datetime | None = None) -> dt.datetime:
    if not date_header:
        raise AuthError(403, "MissingDate", "The x-ms-date header is required.")
    parsed = sharedkey.parse_rfc1123(date_header.strip())
    if parsed is None:
        raise AuthError(403, "InvalidDate", f"The date {date_header!r} is not an RFC 1123 date.")
    current = now or dt.datetime.now(dt.UTC)
    if abs(current - parsed) > MAX_SKEW:
        raise AuthError(
            403,
            "InvalidDate",
            "The request date is more than 15 minutes away from the server's time; check the clock.",
        )
    return parsed


def parse_sharedkey(authorization: str | None) -> tuple[str, str]:
    """`SharedKey <workspace-id>:<signature>` -> (workspace id, signature)."""
    value = (authorization or "").strip()
    scheme, _, rest = value.partition(" ")
    workspace_id, sep, signature = rest.strip().partition(":")
    if scheme.lower() != "sharedkey" or not sep or not workspace_id or not signature:
        raise AuthError(
            403,
            "InvalidAuthorization",
            "An invalid scheme was specified in the Authorization "
            "header; use SharedKey <workspace id>:<signature>.",
        )
    return workspace_id.strip(), signature.strip()


def verify_sharedkey(
    ws: WorkspaceSecrets, signature: str, *, date: str, content_length: int, content_type: str, resource: str
) -> bool:
    """True if the signature matches the primary or the secondary key (both checked, constant time)."""
    ok = False
    for key in (ws.primary_key, ws.secondary_key):
        expected = sharedkey.sign(
            key, date=date, content_length=content_length, content_type=content_type, resource=resource
        )
        ok |= hmac.compare_digest(expected.encode("ascii"), signature.encode("ascii", "replace"))
    return ok


def verify_agent(
    headers: Mapping[str, str], public_key_pem: str, method: str, path: str, body: bytes
) -> None:
    date = headers.get(agentapi.H_DATE)
    signature = headers.get(agentapi.H_SIGNATURE)
    if not date or not signature:
        raise AuthError(
            401, "SignatureRequired", "Agent requests must carry x-calypso-date and x-calypso-signature."
        )
    check_date(date)
    try:
        key = agentapi.load_public_key(public_key_pem)
    except ValueError:
        raise AuthError(
            403, "AgentKeyInvalid", "The agent's registered key is unusable; onboard again."
        ) from None
    if not agentapi.verify_request(key, signature, method, path, date, body):
        raise AuthError(403, "InvalidSignature", "The agent request signature does not verify.")
