"""`calypso gateway serve`: flags and an optional TOML file become one `GatewayConfig`, then serve.

Invariant: a configuration mistake prints one line `calypso gateway: error: <message>` and exits 2,
never a stack trace; a clean stop (SIGTERM/SIGINT after draining) exits 0. SIGHUP re-reads the same
flags and file (allowlist, credentials, limits) without dropping open tunnels.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from pathlib import Path
from typing import Any

from calypso.gateway import config as gwconfig
from calypso.gateway.logs import setup
from calypso.gateway.server import serve
from calypso.wire.errors import ConfigError


def register(subparsers: Any) -> None:
    """Add the `gateway` command group (with `serve`) to a top-level argparse subparsers object."""
    group = subparsers.add_parser("gateway", help="HTTP CONNECT gateway for agents without their own route")
    commands = group.add_subparsers(dest="gateway_command", metavar="COMMAND", required=True)
    add_serve(commands)


def add_serve(commands: Any) -> argparse.ArgumentParser:
    p: argparse.ArgumentParser = commands.add_parser(
        "serve",
        help="run the gateway in the foreground",
        description="Tunnel agents' HTTPS to the allowlisted workspace hosts (HTTP CONNECT).",
    )
    p.add_argument("--config", type=Path, help="TOML file with the same keys as the flags (underscores)")
    p.add_argument("--listen", metavar="HOST:PORT", help="proxy address, e.g. 0.0.0.0:8080")
    p.add_argument(
        "--allow",
        metavar="HOST[:PORT]",
        nargs="+",
        action="extend",
        default=[],
        help="workspace host to serve (port 443 if omitted; '*.suffix' wildcards allowed); repeatable",
    )
    auth = p.add_argument_group("client authentication (HTTP basic, Proxy-Authorization)")
    auth.add_argument("--auth-file", dest="auth_file", metavar="FILE", help="lines of 'user:password'")
    auth.add_argument("--user", help="single user name")
    auth.add_argument(
        "--password-env", dest="password_env", metavar="VAR", help="variable holding its password"
    )
    limits = p.add_argument_group("limits and timeouts (durations: 500ms, 10s, 5m, 1h)")
    limits.add_argument("--max-tunnels", dest="max_tunnels", type=int, metavar="N", help="default 8192")
    limits.add_argument("--max-per-client", dest="max_per_client", type=int, metavar="N", help="default 1000")
    limits.add_argument("--idle-timeout", dest="idle_timeout", metavar="S", help="close idle tunnels (10m)")
    limits.add_argument("--handshake-timeout", dest="handshake_timeout", metavar="S", help="default 10s")
    limits.add_argument("--connect-timeout", dest="connect_timeout", metavar="S", help="upstream (10s)")
    limits.add_argument("--grace", metavar="S", help="on SIGTERM, let tunnels finish this long (30s)")
    p.add_argument("--health", metavar="HOST:PORT", help="also answer GET /health on this address")
    p.add_argument("--log-level", dest="log_level", choices=["debug", "info", "warning", "error"])
    p.set_defaults(func=run_serve)
    return p


def config_from_args(args: argparse.Namespace) -> gwconfig.GatewayConfig:
    file_values = gwconfig.load_toml(args.config) if args.config else {}
    flag_values = {key: getattr(args, key, None) for key in gwconfig.KNOWN_KEYS}
    return gwconfig.build(gwconfig.merge(file_values, flag_values))


def run_serve(args: argparse.Namespace) -> int:
    try:
        config = config_from_args(args)
    except ConfigError as e:
        print(f"calypso gateway: error: {e}", file=sys.stderr)
        return 2
    setup(config.log_level)
    try:
        return asyncio.run(serve(config, reload=lambda: config_from_args(args)))
    except OSError as e:  # e.g. the listen address is taken
        print(f"calypso gateway: error: cannot listen: {e.strerror or e}", file=sys.stderr)
        return 1


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="calypso gateway")
    commands = parser.add_subparsers(dest="gateway_command", metavar="COMMAND", required=True)
    add_serve(commands)
    args = parser.parse_args(argv)
    result: int = args.func(args)
    return result
