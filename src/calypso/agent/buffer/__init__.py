"""The agent's disk buffer between sources and sinks: append-only, checksummed, size-capped.

See :mod:`calypso.agent.buffer.format` for the on-disk format,
:mod:`calypso.agent.buffer.buffer` for the guarantees (durability per fsync policy, overflow,
recovery after kill -9) and :mod:`calypso.agent.buffer.readers` for the per-reader cursors.
"""

from __future__ import annotations

from calypso.agent.buffer.buffer import DiskBuffer
from calypso.agent.buffer.records import (
    FSYNC_MODES,
    BufferClosed,
    BufferFull,
    BufferStats,
    Entry,
    EntryTooLarge,
    FsyncPolicy,
    OverflowPolicy,
    UnknownReader,
)
from calypso.agent.buffer.state import BufferLocked

__all__ = [
    "FSYNC_MODES",
    "BufferClosed",
    "BufferFull",
    "BufferLocked",
    "BufferStats",
    "DiskBuffer",
    "Entry",
    "EntryTooLarge",
    "FsyncPolicy",
    "OverflowPolicy",
    "UnknownReader",
]
