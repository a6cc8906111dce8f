"""Segment files of the buffer: create, scan on open, read ranges of entries, seal.

Invariant: a :class:`Segment`'s ``size`` is the byte length of its valid content (header plus
complete, checksummed entries, ``first``..``last``); readers never look past ``size``, and past
``corrupt_at`` when a corruption has been found. Only the one open (active) segment grows; it is
named ``<first>.seg`` and renamed ``<first>-<last>.seg`` when sealed, so the entry range of every
sealed segment is known from its name without reading it.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from calypso.agent.buffer.format import (
    ENTRY_HEADER_SIZE,
    SEGMENT_HEADER_SIZE,
    FormatError,
    pack_segment_header,
    parse_entries,
    parse_segment_header,
    segment_name,
    walk_headers,
)
from calypso.agent.buffer.state import fsync_dir

CHUNK = 1 << 20

# fdatasync where the OS has it (Linux), fsync elsewhere.
datasync = getattr(os, "fdatasync", os.fsync)


class Segment:
    """In-memory state of one segment file."""

    __slots__ = ("corrupt_at", "directory", "fd", "first", "last", "lost_from", "sealed", "size")

    def __init__(self, directory: Path, first: int, last: int, size: int, *, sealed: bool) -> None:
        self.directory = directory
        self.first = first
        self.last = last  # first - 1 when empty
        self.size = size
        self.sealed = sealed
        self.corrupt_at: int | None = None
        self.lost_from: int | None = None  # first seq made unreadable by the corruption
        self.fd: int | None = None  # open for append while active

    @property
    def path(self) -> Path:
        return self.directory / segment_name(self.first, self.last if self.sealed else None)

    @property
    def count(self) -> int:
        return max(0, self.last - self.first + 1)

    @property
    def live_last(self) -> int:
        """The last entry that can still be read (``last`` unless a corruption cut the segment short)."""
        return self.last if self.lost_from is None else min(self.last, self.lost_from - 1)

    @property
    def readable_end(self) -> int:
        return self.size if self.corrupt_at is None else min(self.size, self.corrupt_at)

    def __repr__(self) -> str:
        return f"Segment({self.first}..{self.last}, {self.size} bytes, sealed={self.sealed})"


def create(directory: Path, first: int, *, durable: bool) -> Segment:
    """A new, empty, active segment whose first entry will be ``first``."""
    seg = Segment(directory, first, first - 1, SEGMENT_HEADER_SIZE, sealed=False)
    fd = os.open(seg.path, os.O_RDWR | os.O_CREAT | os.O_TRUNC | os.O_APPEND, 0o600)
    try:
        write_all(fd, pack_segment_header(first))
        if durable:
            os.fsync(fd)
            fsync_dir(directory)
    except BaseException:
        os.close(fd)
        raise
    seg.fd = fd
    return seg


def write_all(fd: int, data: bytes | memoryview) -> None:
    view = memoryview(data)
    while view:
        n = os.write(fd, view)
        view = view[n:]


IOV_MAX = 1024  # pieces one writev() may take (Linux)


def write_pieces(fd: int, pieces: Sequence[bytes]) -> None:
    """Write the pieces in order as one run of bytes, without joining them into a copy first."""
    views = [memoryview(p) for p in pieces if p]
    i = 0
    while i < len(views):
        n = os.writev(fd, views[i : i + IOV_MAX])
        while i < len(views) and n >= len(views[i]):  # whole pieces written
            n -= len(views[i])
            i += 1
        if n:  # a piece written in part: the rest of it next
            views[i] = views[i][n:]


def seal(seg: Segment, *, durable: bool, hand_off: Callable[[int], None] | None = None) -> None:
    """Close an active segment and give it its sealed name (an empty one is deleted instead).

    With `hand_off`, its descriptor goes there (to be synced and closed in the background) instead
    of being synced (when `durable`) and closed here.
    """
    if seg.fd is not None:
        if hand_off is not None:
            hand_off(seg.fd)
        else:
            if durable:
                datasync(seg.fd)
            os.close(seg.fd)
        seg.fd = None
    old = seg.path
    if seg.count == 0:
        with contextlib.suppress(FileNotFoundError):
            old.unlink()
        seg.sealed = True
        return
    seg.sealed = True
    os.replace(old, seg.path)


def open_active(seg: Segment) -> None:
    """Reopen an existing (recovered) segment for appending."""
    seg.fd = os.open(seg.path, os.O_RDWR | os.O_APPEND)


def remove(seg: Segment) -> None:
    if seg.fd is not None:
        os.close(seg.fd)
        seg.fd = None
    with contextlib.suppress(FileNotFoundError):
        seg.path.unlink()


@dataclass(frozen=True)
class ReadResult:
    entries: list[tuple[int, bytes]]
    offset: int  # where the next entry starts
    error: str | None = None  # set when the bytes at ``offset`` are not a valid entry


def read_range(
    fd: int,
    offset: int,
    end: int,
    expected_seq: int,
    *,
    max_entries: int,
    max_bytes: int,
    first_may_exceed: bool = True,
) -> ReadResult:
    """Read and verify entries from ``offset`` up to ``end`` (the segment's valid size)."""
    entries: list[tuple[int, bytes]] = []
    total = 0
    need = 0
    seq = expected_seq
    while offset < end and len(entries) < max_entries:
        left = max_entries - len(entries)
        want = min(end - offset, max(need, min(max_bytes - total + ENTRY_HEADER_SIZE * left, CHUNK), 4096))
        buf = os.pread(fd, want, offset)
        if not buf:
            return ReadResult(entries, offset, error="segment file is shorter than expected")
        parsed = parse_entries(
            buf,
            seq,
            max_entries=left,
            max_bytes=max_bytes - total,
            end_is_eof=offset + len(buf) >= end,
            first_may_exceed=first_may_exceed and not entries,
        )
        for s, payload in parsed.entries:
            entries.append((s, payload))
            total += len(payload)
        seq += len(parsed.entries)
        offset += parsed.consumed
        if parsed.error is not None:
            return ReadResult(entries, offset, error=parsed.error)
        if parsed.need:
            need = parsed.need
            continue
        need = 0
        if parsed.consumed < len(buf):
            break  # a limit was reached
    return ReadResult(entries, offset)


def find_offset(seg: Segment, target_seq: int) -> tuple[int, bool]:
    """Byte offset where entry ``target_seq`` starts (``size`` if it is the next to append).

    Walks entry headers from the start of the segment. Returns ``(offset, True)`` on success, or
    ``(offset, False)`` with the offset where the headers stopped making sense.
    """
    if target_seq <= seg.first:
        return SEGMENT_HEADER_SIZE, True
    fd = seg.fd if seg.fd is not None else os.open(seg.path, os.O_RDONLY)
    try:
        offset, seq = SEGMENT_HEADER_SIZE, seg.first
        end = seg.readable_end
        while seq < target_seq and offset < end:
            buf = os.pread(fd, min(CHUNK, end - offset), offset)
            if not buf:
                return offset, False
            consumed, seq, ok = walk_headers(buf, seq, target_seq)
            if not ok or consumed == 0:
                return offset + consumed, False
            offset += consumed
        if seq == target_seq and offset <= end:
            return offset, True
        return min(offset, end), False
    finally:
        if fd != seg.fd:
            os.close(fd)


def header_seq_at(seg: Segment, offset: int) -> int | None:
    """Sequence number of the entry header at ``offset``, or None if there is none."""
    if offset < SEGMENT_HEADER_SIZE or offset + ENTRY_HEADER_SIZE > seg.readable_end:
        return None
    fd = seg.fd if seg.fd is not None else os.open(seg.path, os.O_RDONLY)
    try:
        buf = os.pread(fd, ENTRY_HEADER_SIZE, offset)
    finally:
        if fd != seg.fd:
            os.close(fd)
    if len(buf) < ENTRY_HEADER_SIZE:
        return None
    return int.from_bytes(buf[4:12], "little")


@dataclass(frozen=True)
class Scan:
    """What a full scan of a segment file found."""

    first: int
    last: int
    valid_end: int  # bytes of header + valid entries
    file_size: int
    error: str | None  # why the valid content stops before the end of the file


def scan(path: Path, first_from_name: int) -> Scan:
    """Verify every entry of a segment file (header, lengths, sequence numbers, checksums)."""
    fd = os.open(path, os.O_RDONLY)
    try:
        file_size = os.fstat(fd).st_size
        header = os.pread(fd, SEGMENT_HEADER_SIZE, 0)
        try:
            first = parse_segment_header(header)
        except FormatError as exc:
            return Scan(first_from_name, first_from_name - 1, 0, file_size, f"bad segment header: {exc}")
        if first != first_from_name:
            return Scan(first_from_name, first_from_name - 1, 0, file_size, "header and file name disagree")
        offset, seq = SEGMENT_HEADER_SIZE, first
        while offset < file_size:
            res = read_range(fd, offset, file_size, seq, max_entries=1 << 30, max_bytes=4 << 20)
            seq += len(res.entries)
            offset = res.offset
            if res.error is not None:
                return Scan(first, seq - 1, offset, file_size, res.error)
            if not res.entries:
                break
        return Scan(first, seq - 1, offset, file_size, None)
    finally:
        os.close(fd)


def truncate(path: Path, size: int, *, durable: bool) -> None:
    fd = os.open(path, os.O_RDWR)
    try:
        os.ftruncate(fd, size)
        if durable:
            os.fsync(fd)
    finally:
        os.close(fd)
