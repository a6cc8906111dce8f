"""Background jobs of the server: picking up changed secrets files, and retention.

Invariant: jobs never block the event loop (store work runs in threads) and a failing round is logged
and retried at the next interval, never fatal.
"""

from __future__ import annotations

import asyncio

from calypso.workspace import events
from calypso.workspace.state import ServerState

RELOAD_INTERVAL_SECONDS = 2.0


async def reload_loop(state: ServerState) -> None:
    while True:
        await asyncio.sleep(RELOAD_INTERVAL_SECONDS)
        try:
            changed = await asyncio.to_thread(state.reload)
        except (OSError, ValueError, KeyError) as e:
            events.warning("Reload failed.", error=e)
            continue
        for ws_id in changed:
            events.info("Workspace secrets loaded.", workspace=ws_id)


def run_retention(state: ServerState) -> None:
    for ws in list(state.workspaces.values()):
        deleted = ws.store.enforce_retention(ws.secrets.retention_days, ws.secrets.table_retention)
        for table, rows in deleted.items():
            events.info("Expired rows deleted.", workspace=ws.id, table=table, rows=rows)


async def retention_loop(state: ServerState) -> None:
    while True:
        try:
            await asyncio.to_thread(run_retention, state)
        except Exception as e:  # a bad round must not stop future rounds
            events.warning("Retention round failed.", error=repr(e)[:200])
        await asyncio.sleep(state.limits.retention_interval_seconds)
