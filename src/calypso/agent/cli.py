"""`calypso agent ...`: connect, run, status, disconnect, install-service."""

from __future__ import annotations

import argparse
import asyncio
import binascii
import json
import os
import signal
import socket
import sys
import time
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from calypso.agent import identity
from calypso.agent.sinks.workspace.service import WorkspaceService, onboard
from calypso.agent.transport import Routes, parse_proxy
from calypso.wire import agentapi
from calypso.wire.errors import CalypsoError, ConfigError


def register(sub: argparse._SubParsersAction) -> None:
    agent = sub.add_parser(
        "agent",
        help="collect this machine's logs and send them to workspaces",
        description="The agent: collects logs and metrics on this machine and ships them.",
    )
    cmds = agent.add_subparsers(dest="agent_command", required=True, metavar="COMMAND")

    p = cmds.add_parser(
        "connect",
        help="onboard this machine to a workspace (repeat for several)",
        description="Exchange the workspace key once for this agent's own credentials.",
    )
    p.add_argument(
        "--state", type=Path, required=True, help="agent state directory (keys, buffer, checkpoints)"
    )
    p.add_argument("--url", required=True, help="workspace URL, e.g. https://127.0.0.1:8443")
    p.add_argument("--workspace-id", required=True)
    p.add_argument(
        "--key",
        default=os.environ.get("CALYPSO_WORKSPACE_KEY"),
        help="workspace primary or secondary key (or env CALYPSO_WORKSPACE_KEY)",
    )
    p.add_argument("--ca", type=Path, help="CA certificate to trust (pinned) for this workspace")
    p.add_argument("--proxy", help="HTTP proxy: [protocol://][user:password@]host[:port]")
    p.add_argument("--gateway", action="append", default=[], help="gateway URL; repeat for failover")
    p.add_argument("--label", action="append", default=[], metavar="NAME=VALUE", help="agent label for rules")
    p.set_defaults(func=cmd_connect)

    p = cmds.add_parser("run", help="run the agent in the foreground (SIGTERM drains and stops)")
    p.add_argument("--state", type=Path, required=True)
    p.add_argument("--config", type=Path, help="local TOML config (sources, buffer, delivery)")
    p.add_argument(
        "--drain-timeout", type=float, default=10.0, help="seconds to deliver buffered data on stop"
    )
    p.set_defaults(func=cmd_run)

    p = cmds.add_parser("status", help="health, buffer and counters per workspace")
    p.add_argument("--state", type=Path, required=True)
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.set_defaults(func=cmd_status)

    p = cmds.add_parser("disconnect", help="revoke this agent's credentials for a workspace and forget it")
    p.add_argument("--state", type=Path, required=True)
    p.add_argument("--workspace-id", required=True)
    p.set_defaults(func=cmd_disconnect)

    p = cmds.add_parser("install-service", help="write a systemd unit that runs the agent")
    p.add_argument("--state", type=Path, required=True)
    p.add_argument("--config", type=Path)
    p.add_argument("--unit-dir", type=Path, default=Path("/etc/systemd/system"))
    p.add_argument("--user", default="calypso", help="account the service runs as")
    p.set_defaults(func=cmd_install_service)


def cmd_connect(args: argparse.Namespace) -> int:
    if not args.key:
        raise ConfigError("--key is required (or set CALYPSO_WORKSPACE_KEY)")
    try:
        binascii.a2b_base64(args.key.encode())
    except binascii.Error:
        raise ConfigError("--key is not a base64 workspace key") from None
    if args.proxy:
        parse_proxy(args.proxy)
    if args.ca and not args.ca.is_file():
        raise ConfigError(f"--ca: no such file: {args.ca}")
    labels = dict(item.partition("=")[::2] for item in args.label)
    key = agentapi.new_private_key()
    machine = identity.machine_fingerprint()
    payload = {
        "workspace_id": args.workspace_id,
        "machine_id": machine,
        "hostname": socket.gethostname(),
        "public_key": agentapi.public_key_pem(key),
        "labels": labels,
    }

    async def go() -> dict[str, Any]:
        routes = Routes(args.ca, args.proxy, args.gateway)
        try:
            return await onboard(routes, args.url, args.workspace_id, args.key, payload)
        finally:
            await routes.aclose()

    result = asyncio.run(go())
    conn = identity.Connection(
        url=args.url,
        workspace_id=args.workspace_id,
        agent_id=str(result["agent_id"]),
        machine=machine,
        proxy=args.proxy,
        gateways=list(args.gateway),
    )
    identity.save(args.state, conn, key, args.ca)
    print(
        json.dumps({"agent_id": conn.agent_id, "workspace_id": conn.workspace_id, "state": str(args.state)})
    )
    return 0


