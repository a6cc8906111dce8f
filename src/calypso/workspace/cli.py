"""The `workspace` command group: init, serve, add, keys rotate, token, rules set, dcr set, list.

Invariant: every command prints JSON (or nothing) on stdout and a one-line error on stderr with exit
code 2 for bad input; no stack traces.
"""

from __future__ import annotations

import argparse
import json
import socket
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import orjson

from calypso.workspace import layout, rules, tls
from calypso.workspace.limits import Limits

DEFAULT_LISTEN = "127.0.0.1:8443"


def _print(obj: Any) -> None:
    sys.stdout.write(json.dumps(obj, indent=2) + "\n")


def _fail(message: str) -> int:
    sys.stderr.write(f"error: {message}\n")
    return 2


def _describe(data_dir: Path, ws: layout.WorkspaceSecrets, ca: Path) -> dict[str, Any]:
    return {
        "workspace_id": ws.workspace_id,
        "primary_key": ws.primary_key,
        "secondary_key": ws.secondary_key,
        "query_token": ws.token_for("reader"),
        "ingest_token": ws.token_for("ingest"),
        "admin_token": ws.token_for("admin"),
        "ca_cert": str(ca),
        "url": f"https://{DEFAULT_LISTEN}",
        "data": str(data_dir.resolve()),
    }


def _open_store_for_setup(data_dir: Path, ws: layout.WorkspaceSecrets) -> None:
    from calypso.workspace.store.duckdb import DuckDBStore

    DuckDBStore(layout.store_path(data_dir, ws.workspace_id), ws.workspace_id).close()


def cmd_init(args: argparse.Namespace) -> int:
    data_dir = Path(args.data)
    existing = layout.list_workspaces(data_dir)
    if existing and not args.force:
        ca = tls.ensure_certificates(data_dir)
        _print(_describe(data_dir, existing[0], ca))
        return 0
    data_dir.mkdir(parents=True, exist_ok=True)
    ca = tls.ensure_certificates(data_dir, tuple(args.san or ()))
    ws = layout.create_workspace(data_dir, args.workspace_id)
    _open_store_for_setup(data_dir, ws)
    _print(_describe(data_dir, ws, ca))
    return 0


def cmd_add(args: argparse.Namespace) -> int:
    data_dir = Path(args.data)
    if not layout.workspaces_dir(data_dir).is_dir():
        return _fail(f"{data_dir} is not a workspace data directory; run `calypso workspace init` first")
    ca = tls.ensure_certificates(data_dir)
    ws = layout.create_workspace(data_dir, args.workspace_id)
    _open_store_for_setup(data_dir, ws)
    _print(_describe(data_dir, ws, ca))
    return 0


def cmd_list(args: argparse.Namespace) -> int:
    _print([{"workspace_id": ws.workspace_id} for ws in layout.list_workspaces(Path(args.data))])
    return 0


def _workspace_id(args: argparse.Namespace) -> str:
    if args.workspace:
        return str(args.workspace)
    found = layout.list_workspaces(Path(args.data))
    if len(found) != 1:
        raise ValueError("the data directory holds several workspaces (or none); pass --workspace ID")
    return found[0].workspace_id


def cmd_serve(args: argparse.Namespace) -> int:
    from calypso.workspace.server import serve

    limits = Limits(
        max_result_rows=args.max_result_rows,
        retention_interval_seconds=args.retention_interval,
        externaldata_allow=tuple(args.externaldata_allow or ()),
        externaldata_ca=args.externaldata_ca,
    )
    return serve(Path(args.data), args.listen, limits)


def cmd_rotate(args: argparse.Namespace) -> int:
    ws = layout.rotate_key(Path(args.data), _workspace_id(args), args.key)
    _print({"workspace_id": ws.workspace_id, f"{args.key}_key": getattr(ws, f"{args.key}_key")})
    return 0


def cmd_token(args: argparse.Namespace) -> int:
    _ws, token = layout.add_token(Path(args.data), _workspace_id(args), args.role)
    _print({"token": token.token, "role": token.role})
    return 0


