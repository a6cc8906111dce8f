"""Calypso's own agent path, `/agent/v1/...`: endpoints and request signing.

Onboarding proves knowledge of the workspace key once (SharedKey over the onboarding body); from then
on the agent signs every request with its own Ed25519 key, generated on the machine:

    x-calypso-agent:     <agent id>
    x-calypso-date:      <RFC 1123 date>          (refused if more than 15 minutes off)
    x-calypso-signature: base64(ed25519(METHOD "\n" PATH "\n" DATE "\n" hex(sha256(body))))

Endpoints (all JSON unless said otherwise):
    POST /agent/v1/onboard   SharedKey auth; body {workspace_id, machine_id, hostname, public_key (PEM),
                             labels}; answers 200 {agent_id, workspace_id}. A machine cloned from an
                             onboarded image signs the same request with the key it was cloned with
                             (agent headers, no Authorization) and is registered as a new agent.
    POST /agent/v1/batches   body `calypso.wire.batch.encode(...)`; answers 200 {accepted, duplicates}
    GET  /agent/v1/config    If-None-Match: <etag>; answers 200 {rules} with ETag, or 304
    POST /agent/v1/disconnect  revokes the calling agent's credentials
Errors: {"error": {"code", "message"}}; 400/403/413 are permanent for the sender, 429/503 carry
Retry-After.
"""

from __future__ import annotations

import base64
import hashlib

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

ONBOARD = "/agent/v1/onboard"
BATCHES = "/agent/v1/batches"
CONFIG = "/agent/v1/config"
DISCONNECT = "/agent/v1/disconnect"

H_AGENT = "x-calypso-agent"
H_DATE = "x-calypso-date"
H_SIGNATURE = "x-calypso-signature"
MAX_CLOCK_SKEW_SECONDS = 15 * 60


def string_to_sign(method: str, path: str, date: str, body: bytes) -> bytes:
    return f"{method.upper()}\n{path}\n{date}\n{hashlib.sha256(body).hexdigest()}".encode()


def new_private_key() -> Ed25519PrivateKey:
    return Ed25519PrivateKey.generate()


def private_key_pem(key: Ed25519PrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


def public_key_pem(key: Ed25519PrivateKey) -> str:
    return (
        key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode("ascii")
    )


def load_private_key(pem: bytes) -> Ed25519PrivateKey:
    key = serialization.load_pem_private_key(pem, password=None)
    if not isinstance(key, Ed25519PrivateKey):
        raise ValueError("agent key is not an Ed25519 private key")
    return key


def load_public_key(pem: str) -> Ed25519PublicKey:
    key = serialization.load_pem_public_key(pem.encode("ascii"))
    if not isinstance(key, Ed25519PublicKey):
        raise ValueError("public_key must be an Ed25519 public key in PEM")
    return key


def sign_request(key: Ed25519PrivateKey, method: str, path: str, date: str, body: bytes) -> str:
    return base64.b64encode(key.sign(string_to_sign(method, path, date, body))).decode("ascii")


def verify_request(
    public_key: Ed25519PublicKey, signature_b64: str, method: str, path: str, date: str, body: bytes
) -> bool:
    try:
        public_key.verify(
            base64.b64decode(signature_b64, validate=True), string_to_sign(method, path, date, body)
        )
    except (InvalidSignature, ValueError):
        return False
    return True
