"""What a newcomer does: init a workspace, serve it over HTTPS, connect an agent, run it, query it."""

from __future__ import annotations

import socket
from pathlib import Path

from tests.integration.conftest import Workspace, calypso, run_agent, stop, wait_for


def test_agent_data_reaches_the_workspace_and_answers_kql(workspace: Workspace, tmp_path: Path) -> None:
    state = tmp_path / "agent"
    config = tmp_path / "agent.toml"
    config.write_text(
        '[sources.heartbeat]\ninterval = "2s"\n\n[sources.perf]\ninterval = "1s"\n\n'
        '[delivery]\nstatus_interval = "1s"\n'
    )
    workspace.connect(state)
    agent = run_agent(state, config, tmp_path / "agent.log")
    try:
        me = socket.gethostname()
        rows = wait_for(
            lambda: workspace.query("Heartbeat | summarize count() by Computer"),
            60,
            "a Heartbeat row from this machine",
        )
        assert [r["Computer"] for r in rows] == [me]
        assert rows[0]["count_"] >= 1

        perf = wait_for(
            lambda: workspace.query(
                'Perf | where ObjectName == "Processor" and CounterName == "% Processor Time" '
                "| summarize n = count(), top = max(CounterValue) by Computer, InstanceName"
            ),
            60,
            "Perf rows",
        )
        instances = {r["InstanceName"] for r in perf}
        assert "_Total" in instances
        assert all(r["Computer"] == me and 0 <= r["top"] <= 100 for r in perf)

        status = calypso("agent", "status", "--state", str(state), "--json")
        assert '"running": true' in status.stdout
    finally:
        assert stop(agent) == 0, (tmp_path / "agent.log").read_text()
    after = calypso("agent", "status", "--state", str(state))
    assert "not running" in after.stdout


def test_wrong_flag_is_one_line_not_a_traceback() -> None:
    proc = calypso("agent", "run", "--state", "/tmp/x", "--no-such-flag", check=False)
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1
    assert "--no-such-flag" in proc.stderr


def test_query_with_a_typo_names_the_column(workspace: Workspace) -> None:
    proc = calypso(
        "query",
        "--url",
        workspace.url,
        "--workspace-id",
        workspace.info["workspace_id"],
        "--token",
        workspace.info["query_token"],
        "--ca",
        workspace.info["ca_cert"],
        'Heartbeat | where Computr == "x"',
        check=False,
    )
    assert proc.returncode == 1
    assert "Computr" in proc.stderr and "Computer" in proc.stderr
    assert "Traceback" not in proc.stderr
