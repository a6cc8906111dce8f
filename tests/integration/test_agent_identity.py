"""Onboarding identities: a machine cloned from an onboarded image registers as a new agent."""

from __future__ import annotations

import json
import shutil
import ssl
from pathlib import Path

import httpx

from tests.integration.conftest import CALYPSO, Workspace, spawn, stop, wait_for


def agents(ws: Workspace) -> list[dict[str, object]]:
    resp = httpx.get(
        f"{ws.url}/admin/v1/workspaces/{ws.info['workspace_id']}/agents",
        headers={"authorization": f"Bearer {ws.info['admin_token']}"},
        verify=ssl.create_default_context(cafile=ws.info["ca_cert"]),
    )
    assert resp.status_code == 200, resp.text
    body = resp.json()
    found: list[dict[str, object]] = body["agents"] if isinstance(body, dict) else body
    return found


def test_a_cloned_state_directory_registers_as_a_new_agent(workspace: Workspace, tmp_path: Path) -> None:
    original = tmp_path / "original"
    machine_a, machine_b = tmp_path / "machine-id-a", tmp_path / "machine-id-b"
    machine_a.write_text("aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\n")
    machine_b.write_text("bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb\n")
    workspace.connect(original, env={"CALYPSO_MACHINE_ID_FILE": str(machine_a)})
    conn_path = Path("workspaces") / workspace.info["workspace_id"] / "connection.json"
    first_id = json.loads((original / conn_path).read_text())["agent_id"]

    clone = tmp_path / "clone"
    shutil.copytree(original, clone)  # the golden image, booted on another machine
    config = tmp_path / "agent.toml"
    config.write_text('[sources.heartbeat]\ninterval = "1s"\n')
    agent = spawn(
        [CALYPSO, "agent", "run", "--state", str(clone), "--config", str(config)],
        tmp_path / "clone.log",
        env={"CALYPSO_MACHINE_ID_FILE": str(machine_b)},
    )
    try:
        wait_for(
            lambda: json.loads((clone / conn_path).read_text())["agent_id"] != first_id,
            30,
            "the clone to register itself",
        )
        wait_for(lambda: workspace.query("Heartbeat | count")[0]["Count"] >= 1, 30, "the clone's heartbeat")
    finally:
        assert stop(agent) == 0
    ids = {a["agent_id"] for a in agents(workspace)}
    clone_id = json.loads((clone / conn_path).read_text())["agent_id"]
    assert ids == {first_id, clone_id}
    assert json.loads((original / conn_path).read_text())["agent_id"] == first_id
