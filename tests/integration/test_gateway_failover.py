"""Agents behind two gateways: one is killed mid-stream, data keeps flowing through the other, once.

`test_two_gateways_one_killed_mid_stream` (written with the agent) checks the agent's side (its route
switches to the second gateway); `test_gateway_killed_mid_stream_...` checks the gateways' side (the
first carried data before the kill, the second carries it after) with basic auth on both.
"""

from __future__ import annotations

import json
import os
import signal
import time
from pathlib import Path

import pytest

from tests.integration.conftest import (
    CALYPSO,
    Workspace,
    calypso,
    free_port,
    run_agent,
    spawn,
    stop,
    wait_for,
)
from tests.integration.test_agent_delivery import _listening, counts, tail_config, write_lines
from tests.integration.test_gateway_support import GatewayProcess

pytestmark = pytest.mark.integration

LINES = 20_000


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
    workspace.connect(state, *[arg for p in ports for arg in ("--gateway", f"http://127.0.0.1:{p}")])
    agent = run_agent(state, tail_config(tmp_path / "agent.toml", log), tmp_path / "agent.log")
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


def test_gateway_killed_mid_stream_agent_fails_over_and_nothing_is_lost_or_duplicated(
    workspace: Workspace, tmp_path: Path
) -> None:
    allow = [f"127.0.0.1:{workspace.port}"]
    password = "gw@pa:ss%"
    with (
        GatewayProcess(allow, user="agent", password=password) as first,
        GatewayProcess(allow, user="agent", password=password) as second,
    ):
        state, log = tmp_path / "agent", tmp_path / "app.log"
        log.touch()
        workspace.connect(state, "--gateway", first.url, "--gateway", second.url)
        config = tail_config(tmp_path / "agent.toml", log)
        agent = run_agent(state, config, tmp_path / "agent.log")
        try:
            writer = write_lines(log, LINES, per_second=4_000)
            wait_for(lambda: counts(workspace)[0] > 0, 60, "the first lines through the first gateway")
            assert first.health()["bytes_up"] > 0
            assert second.health()["tunnels_total"] == 0  # the second one was not needed yet
            first.kill()  # mid-stream: the writer is still going
            assert writer.is_alive()
            writer.join()
            wait_for(lambda: counts(workspace)[0] >= LINES, 120, f"all {LINES} lines after the failover")
            time.sleep(2)  # anything arriving late would be a duplicate
            assert counts(workspace) == (LINES, LINES)
            carried = second.health()
            assert carried["tunnels_total"] >= 1 and carried["bytes_up"] > 0
        finally:
            stop(agent)
