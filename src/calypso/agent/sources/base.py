"""The contract every source keeps.

A source reads something (a socket, a file, /proc) and hands records to the runtime through `emit`.
Records are plain dicts keyed by the destination table's column names (see `calypso.wire.schemas`);
the runtime fills `TimeGenerated` (if absent), `Computer` (if absent), `Type`, `SourceSystem` and
`TenantId`. A source that reads something persistent passes a `commit` callback with each emit: the
runtime calls it only after the records are safely in the disk buffer, so the checkpoint never gets
ahead of the data.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol

Record = dict[str, Any]
Commit = Callable[[], None]


class Emit(Protocol):
    def __call__(
        self, table: str, records: list[Record], commit: Commit | None = None
    ) -> Awaitable[None]: ...


@dataclass
class SourceContext:
    """What the runtime gives a source: where to keep state, the machine's name, counters."""

    state_dir: Path
    computer: str
    counters: dict[str, int] = field(default_factory=dict)

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
