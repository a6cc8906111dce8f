"""The running server's workspaces: secrets, store, rules and counters, found by id, token or agent.

Invariants: each workspace has its own DuckDB file and store object; a credential resolves to exactly
one workspace; secrets files changed on disk (key rotation, new tokens, new workspaces) are picked up
by `reload()` without a restart, and both shared keys stay valid throughout.
"""

from __future__ import annotations

import threading
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from calypso.workspace import layout
from calypso.workspace.auth import TokenIndex
from calypso.workspace.layout import WorkspaceSecrets
from calypso.workspace.limits import Limits
from calypso.workspace.rules import AgentRules, DataCollectionRules
from calypso.workspace.store.duckdb import AgentRecord, DuckDBStore


@dataclass
class Workspace:
    secrets: WorkspaceSecrets
    store: DuckDBStore
    rules: AgentRules
    dcrs: DataCollectionRules
    counters: Counter[str] = field(default_factory=Counter)

    @property
    def id(self) -> str:
        return self.secrets.workspace_id


class ServerState:
    def __init__(self, data_dir: Path, limits: Limits | None = None) -> None:
        self.data_dir = data_dir
        self.limits = limits or Limits()
        self.workspaces: dict[str, Workspace] = {}
        self.tokens = TokenIndex(())
        self._stamps: dict[str, int] = {}
        self._lock = threading.Lock()
        self.reload()

    def reload(self) -> list[str]:
        """Re-read secrets files that changed; open stores of new workspaces. Returns changed ids."""
        changed: list[str] = []
        with self._lock:
            root = layout.workspaces_dir(self.data_dir)
            paths = sorted(root.glob("*/workspace.json")) if root.is_dir() else []
            for path in paths:
                stamp = path.stat().st_mtime_ns
                ws_id = path.parent.name
                if self._stamps.get(ws_id) == stamp:
                    continue
                secrets = layout.load_secrets(path)
                self._stamps[ws_id] = stamp
                changed.append(secrets.workspace_id)
                current = self.workspaces.get(secrets.workspace_id)
                if current is not None:
                    current.secrets = secrets
                    continue
                self.workspaces[secrets.workspace_id] = Workspace(
                    secrets,
                    DuckDBStore(layout.store_path(self.data_dir, secrets.workspace_id), secrets.workspace_id),
                    AgentRules(layout.rules_path(self.data_dir, secrets.workspace_id)),
                    DataCollectionRules(layout.dcr_path(self.data_dir, secrets.workspace_id)),
                )
            if changed:
                self.tokens = TokenIndex(ws.secrets for ws in self.workspaces.values())
        return changed

    def workspace(self, workspace_id: str) -> Workspace | None:
        return self.workspaces.get(workspace_id.lower()) or self.workspaces.get(workspace_id)

    def find_agent(self, agent_id: str) -> tuple[Workspace, AgentRecord] | None:
        for ws in self.workspaces.values():
            record = ws.store.agent(agent_id)
            if record is not None:
                return ws, record
        return None

    def find_dcr(self, rule_id: str) -> Workspace | None:
        for ws in self.workspaces.values():
            if rule_id in ws.dcrs.all():
                return ws
        return None

    def close(self) -> None:
        with self._lock:
            for ws in self.workspaces.values():
                ws.store.close()