def cmd_run(args: argparse.Namespace) -> int:
    from calypso.agent.runtime import Agent, tune_malloc

    tune_malloc()
    args.state.mkdir(parents=True, exist_ok=True)
    agent = Agent(args.state, args.config)

    async def main() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        await agent.run(stop, drain_timeout=args.drain_timeout)

    asyncio.run(main())
    return 0


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def cmd_status(args: argparse.Namespace) -> int:
    connections = identity.load_all(args.state)
    try:
        status: dict[str, Any] = json.loads((args.state / "status.json").read_text())
    except (OSError, ValueError):
        status = {}
    running = bool(status.get("running")) and _alive(int(status.get("pid", 0) or 0))
    workspaces = status.get("workspaces", {})
    report = {
        "state": str(args.state),
        "running": running,
        "pid": status.get("pid") if running else None,
        "updated": status.get("updated"),
        "computer": status.get("computer"),
        "buffer": status.get("buffer", {}),
        "counters": status.get("counters", {}),
        "sources": status.get("sources", {}),
        "workspaces": {
            c.workspace_id: {"url": c.url, "agent_id": c.agent_id, **workspaces.get(c.workspace_id, {})}
            for c, _ in connections
        },
    }
    if args.json:
        print(json.dumps(report, indent=2, default=str))
        return 0 if connections else 1
    print(f"agent     {'running (pid ' + str(report['pid']) + ')' if running else 'not running'}")
    if report["updated"]:
        print(f"updated   {time.strftime('%Y-%m-%d %H:%M:%S', time.localtime(report['updated']))}")
    buf = report["buffer"]
    if buf:
        print(
            f"buffer    {buf.get('bytes', 0)} bytes in {buf.get('segments', 0)} segments, "
            f"dropped {buf.get('dropped_entries', 0)}, corrupt segments {buf.get('corrupt_segments', 0)}"
        )
    print(f"{'WORKSPACE':<38} {'SENT':>10} {'PENDING':>8} {'RETRIES':>8} {'DEAD':>5}  ROUTE / LAST ERROR")
    for wid, w in report["workspaces"].items():
        print(
            f"{wid:<38} {w.get('records_out', 0):>10} {w.get('pending', 0):>8} {w.get('retries', 0):>8} "
            f"{w.get('dead_lettered', 0):>5}  {w.get('route', '-')} {w.get('last_error') or ''}"
        )
    if report["sources"]:
        print(f"{'SOURCE':<38} {'RECORDS':>10}  ERROR")
        for name, s in report["sources"].items():
            print(f"{name:<38} {s.get('records', 0):>10}  {s.get('error') or ''}")
    if not connections:
        print("not connected to any workspace: run `calypso agent connect`")
        return 1
    return 0


async def _tell_disconnect(conn: identity.Connection, key: Ed25519PrivateKey) -> None:
    routes = Routes(conn.ca_file, conn.proxy, conn.gateways)
    try:
        await WorkspaceService(conn, key, routes).disconnect()
    finally:
        await routes.aclose()


def cmd_disconnect(args: argparse.Namespace) -> int:
    for conn, key in identity.load_all(args.state):
        if conn.workspace_id != args.workspace_id:
            continue
        try:
            asyncio.run(_tell_disconnect(conn, key))
        except CalypsoError as e:
            print(f"warning: the workspace could not be told ({e}); forgetting it locally", file=sys.stderr)
        identity.remove(args.state, args.workspace_id)
        print(f"disconnected from {args.workspace_id}")
        return 0
    raise ConfigError(f"not connected to workspace {args.workspace_id}")


UNIT = """[Unit]
Description=Calypso agent
After=network-online.target
Wants=network-online.target

[Service]
User={user}
ExecStart={exe} agent run --state {state}{config}
Restart=always
# One malloc heap: the idle trim returns its free pages (the agent sets this itself too).
Environment=MALLOC_ARENA_MAX=1
RestartSec=5
KillSignal=SIGTERM
TimeoutStopSec=30
NoNewPrivileges=true
ProtectSystem=full

[Install]
WantedBy=multi-user.target
"""


def cmd_install_service(args: argparse.Namespace) -> int:
    exe = Path(sys.argv[0]).resolve()
    unit = UNIT.format(
        user=args.user,
        exe=exe,
        state=args.state.resolve(),
        config=f" --config {args.config.resolve()}" if args.config else "",
    )
    args.unit_dir.mkdir(parents=True, exist_ok=True)
    path = args.unit_dir / "calypso-agent.service"
    path.write_text(unit)
    print(f"wrote {path}; enable it with: systemctl daemon-reload && systemctl enable --now calypso-agent")
    return 0