def cmd_rules_set(args: argparse.Namespace) -> int:
    data_dir = Path(args.data)
    ws_id = _workspace_id(args)
    etag = rules.AgentRules(layout.rules_path(data_dir, ws_id)).set(rules.load_rules_file(Path(args.file)))
    _print({"workspace_id": ws_id, "etag": etag})
    return 0


def cmd_dcr_set(args: argparse.Namespace) -> int:
    data_dir = Path(args.data)
    ws_id = _workspace_id(args)
    spec = orjson.loads(Path(args.file).read_bytes())
    rules.DataCollectionRules(layout.dcr_path(data_dir, ws_id)).put(args.rule_id, spec)
    _print({"workspace_id": ws_id, "rule_id": args.rule_id})
    return 0


def _guarded(fn: Callable[[argparse.Namespace], int]) -> Callable[[argparse.Namespace], int]:
    def run(args: argparse.Namespace) -> int:
        try:
            return fn(args)
        except (OSError, ValueError, KeyError) as e:  # bad paths, bad files, unknown workspace
            return _fail(str(e) if not isinstance(e, KeyError) else f"not found: {e}")

    return run


def register(subparsers: argparse._SubParsersAction) -> None:
    ws = subparsers.add_parser("workspace", help="run and administer a workspace server")
    sub = ws.add_subparsers(dest="workspace_command", required=True)

    def command(
        name: str, fn: Callable[[argparse.Namespace], int], help_text: str
    ) -> argparse.ArgumentParser:
        p: argparse.ArgumentParser = sub.add_parser(name, help=help_text)
        p.add_argument("--data", required=True, help="the server's data directory")
        p.set_defaults(func=_guarded(fn))
        return p

    p = command("init", cmd_init, "create the data directory, CA, certificate and a first workspace")
    p.add_argument("--workspace-id", help="use this GUID instead of a random one")
    p.add_argument("--san", action="append", help="extra host name or IP for the server certificate")
    p.add_argument("--force", action="store_true", help="add another workspace even if one exists")
    p = command("add", cmd_add, "add another workspace to the same server")
    p.add_argument("--workspace-id", help="use this GUID instead of a random one")
    command("list", cmd_list, "list workspaces")
    p = command("serve", cmd_serve, "serve the HTTPS APIs")
    p.add_argument("--listen", default=DEFAULT_LISTEN, help=f"HOST:PORT (default {DEFAULT_LISTEN})")
    p.add_argument(
        "--max-result-rows",
        type=int,
        default=Limits().max_result_rows,
        help="rows a query may return before the answer is cut with a PartialError",
    )
    p.add_argument(
        "--retention-interval",
        type=float,
        default=Limits().retention_interval_seconds,
        help="seconds between retention rounds",
    )
    p.add_argument(
        "--externaldata-allow",
        action="append",
        metavar="PREFIX",
        help="a URL prefix KQL's externaldata may read from, e.g. https://feeds.example.com/ "
        "(repeatable; by default queries cannot make the server fetch anything)",
    )
    p.add_argument("--externaldata-ca", metavar="FILE", help="CA certificates to trust for those URLs")
    p = command("rotate-key", cmd_rotate, "replace the primary or secondary shared key")
    p.add_argument("--workspace")
    p.add_argument("--key", choices=("primary", "secondary"), required=True)
    p = command("token", cmd_token, "issue a bearer token with a role")
    p.add_argument("--workspace")
    p.add_argument("--role", choices=layout.ROLES, required=True)
    p = command("rules", cmd_rules_set, "set the agents' collection rules from a TOML or JSON file")
    p.add_argument("--workspace")
    p.add_argument("file")
    p = command("dcr", cmd_dcr_set, "create or replace a data collection rule (Logs Ingestion API)")
    p.add_argument("--workspace")
    p.add_argument("--rule-id", required=True)
    p.add_argument(
        "file", help='JSON: {"streams": {"Custom-X": {"table": "X_CL", "transformKql": "source | ..."}}}'
    )


def hostname() -> str:
    return socket.gethostname()
