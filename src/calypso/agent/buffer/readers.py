"""The disk buffer's named readers: a read position and a persisted acknowledgement each.

Invariants this module keeps:

- Each named reader has a persisted ``acked`` sequence number (written at each ``ack``; synced at
  once with ``"always"``, else at close) and an in-memory read position;
  ``read`` never returns an entry twice unless ``rewind`` is called, and never returns a torn or
  corrupt entry. A segment is deleted only when every reader acked all its entries (or, with
  ``overflow="drop_oldest"``, when it is dropped to make room — counted in ``dropped_entries``).
- A corrupt segment found while reading is logged, counted once in ``corrupt_segments`` and skipped
  from the corruption onwards.
- ``read`` reads the file and verifies its checksums outside the lock, on a descriptor of its own;
  a position only moves under the lock.

:class:`ReaderCursors` is the reader half of :class:`~calypso.agent.buffer.buffer.DiskBuffer`, which
inherits it: both halves share the buffer's state and its one re-entrant lock.
"""

from __future__ import annotations

import logging
import os
import threading
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path

from calypso.agent.buffer import segment as segfile
from calypso.agent.buffer.format import SEGMENT_HEADER_SIZE
from calypso.agent.buffer.records import Entry, FsyncMode, UnknownReader
from calypso.agent.buffer.segment import Segment
from calypso.agent.buffer.state import Cursor, save_readers

log = logging.getLogger(__name__)


@dataclass
class ReaderState:
    """One named reader in memory: what it acknowledged and where it reads next."""

    acked: int
    ack_pos: tuple[int, int, int]  # (segment first, offset, seq at offset) of entry acked + 1
    pos: tuple[int, int, int]  # read position, same shape
    marks: deque[tuple[int, int, int, int]] = field(default_factory=deque)  # (last seq read, *pos after)


