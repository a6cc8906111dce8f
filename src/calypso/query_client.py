"""`calypso query`: runs KQL through a workspace's Azure-compatible query API and prints the result."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path
from typing import Any

import httpx

from calypso.wire.errors import CalypsoError


class QueryError(CalypsoError):
    pass


def run_query(
    url: str,
    workspace_id: str,
    token: str,
    query: str,
    *,
    ca: Path | None = None,
    timespan: str | None = None,
    timeout: float = 120.0,
) -> dict[str, Any]:
    from calypso.agent.transport import tls_context

    body: dict[str, Any] = {"query": query}
    if timespan:
        body["timespan"] = timespan
    try:
        with httpx.Client(verify=tls_context(ca), timeout=timeout, trust_env=False) as client:
            resp = client.post(
                f"{url.rstrip('/')}/v1/workspaces/{workspace_id}/query",
                json=body,
                headers={"authorization": f"Bearer {token}"},
            )
    except httpx.TransportError as e:
        raise QueryError(f"cannot reach the workspace at {url}: {e}") from None
    try:
        payload: dict[str, Any] = resp.json()
    except ValueError:
        raise QueryError(f"workspace answered HTTP {resp.status_code} without JSON") from None
    if resp.status_code != 200:
        err = payload.get("error", {}) if isinstance(payload, dict) else {}
        # Azure nests the precise cause in innererror(s); show the deepest one, with its position.
        inner = err
        while isinstance(inner.get("innererror"), dict):
            inner = inner["innererror"]
        where = f" at line {inner['line']}, column {inner.get('column', '?')}" if inner.get("line") else ""
        raise QueryError(
            f"{inner.get('code', resp.status_code)}{where}: {inner.get('message', resp.text[:300])}"
        )
    return payload


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, dict | list):
        return json.dumps(value, separators=(",", ":"))
    return str(value)


def render(payload: dict[str, Any], fmt: str) -> str:
    tables = payload.get("tables") or []
    table = tables[0] if tables else {"columns": [], "rows": []}
    names = [c["name"] for c in table["columns"]]
    rows = table["rows"]
    if fmt == "json":
        return json.dumps([dict(zip(names, r, strict=False)) for r in rows], indent=2, default=str)
    if fmt == "csv":
        out = io.StringIO()
        w = csv.writer(out)
        w.writerow(names)
        w.writerows([[_cell(v) for v in r] for r in rows])
        return out.getvalue().rstrip("\n")
    cells = [[_cell(v) for v in r] for r in rows]
    widths = [max([len(n)] + [min(len(r[i]), 60) for r in cells]) for i, n in enumerate(names)]
    lines = [
        "  ".join(n.ljust(w) for n, w in zip(names, widths, strict=True)),
        "  ".join("-" * w for w in widths),
    ]
    lines += ["  ".join(v[:60].ljust(w) for v, w in zip(r, widths, strict=True)) for r in cells]
    lines.append(f"({len(rows)} row{'s' if len(rows) != 1 else ''})")
    return "\n".join(lines)
