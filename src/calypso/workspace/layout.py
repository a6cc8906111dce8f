"""Files under a workspace server's data directory, and the workspace secrets they hold.

    DIR/tls/ca.pem ca.key server.pem server.key     workspace CA and the server certificate
    DIR/workspaces/<id>/workspace.json               id, shared keys, tokens (0600)
    DIR/workspaces/<id>/store.duckdb                 the workspace's data (owned by the server process)
    DIR/workspaces/<id>/rules.json                   agent collection rules served at /agent/v1/config
    DIR/workspaces/<id>/dcr.json                     data collection rules of the Logs Ingestion API

Invariant: every file holding a secret is created 0600 and replaced atomically (write temp, fsync,
rename), so a reader sees either the old or the new content, never a torn file.
"""

from __future__ import annotations

import base64
import os
import secrets
import uuid
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import orjson

ROLES = ("reader", "ingest", "admin")


@dataclass(frozen=True, slots=True)
class Token:
    token: str
    role: str


@dataclass(frozen=True, slots=True)
class WorkspaceSecrets:
    workspace_id: str
    primary_key: str
    secondary_key: str
    tokens: tuple[Token, ...] = ()
    retention_days: int = 30
    table_retention: dict[str, int] = field(default_factory=dict)

    def token_for(self, role: str) -> str:
        for t in self.tokens:
            if t.role == role:
                return t.token
        raise KeyError(role)

    def to_json(self) -> dict[str, Any]:
        return {
            "workspace_id": self.workspace_id,
            "primary_key": self.primary_key,
            "secondary_key": self.secondary_key,
            "tokens": [{"token": t.token, "role": t.role} for t in self.tokens],
            "retention_days": self.retention_days,
            "table_retention": self.table_retention,
        }

    @staticmethod
    def from_json(obj: dict[str, Any]) -> WorkspaceSecrets:
        return WorkspaceSecrets(
            workspace_id=str(obj["workspace_id"]),
            primary_key=str(obj["primary_key"]),
            secondary_key=str(obj["secondary_key"]),
            tokens=tuple(Token(str(t["token"]), str(t["role"])) for t in obj.get("tokens", [])),
            retention_days=int(obj.get("retention_days", 30)),
            table_retention={str(k): int(v) for k, v in obj.get("table_retention", {}).items()},
        )


def new_shared_key() -> str:
    return base64.b64encode(secrets.token_bytes(64)).decode("ascii")


def new_token(role: str) -> Token:
    return Token(f"cal{role[0]}_{secrets.token_urlsafe(32)}", role)


def write_private(path: Path, data: bytes) -> None:
    """Atomically replace `path` with `data`, mode 0600."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        os.write(fd, data)
        os.fsync(fd)
    finally:
        os.close(fd)
    os.chmod(tmp, 0o600)
    os.replace(tmp, path)


def tls_dir(data_dir: Path) -> Path:
    return data_dir / "tls"


def workspaces_dir(data_dir: Path) -> Path:
    return data_dir / "workspaces"


def workspace_dir(data_dir: Path, workspace_id: str) -> Path:
    return workspaces_dir(data_dir) / workspace_id


def secrets_path(data_dir: Path, workspace_id: str) -> Path:
    return workspace_dir(data_dir, workspace_id) / "workspace.json"


def store_path(data_dir: Path, workspace_id: str) -> Path:
    return workspace_dir(data_dir, workspace_id) / "store.duckdb"


def rules_path(data_dir: Path, workspace_id: str) -> Path:
    return workspace_dir(data_dir, workspace_id) / "rules.json"


def dcr_path(data_dir: Path, workspace_id: str) -> Path:
    return workspace_dir(data_dir, workspace_id) / "dcr.json"


def save_secrets(data_dir: Path, ws: WorkspaceSecrets) -> None:
    write_private(
        secrets_path(data_dir, ws.workspace_id), orjson.dumps(ws.to_json(), option=orjson.OPT_INDENT_2)
    )


def create_workspace(data_dir: Path, workspace_id: str | None = None) -> WorkspaceSecrets:
    ws = WorkspaceSecrets(
        workspace_id=workspace_id or str(uuid.uuid4()),
        primary_key=new_shared_key(),
        secondary_key=new_shared_key(),
        tokens=tuple(new_token(role) for role in ROLES),
    )
    directory = workspace_dir(data_dir, ws.workspace_id)
    directory.mkdir(parents=True, exist_ok=True)
    os.chmod(directory, 0o700)
    save_secrets(data_dir, ws)
    return ws


def load_secrets(path: Path) -> WorkspaceSecrets:
    return WorkspaceSecrets.from_json(orjson.loads(path.read_bytes()))


def list_workspaces(data_dir: Path) -> list[WorkspaceSecrets]:
    root = workspaces_dir(data_dir)
    if not root.is_dir():
        return []
    return [
        load_secrets(p / "workspace.json") for p in sorted(root.iterdir()) if (p / "workspace.json").is_file()
    ]


def rotate_key(data_dir: Path, workspace_id: str, which: str) -> WorkspaceSecrets:
    ws = load_secrets(secrets_path(data_dir, workspace_id))
    if which not in ("primary", "secondary"):
        raise ValueError("key must be 'primary' or 'secondary'")
    key = new_shared_key()
    ws = replace(ws, primary_key=key) if which == "primary" else replace(ws, secondary_key=key)
    save_secrets(data_dir, ws)
    return ws


def add_token(data_dir: Path, workspace_id: str, role: str) -> tuple[WorkspaceSecrets, Token]:
    if role not in ROLES:
        raise ValueError(f"role must be one of {', '.join(ROLES)}")
    ws = load_secrets(secrets_path(data_dir, workspace_id))
    token = new_token(role)
    ws = replace(ws, tokens=(*ws.tokens, token))
    save_secrets(data_dir, ws)
    return ws, token
