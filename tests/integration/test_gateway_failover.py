"""Agents behind two gateways: one is killed mid-stream, data keeps flowing through the other, once."""

from __future__ import annotations

import json
import os
import signal
from pathlib import Path

from tests.integration.conftest import CALYPSO, Workspace, calypso, free_port, spawn, stop, wait_for
from tests.integration.test_agent_delivery import _listening, counts, tail_config, write_lines


def test_two_gateways_one_killed_mid_stream(workspace: Workspace, tmp_path: Path) -> None:
    ports = [free_port(), free_port()]
    gateways = [
        spawn(
            [
                CALYPSO,
                "gateway",
                "serve",
                "--listen",
                f"127.0.0.1:{p}",
                "--allow",
                f"127.0.0.1:{workspace.port}",
            ],
            tmp_path / f"gateway{i}.log",
        )
        for i, p in enumerate(ports)
    ]
    for p in ports:
        wait_for(lambda p=p: _listening(p), 20, f"gateway on {p}")
    state, log = tmp_path / "agent", tmp_path / "app.log"
    log.touch()
    calypso(
        "agent",
        "connect",
        "--state",
        str(state),
        "--url",
        workspace.url,
        "--workspace-id",
        workspace.info["workspace_id"],
        "--key",
        workspace.info["primary_key"],
        "--ca",
        workspace.info["ca_cert"],
        *[arg for p in ports for arg in ("--gateway", f"http://127.0.0.1:{p}")],
    )
    agent = spawn(
        [
            CALYPSO,
            "agent",
            "run",
            "--state",
            str(state),
            "--config",
            str(tail_config(tmp_path / "agent.toml", log)),
        ],
        tmp_path / "agent.log",
    )
    try:
        writer = write_lines(log, 30_000, per_second=5_000)
        wait_for(lambda: counts(workspace)[0] > 0, 60, "the first lines through gateway 1")
        os.kill(gateways[0].pid, signal.SIGKILL)
        gateways[0].wait()
        writer.join()
        wait_for(lambda: counts(workspace)[0] >= 30_000, 90, "every line through gateway 2")
        assert counts(workspace) == (30_000, 30_000)
        status = json.loads(calypso("agent", "status", "--state", str(state), "--json").stdout)
        assert status["workspaces"][workspace.info["workspace_id"]]["route"] == f"http://127.0.0.1:{ports[1]}"
    finally:
        stop(agent)
        for g in gateways:
            stop(g)
