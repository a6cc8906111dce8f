"""Public records, errors and policy tables of the disk buffer (no I/O).

Invariant: every policy name a user can give maps to exactly one entry of :data:`FSYNC_MODES`
(or of the overflow table in :class:`~calypso.agent.buffer.buffer.DiskBuffer`); an unknown name is
rejected with the list of valid ones.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal

FsyncPolicy = Literal["always", "interval", "never"]
OverflowPolicy = Literal["block", "drop_oldest"]


class BufferFull(Exception):
    """The buffer is at its size cap (``overflow="block"``) or the disk is full; retry later."""


class EntryTooLarge(ValueError):
    """An entry (or batch) that could never fit in the buffer, whatever is freed."""


class UnknownReader(KeyError):
    """A reader name that was never added (or was removed)."""


class BufferClosed(RuntimeError):
    """The buffer was closed."""


@dataclass(frozen=True, slots=True)
class Entry:
    seq: int
    payload: bytes


@dataclass(frozen=True)
class BufferStats:
    bytes: int
    segments: int
    entries: int
    pending: Mapping[str, int]  # entries not yet acked, per reader
    dropped_entries: int  # since open
    corrupt_segments: int  # since open
    appended_entries: int  # since open
    truncated_bytes: int = 0  # torn-tail bytes removed on open
    next_seq: int = 0
    max_bytes: int = 0


@dataclass(frozen=True)
class FsyncMode:
    durable: bool  # sync sealed segments, new segment files and state files
    each_append: bool  # fdatasync before append returns
    background: bool  # a thread syncs every fsync_interval


FSYNC_MODES: dict[str, FsyncMode] = {
    "always": FsyncMode(durable=True, each_append=True, background=False),
    "interval": FsyncMode(durable=True, each_append=False, background=True),
    "never": FsyncMode(durable=False, each_append=False, background=False),
}
