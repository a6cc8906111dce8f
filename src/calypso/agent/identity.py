"""Who this agent is, per workspace, and which machine it was onboarded on.

State layout under the agent's state directory (files holding secrets are 0600):

    workspaces/<workspace-id>/connection.json   url, workspace id, agent id, proxy, gateways, machine
    workspaces/<workspace-id>/agent.key         Ed25519 private key (PEM), never leaves the machine
    workspaces/<workspace-id>/ca.pem            the workspace CA the agent pins, if one was given

`machine_fingerprint()` hashes /etc/machine-id and the host name. A state directory copied onto
another machine (a golden image) sees a different fingerprint and must re-register.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import socket
from dataclasses import asdict, dataclass, field
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from calypso.wire import agentapi

MACHINE_ID_FILES = (Path("/etc/machine-id"), Path("/var/lib/dbus/machine-id"))


def machine_fingerprint() -> str:
    override = os.environ.get("CALYPSO_MACHINE_ID_FILE")
    candidates = (Path(override),) if override else MACHINE_ID_FILES
    machine_id = ""
    for path in candidates:
        try:
            machine_id = path.read_text().strip()
            break
        except OSError:
            continue
    return hashlib.sha256(f"{machine_id}\n{socket.gethostname()}".encode()).hexdigest()[:32]


def write_secret(path: Path, data: bytes) -> None:
    """Write a file only its owner can read, atomically."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


@dataclass(frozen=True)
class Connection:
    url: str
    workspace_id: str
    agent_id: str
    machine: str
    proxy: str | None = None
    gateways: list[str] = field(default_factory=list)
    ca: str | None = None  # path of the pinned CA copy

    @property
    def ca_file(self) -> Path | None:
        return Path(self.ca) if self.ca else None


def workspace_dir(state: Path, workspace_id: str) -> Path:
    return state / "workspaces" / workspace_id


def save(state: Path, conn: Connection, key: Ed25519PrivateKey, ca_source: Path | None) -> Connection:
    d = workspace_dir(state, conn.workspace_id)
    d.mkdir(parents=True, exist_ok=True)
    os.chmod(state, 0o700)
    if ca_source is not None:
        shutil.copyfile(ca_source, d / "ca.pem")
        conn = Connection(**{**asdict(conn), "ca": str((d / "ca.pem").resolve())})
    write_secret(d / "agent.key", agentapi.private_key_pem(key))
    write_secret(d / "connection.json", json.dumps(asdict(conn), indent=2).encode())
    return conn


def load_all(state: Path) -> list[tuple[Connection, Ed25519PrivateKey]]:
    out: list[tuple[Connection, Ed25519PrivateKey]] = []
    root = state / "workspaces"
    if not root.is_dir():
        return out
    for d in sorted(root.iterdir()):
        try:
            conn = Connection(**json.loads((d / "connection.json").read_text()))
            key = agentapi.load_private_key((d / "agent.key").read_bytes())
        except (OSError, ValueError, TypeError):
            continue
        out.append((conn, key))
    return out


def remove(state: Path, workspace_id: str) -> bool:
    d = workspace_dir(state, workspace_id)
    if not d.is_dir():
        return False
    shutil.rmtree(d)
    return True
