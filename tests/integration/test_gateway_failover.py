"""Agents fail over between gateways: two real gateways, one killed mid-stream, nothing lost or doubled."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest

from tests.integration.conftest import CALYPSO, Workspace, calypso, spawn, stop, wait_for
from tests.integration.test_gateway_support import GatewayProcess

pytestmark = pytest.mark.integration

LINES = 20_000


def write_lines(log: Path, total: int, per_second: int) -> threading.Thread:
    def run() -> None:
        chunk = max(1, per_second // 20)
        with log.open("a") as f:
            for start in range(0, total, chunk):
                f.write(
                    "".join(
                        f"line {i:07d} through-a-gateway\n" for i in range(start, min(total, start + chunk))
                    )
                )
                f.flush()
                time.sleep(0.05)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread


def counts(ws: Workspace) -> tuple[int, int]:
    try:
        rows = ws.query("MyApp_CL | summarize n = count(), d = dcount(RawData)")
    except AssertionError:  # the table does not exist yet
        return (0, 0)
    return (rows[0]["n"], rows[0]["d"]) if rows else (0, 0)


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
            "--gateway",
            first.url,
            "--gateway",
            second.url,
        )
        config = tmp_path / "agent.toml"
        config.write_text(
            f'[[sources.tail]]\nname = "MyApp"\npaths = ["{log}"]\nstart_at = "beginning"\n\n'
            '[delivery]\nstatus_interval = "1s"\nmax_retry_delay = "1s"\n'
        )
        agent = spawn(
            [CALYPSO, "agent", "run", "--state", str(state), "--config", str(config)], tmp_path / "agent.log"
        )
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
