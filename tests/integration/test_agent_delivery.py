"""The agent never loses data and never duplicates it: real processes, real kills, real outages."""

from __future__ import annotations

import json
import os
import signal
import socket
import threading
import time
from pathlib import Path

import pytest

from tests.integration.conftest import (
    CALYPSO,
    Workspace,
    calypso,
    free_port,
    new_workspace,
    run_agent,
    spawn,
    stop,
    wait_for,
)

LINES = 100_000


def tail_config(path: Path, log: Path, extra: str = "") -> Path:
    path.write_text(
        f'[[sources.tail]]\nname = "MyApp"\npaths = ["{log}"]\nstart_at = "beginning"\n\n[sources.heartbeat]\ninterval = "5s"\n\n'
        f'[delivery]\nstatus_interval = "1s"\nmax_retry_delay = "2s"\n{extra}'
    )
    return path


def write_lines(log: Path, total: int, per_second: int) -> threading.Thread:
    def run() -> None:
        chunk = max(1, per_second // 20)
        with log.open("a") as f:
            for start in range(0, total, chunk):
                f.write(
                    "".join(
                        f"line {i:07d} payload-{'x' * 40}\n" for i in range(start, min(total, start + chunk))
                    )
                )
                f.flush()
                time.sleep(0.05)

    t = threading.Thread(target=run, daemon=True)
    t.start()
    return t


def counts(ws: Workspace, table: str = "MyApp_CL") -> tuple[int, int]:
    try:
        rows = ws.query(f"{table} | summarize n = count(), d = dcount(RawData)")
    except AssertionError:  # table not created yet
        return (0, 0)
    return (rows[0]["n"], rows[0]["d"]) if rows else (0, 0)


def test_kill_9_five_times_every_line_arrives_exactly_once(workspace: Workspace, tmp_path: Path) -> None:
    state, log = tmp_path / "agent", tmp_path / "app.log"
    log.touch()
    workspace.connect(state)
    config = tail_config(tmp_path / "agent.toml", log)
    writer = write_lines(log, LINES, per_second=10_000)
    argv = [CALYPSO, "agent", "run", "--state", str(state), "--config", str(config)]
    agent = spawn(argv, tmp_path / "agent.log")
    for _ in range(5):
        time.sleep(1.5)
        os.killpg(agent.pid, signal.SIGKILL)
        agent.wait()
        agent = spawn(argv, tmp_path / "agent.log")
    writer.join()
    try:
        wait_for(lambda: counts(workspace)[0] >= LINES, 120, f"{LINES} lines in MyApp_CL")
        time.sleep(2)  # anything late would be a duplicate
        assert counts(workspace) == (LINES, LINES)
    finally:
        stop(agent)


def test_workspace_down_for_60_seconds_then_everything_arrives_once(
    workspace: Workspace, tmp_path: Path
) -> None:
    state, log = tmp_path / "agent", tmp_path / "app.log"
    log.touch()
    workspace.connect(state)
    agent = run_agent(state, tail_config(tmp_path / "agent.toml", log), tmp_path / "agent.log")
    try:
        writer = write_lines(log, 20_000, per_second=1_000)
        wait_for(lambda: counts(workspace)[0] > 0, 60, "the first lines")
        stop(workspace.proc)
        time.sleep(60)
        workspace.start()
        writer.join()
        wait_for(lambda: counts(workspace)[0] >= 20_000, 120, "all 20,000 lines after the outage")
        time.sleep(2)
        assert counts(workspace) == (20_000, 20_000)
        status = json.loads(calypso("agent", "status", "--state", str(state), "--json").stdout)
        assert status["workspaces"][workspace.info["workspace_id"]]["retries"] > 0
    finally:
        stop(agent)


def test_one_workspace_down_never_stalls_the_other(workspace: Workspace, tmp_path: Path) -> None:
    other = new_workspace(tmp_path / "other")
    state, log = tmp_path / "agent", tmp_path / "app.log"
    log.touch()
    workspace.connect(state)
    other.connect(state)
    stop(other.proc)  # down from the start
    agent = run_agent(state, tail_config(tmp_path / "agent.toml", log), tmp_path / "agent.log")
    try:
        write_lines(log, 5_000, per_second=5_000).join()
        wait_for(lambda: counts(workspace)[0] >= 5_000, 60, "the healthy workspace to get everything")
        other.start()
        wait_for(lambda: counts(other)[0] >= 5_000, 90, "the recovered workspace to catch up")
        assert counts(other) == (5_000, 5_000)
        assert counts(workspace) == (5_000, 5_000)
    finally:
        stop(agent)
        stop(other.proc)


def _gateway(tmp_path: Path, ws: Workspace, password: str) -> tuple[object, int]:
    port = free_port()
    proc = spawn(
        [
            CALYPSO,
            "gateway",
            "serve",
            "--listen",
            f"127.0.0.1:{port}",
            "--allow",
            f"127.0.0.1:{ws.port}",
            "--user",
            "agent",
            "--password-env",
            "GW_PASSWORD",
        ],
        tmp_path / "gateway.log",
        env={"GW_PASSWORD": password},
    )
    wait_for(lambda: _listening(port), 20, "the proxy to listen")
    return proc, port


def _listening(port: int) -> bool:
    try:
        socket.create_connection(("127.0.0.1", port), 0.3).close()
        return True
    except OSError:
        return False


@pytest.mark.parametrize("wrong", [False, True])
def test_through_a_proxy_with_basic_auth_and_an_at_sign_in_the_password(
    workspace: Workspace, tmp_path: Path, wrong: bool
) -> None:
    password = "p@ss:w%rd"
    proxy, port = _gateway(tmp_path, workspace, password)
    state = tmp_path / "agent"
    given = "not-it" if wrong else password
    # Onboarding goes direct; the data path goes through the proxy.
    workspace.connect(state)
    conn_file = state / "workspaces" / workspace.info["workspace_id"] / "connection.json"
    conn = json.loads(conn_file.read_text())
    conn["proxy"] = f"http://agent:{given}@127.0.0.1:{port}"
    conn_file.write_text(json.dumps(conn))
    config = tmp_path / "agent.toml"
    config.write_text(
        '[sources.heartbeat]\ninterval = "1s"\n[delivery]\nstatus_interval = "1s"\nmax_retry_delay = "1s"\n'
    )
    agent = run_agent(state, config, tmp_path / "agent.log")
    try:
        if wrong:

            def error() -> str | None:
                out = json.loads(calypso("agent", "status", "--state", str(state), "--json").stdout)
                return out["workspaces"][workspace.info["workspace_id"]].get("last_error")

            message = wait_for(error, 30, "a proxy error in agent status")
            assert "407" in message or "proxy" in message.lower()
            assert password not in message and given not in message
        else:
            wait_for(
                lambda: workspace.query("Heartbeat | count")[0]["Count"] >= 1,
                30,
                "a heartbeat through the proxy",
            )
            status = json.loads(calypso("agent", "status", "--state", str(state), "--json").stdout)
            assert status["workspaces"][workspace.info["workspace_id"]]["route"].startswith(
                "http://agent:***@"
            )
    finally:
        stop(agent)
        stop(proxy)  # type: ignore[arg-type]


def test_a_rule_changed_in_the_workspace_is_applied_by_the_running_agent(
    workspace: Workspace, tmp_path: Path
) -> None:
    import ssl

    import httpx

    state, log = tmp_path / "agent", tmp_path / "ruled.log"
    log.write_text("before the rule\n")
    workspace.connect(state)
    config = tmp_path / "agent.toml"
    config.write_text('[sources.heartbeat]\ninterval = "5s"\n')  # default rules poll interval (30 s)
    agent = run_agent(state, config, tmp_path / "agent.log")
    try:
        wait_for(lambda: workspace.query("Heartbeat | count")[0]["Count"] > 0, 30, "the agent to report")
        rules = {"sources": {"tail": [{"name": "Ruled", "paths": [str(log)], "start_at": "beginning"}]}}
        resp = httpx.put(
            f"{workspace.url}/admin/v1/workspaces/{workspace.info['workspace_id']}/rules",
            json=rules,
            headers={"authorization": f"Bearer {workspace.info['admin_token']}"},
            verify=ssl.create_default_context(cafile=workspace.info["ca_cert"]),
        )
        assert resp.status_code == 200, resp.text
        changed = time.monotonic()
        rows = wait_for(lambda: counts(workspace, "Ruled_CL")[0] > 0, 60, "the ruled log to arrive")
        assert rows and time.monotonic() - changed < 60
    finally:
        stop(agent)
