"""The contract every source keeps.

A source reads something (a socket, a file, /proc) and hands records to the runtime through `emit`.
Records are plain dicts keyed by the destination table's column names (see `calypso.wire.schemas`);
the runtime fills `TimeGenerated` (if absent), `Computer` (if absent), `Type`, `SourceSystem` and
`TenantId`. A source that reads something persistent passes a `commit` callback with each emit: the
runtime calls it only after the records are safely in the disk buffer, so the checkpoint never gets
ahead of the data.

A kill between the write and the commit would read those records again. A source that must not
repeat them passes a `TwoPhaseCommit`: its `prepare` runs just before the write with a `Ticket`
naming the buffer entry that will hold the records, and saves the new checkpoint as pending on that
ticket; after a restart `SourceContext.written(ticket)` says whether the pending one took effect.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol

from calypso.wire.batch import Batch

Record = dict[str, Any]
# A source emits a list of records, or (its fast path) a columnar `Batch` of the same rows.
Records = list[Record] | Batch
Commit = Callable[[], None]
Ticket = list[int]  # opaque to sources; JSON-able, to be saved in a checkpoint file


@dataclass(frozen=True)
class TwoPhaseCommit:
    """A commit with a `prepare` step that runs (with the ticket) just before the buffer write."""

    prepare: Callable[[Ticket], None]
    done: Callable[[], None]

    def __call__(self) -> None:
        self.done()


def _never_written(ticket: Ticket) -> bool:
    return False


class Emit(Protocol):
    def __call__(self, table: str, records: Records, commit: Commit | None = None) -> Awaitable[None]: ...


@dataclass
class SourceContext:
    """What the runtime gives a source: where to keep state, the machine's name, counters."""

    state_dir: Path
    computer: str
    counters: dict[str, int] = field(default_factory=dict)
    # Whether the write a ticket named happened (the runtime asks its buffer; alone, a source
    # takes a pending checkpoint as not written: it reads again rather than skip).
    written: Callable[[Ticket], bool] = _never_written

    def count(self, name: str, n: int = 1) -> None:
        self.counters[name] = self.counters.get(name, 0) + n


class Source(Protocol):
    """A running source. `run` loops until cancelled; cancellation must leave state consistent."""

    name: str

    async def run(self, emit: Emit) -> None: ...

    def status(self) -> Mapping[str, Any]: ...


# A factory builds a source from its config section (already parsed TOML) and the context.
SourceFactory = Callable[[Mapping[str, Any], SourceContext], Source]


def iso(dt: datetime) -> str:
    """The wire form of a datetime column: ISO 8601 in UTC with a `Z` (naive datetimes are taken as UTC)."""
    if dt.tzinfo is not None:
        dt = dt.astimezone(UTC).replace(tzinfo=None)
    return dt.isoformat(timespec="microseconds") + "Z"
