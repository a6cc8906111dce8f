"""A source's next checkpoint, saved just before its records enter the buffer (see `TwoPhaseCommit`).

For sources whose checkpoint is a small JSON value (a journald cursor, record ids per file or
channel). The commit's `prepare` calls `save(ticket, value)`; at start the source calls `resolve()`:
the value when the buffer vouches for the ticket (the kill came after the write, before the
checkpoint was saved), else None (the write never happened: read again). The source saves its own
checkpoint with the value, then `clear()`s, so a resolution is never asked twice.
"""

from __future__ import annotations

import contextlib
import json
import os
from pathlib import Path
from typing import Any

from calypso.agent.sources.base import Record, SourceContext, Ticket


def table_runs(rows: list[tuple[int, str, Record]]) -> list[tuple[str, list[Record], int]]:
    """Rows in record order (id, table, record) as runs of one table: (table, records, highest id).

    Each run is emitted with its own commit at its last id, so a kill between two emits of a mixed
    batch re-reads only what was not yet buffered (one emit per table with a single commit at the
    end re-read, and so duplicated, the tables emitted before the kill)."""
    runs: list[tuple[str, list[Record], int]] = []
    upto = 0  # the highest id so far: a run's checkpoint covers every row before it
    for rid, table, record in rows:
        upto = max(upto, rid)
        if runs and runs[-1][0] == table:
            runs[-1][1].append(record)
            runs[-1] = (table, runs[-1][1], upto)
        else:
            runs.append((table, [record], upto))
    return runs


class PendingCheckpoint:
    def __init__(self, checkpoint: Path, ctx: SourceContext) -> None:
        self.path = checkpoint.with_name(checkpoint.name + ".pending")
        self.ctx = ctx

    def save(self, ticket: Ticket, value: Any) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_name(self.path.name + ".tmp")
        tmp.write_text(json.dumps({"ticket": ticket, "value": value}), "utf-8")
        os.replace(tmp, self.path)

    def resolve(self) -> Any | None:
        try:
            raw = json.loads(self.path.read_text("utf-8"))
            return raw["value"] if self.ctx.written(list(raw["ticket"])) else None
        except FileNotFoundError:
            return None
        except (OSError, ValueError, KeyError, TypeError):  # damaged: read again rather than skip
            self.ctx.count("pending_checkpoint_corrupt")
            return None

    def clear(self) -> None:
        with contextlib.suppress(FileNotFoundError):
            self.path.unlink()