class ReaderCursors:
    """Named reader cursors over the segments of a :class:`DiskBuffer` (its reader half)."""

    # The buffer's state, set up by DiskBuffer and only read or changed under _lock.
    _lock: threading.RLock
    _dir: Path
    _mode: FsyncMode
    _segments: list[Segment]
    _by_first: dict[int, Segment]
    _readers: dict[str, ReaderState]
    _next_seq: int
    _corrupt: int

    # Provided by DiskBuffer.
    def _check_open(self) -> None:
        raise NotImplementedError

    def _roll(self) -> None:
        raise NotImplementedError

    def _pop_first(self) -> Segment:
        raise NotImplementedError

    def _hinted(self, cur: Cursor) -> tuple[int, int, int] | None:
        """The persisted position hint of a cursor, if it still points at entry ``acked + 1``."""
        seg = self._by_first.get(cur.segment)
        if seg is None or not SEGMENT_HEADER_SIZE <= cur.offset <= seg.readable_end:
            return None
        if cur.offset == seg.size:
            return (seg.first, cur.offset, cur.acked + 1) if seg.last == cur.acked else None
        if segfile.header_seq_at(seg, cur.offset) == cur.acked + 1:
            return seg.first, cur.offset, cur.acked + 1
        return None

    def add_reader(self, name: str) -> None:
        if not isinstance(name, str) or not name:
            raise ValueError("reader name must be a non-empty string")
        with self._lock:
            self._check_open()
            if name in self._readers:
                return
            first = self._segments[0]
            start = (first.first, SEGMENT_HEADER_SIZE, first.first)
            self._readers[name] = ReaderState(first.first - 1, start, start)
            self._save_readers()

    def remove_reader(self, name: str) -> None:
        with self._lock:
            self._check_open()
            if self._readers.pop(name, None) is not None:
                self._save_readers()
                self._free()

    def readers(self) -> list[str]:
        with self._lock:
            return sorted(self._readers)

    def _reader(self, name: str) -> ReaderState:
        r = self._readers.get(name)
        if r is None:
            raise UnknownReader(f"no buffer reader named {name!r}; add_reader() it first")
        return r

    def read(self, reader: str, max_entries: int = 1000, max_bytes: int = 8 << 20) -> list[Entry]:
        """The next entries after the reader's read position (at least one if any, even a big one).

        The file is read and its checksums verified outside the lock (on a descriptor of its own),
        so appends are not held up; the position only moves, under the lock, if nothing else (a
        rewind, a dropped segment) moved it meanwhile.
        """
        if max_entries < 1 or max_bytes < 1:
            raise ValueError("max_entries and max_bytes must be positive")
        out: list[Entry] = []
        total = 0
        while len(out) < max_entries:
            with self._lock:
                self._check_open()
                r = self._reader(reader)
                step = self._next_range(r)
            if step is None:
                break
            seg, off, seq, end, fd = step
            try:
                if fd is None:
                    res = segfile.ReadResult([], off, error="segment file is missing")
                else:
                    res = segfile.read_range(
                        fd,
                        off,
                        end,
                        seq,
                        max_entries=max_entries - len(out),
                        max_bytes=max_bytes - total,
                        first_may_exceed=not out,
                    )
            finally:
                if fd is not None:
                    os.close(fd)
            with self._lock:
                self._check_open()
                if r.pos != (seg.first, off, seq) or self._by_first.get(seg.first) is not seg:
                    break  # moved meanwhile: what was read is stale; the next read starts afresh
                for s, payload in res.entries:
                    out.append(Entry(s, payload))
                    total += len(payload)
                seq += len(res.entries)
                r.pos = (seg.first, res.offset, seq)
                if res.entries:
                    r.marks.append((out[-1].seq, seg.first, res.offset, seq))
                if res.error is not None:
                    self._mark_corrupt(seg, res.offset, seq, res.error)
                    continue
                if not res.entries or res.offset < end:
                    break
        return out

    def _next_range(self, r: ReaderState) -> tuple[Segment, int, int, int, int | None] | None:
        """Where `r` reads next: (segment, offset, seq there, readable end, a descriptor of its own
        or None if the file is missing), moving `r.pos` past finished segments; None at the end."""
        first_seg, off, seq = r.pos
        while True:
            seg = self._by_first.get(first_seg)
            if seg is None:
                first_seg, off, seq = self._position_for(seq)
                continue
            if off >= seg.readable_end:
                idx = self._segments.index(seg)
                if idx + 1 >= len(self._segments):
                    r.pos = (first_seg, off, seq)
                    return None
                nxt = self._segments[idx + 1]
                first_seg, off, seq = nxt.first, SEGMENT_HEADER_SIZE, nxt.first
                continue
            r.pos = (first_seg, off, seq)
            try:
                fd: int | None = os.dup(seg.fd) if seg.fd is not None else os.open(seg.path, os.O_RDONLY)
            except FileNotFoundError:
                fd = None
            return seg, off, seq, seg.readable_end, fd

    def _mark_corrupt(self, seg: Segment, offset: int, seq: int, reason: str) -> None:
        """Entries of ``seg`` from ``offset`` (entry ``seq``) on are unreadable: skip them, count once."""
        if seg.corrupt_at is None:
            self._corrupt += 1
            log.error(
                "segment=%s offset=%d reason=%r Corrupt buffer segment, skipping the rest of it.",
                seg.path.name,
                offset,
                reason,
            )
        if seg.corrupt_at is None or offset < seg.corrupt_at:
            seg.corrupt_at, seg.lost_from = offset, seq
        if seg is self._segments[-1]:
            self._roll()  # new appends must not land behind the corruption

    def _position_for(self, target: int) -> tuple[int, int, int]:
        """Position (segment, offset, seq there) of the first retained entry with seq >= target."""
        for seg in self._segments:
            if seg.live_last >= target or seg is self._segments[-1]:
                if target <= seg.first:
                    return seg.first, SEGMENT_HEADER_SIZE, seg.first
                off, ok = segfile.find_offset(seg, target)
                if not ok:
                    self._mark_corrupt(seg, off, seg.first, f"cannot locate entry {target}")
                    return seg.first, seg.readable_end, target
                return seg.first, off, target
        raise AssertionError("the buffer always has an active segment")

    def rewind(self, reader: str) -> None:
        with self._lock:
            self._check_open()
            r = self._reader(reader)
            r.pos = r.ack_pos
            r.marks.clear()

    def ack(self, reader: str, seq: int) -> None:
        """Mark every entry <= ``seq`` delivered for ``reader`` (persisted) and free what all acked."""
        with self._lock:
            self._check_open()
            r = self._reader(reader)
            if seq <= r.acked:
                return
            if seq >= self._next_seq:
                raise ValueError(f"cannot ack entry {seq}: the newest entry is {self._next_seq - 1}")
            pos: tuple[int, int, int] | None = None
            while r.marks and r.marks[0][0] <= seq:
                last, *rest = r.marks.popleft()
                if last == seq and rest[0] in self._by_first:
                    pos = (rest[0], rest[1], rest[2])
            if pos is None:
                pos = self._position_for(seq + 1)
            r.acked = seq
            r.ack_pos = pos
            if r.pos[2] <= seq:
                r.pos = pos
            # Synced right away only with "always": a cursor lost to a power cut means redelivery,
            # which batch ids make harmless, and an fsync per request would pace delivery.
            self._save_readers(durable=self._mode.each_append)
            freed = self._take_acked()
        for seg in freed:  # deleting files can take a while: not while appends wait for the lock
            segfile.remove(seg)

    def _free(self) -> None:
        """Delete sealed segments that every reader acknowledged completely."""
        for seg in self._take_acked():
            segfile.remove(seg)

    def _take_acked(self) -> list[Segment]:
        """Drop sealed segments that every reader acknowledged completely; the caller deletes them."""
        if not self._readers:
            return []
        floor = min(r.acked for r in self._readers.values())
        taken = []
        while len(self._segments) > 1 and self._segments[0].live_last <= floor:
            taken.append(self._pop_first())
        return taken

    def _save_readers(self, durable: bool | None = None) -> None:
        cursors = {n: Cursor(r.acked, r.ack_pos[0], r.ack_pos[1]) for n, r in self._readers.items()}
        save_readers(self._dir, cursors, durable=self._mode.durable if durable is None else durable)
