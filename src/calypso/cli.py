"""The `calypso` command: one entry point for the agent, the workspace, the gateway and queries.

Each program registers its own command group (`register(subparsers)`); this module only parses,
sets up logging, and turns errors into one readable line (a stack trace only with --verbose).
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from collections.abc import Sequence
from importlib import import_module
from pathlib import Path
from typing import NoReturn

from calypso import __version__, logfmt
from calypso.wire.errors import CalypsoError

# The programs, by command word. A command of one program imports only that program's modules: the
# agent must not carry the workspace server's and the gateway's in its resident memory.
GROUPS = {
    "workspace": "calypso.workspace.cli",
    "agent": "calypso.agent.cli",
    "gateway": "calypso.gateway.cli",
}


class Parser(argparse.ArgumentParser):
    """argparse that reports a wrong flag in one line instead of a usage dump."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {message} (see `{self.prog} --help`)\n")


def build_parser(argv: Sequence[str] | None = None) -> argparse.ArgumentParser:
    parser = Parser(
        prog="calypso",
        description="Calypso: self-hosted log analytics that speaks Azure Log "
        "Analytics and KQL. Programs: workspace (server), agent (collector), gateway (proxy).",
    )
    parser.add_argument("--version", action="version", version=f"calypso {__version__}")
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging and stack traces")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND", parser_class=Parser)
    word = next((a for a in (sys.argv[1:] if argv is None else argv) if not a.startswith("-")), None)
    for module in [GROUPS[word]] if word in GROUPS else GROUPS.values():
        try:
            import_module(module).register(sub)
        except ImportError as e:  # a program not installed in this build
            logging.getLogger("calypso").debug("%s unavailable: %s", module, e)

    q = sub.add_parser(
        "query",
        help="run a KQL query against a workspace",
        description="Run KQL through the workspace's query API (the one azure-monitor-query uses).",
    )
    q.add_argument("--url", default=os.environ.get("CALYPSO_URL"), help="workspace URL (env CALYPSO_URL)")
    q.add_argument("--workspace-id", default=os.environ.get("CALYPSO_WORKSPACE_ID"))
    q.add_argument(
        "--token", default=os.environ.get("CALYPSO_TOKEN"), help="reader token (env CALYPSO_TOKEN)"
    )
    q.add_argument("--ca", type=Path, default=os.environ.get("CALYPSO_CA"), help="CA certificate to trust")
    q.add_argument("--timespan", help="ISO 8601 duration or interval, e.g. PT1H")
    q.add_argument("--format", choices=("table", "json", "csv"), default="table")
    q.add_argument("kql", help="the query, e.g. 'Heartbeat | summarize count() by Computer'")
    q.set_defaults(func=cmd_query)

    k = sub.add_parser("kql", help="the KQL compiler").add_subparsers(
        dest="kql_command", required=True, metavar="COMMAND", parser_class=Parser
    )
    s = k.add_parser("sql", help="print the SQL a query compiles to")
    s.add_argument("--dialect", choices=("duckdb", "clickhouse"), default="duckdb")
    s.add_argument("kql")
    s.set_defaults(func=cmd_kql_sql)
    return parser


def cmd_query(args: argparse.Namespace) -> int:
    from calypso.query_client import render, run_query

    missing = [f"--{n.replace('_', '-')}" for n in ("url", "workspace_id", "token") if not getattr(args, n)]
    if missing:
        raise CalypsoError(
            f"missing {', '.join(missing)} (or the CALYPSO_URL / CALYPSO_WORKSPACE_ID / "
            "CALYPSO_TOKEN environment variables)"
        )
    payload = run_query(
        args.url,
        args.workspace_id,
        args.token,
        args.kql,
        ca=Path(args.ca) if args.ca else None,
        timespan=args.timespan,
    )
    print(render(payload, args.format))
    return 0


def cmd_kql_sql(args: argparse.Namespace) -> int:
    from calypso.kql import KqlError, compile_query
    from calypso.wire.schemas import standard_tables

    try:
        compiled = compile_query(args.kql, standard_tables(), dialect=args.dialect)
    except KqlError as e:
        raise CalypsoError(f"{e.code} at {e.line}:{e.column}: {e.message}") from None
    print(compiled.sql)
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser(argv).parse_args(argv)
    logfmt.setup(args.verbose)
    try:
        code: int = args.func(args)
        return code
    except CalypsoError as e:
        print(f"calypso: error: {e}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
    except Exception as e:  # never a stack trace for users, unless they ask
        if args.verbose:
            raise
        print(
            f"calypso: internal error: {type(e).__name__}: {e} (run with --verbose for details)",
            file=sys.stderr,
        )
        return 70


if __name__ == "__main__":
    sys.exit(main())
