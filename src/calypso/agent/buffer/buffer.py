"""The agent's disk buffer: append-only checksummed segments between sources and sinks.

Invariants this module keeps (the on-disk format is in :mod:`calypso.agent.buffer.format`):

- ``append``/``append_many`` return only after the entries are written to the active segment (and
  fdatasync'ed when ``fsync="always"``); ``"interval"`` syncs from a background thread at most
  ``fsync_interval`` seconds later; ``"never"`` leaves it to the OS. A sealed segment is synced
  before the next one starts with ``"always"``, and right after, by that background thread, with
  ``"interval"`` (so the appending thread never waits for the disk there).
- Sequence numbers only grow, across restarts too: after an unclean stop the buffer continues from
  a persisted reservation, so a number a reader may have seen is never reused for other data.
- On open, the last segment's torn tail is truncated (see :mod:`calypso.agent.buffer.recovery`).
- Total file bytes never exceed ``max_bytes`` because of an append: ``"block"`` raises
  :class:`BufferFull` (see :meth:`DiskBuffer.wait_for_space`), ``"drop_oldest"`` drops whole oldest
  segments first.

The named readers (cursors, ``read``, ``ack``, which segments may be deleted) are the buffer's reader
half, :class:`~calypso.agent.buffer.readers.ReaderCursors`, which :class:`DiskBuffer` inherits; their
invariants are stated in :mod:`calypso.agent.buffer.readers`.

All public methods are thread-safe (one re-entrant lock); subscriber callbacks run after the lock
is released, on the appending thread.
"""

from __future__ import annotations

import contextlib
import errno
import logging
import os
import threading
from collections.abc import Callable, Sequence
from pathlib import Path

from calypso.agent.buffer import segment as segfile
from calypso.agent.buffer.format import (
    ENTRY_HEADER_SIZE,
    MAX_PAYLOAD,
    SEGMENT_HEADER_SIZE,
    entry_header,
)
from calypso.agent.buffer.readers import ReaderCursors, ReaderState
from calypso.agent.buffer.records import (
    FSYNC_MODES,
    BufferClosed,
    BufferFull,
    BufferStats,
    EntryTooLarge,
    FsyncPolicy,
    OverflowPolicy,
)
from calypso.agent.buffer.recovery import Recovered, recover
from calypso.agent.buffer.segment import Segment
from calypso.agent.buffer.state import Meta, lock_directory, save_meta
from calypso.agent.buffer.syncer import IntervalSyncer

log = logging.getLogger(__name__)

SEQ_RESERVE_STEP = 1 << 20


class DiskBuffer(ReaderCursors):
    """Append-only, checksummed, size-capped disk buffer with named reader cursors."""

    def __init__(
        self,
        directory: Path,
        *,
        max_bytes: int = 1 << 30,
        segment_bytes: int = 16 << 20,
        fsync: FsyncPolicy = "interval",
        fsync_interval: float = 1.0,
        overflow: OverflowPolicy = "block",
    ) -> None:
        if fsync not in FSYNC_MODES:
            raise ValueError(f"fsync must be one of {sorted(FSYNC_MODES)}, got {fsync!r}")
        overflow_handlers: dict[str, Callable[[list[int]], None]] = {
            "block": self._refuse,
            "drop_oldest": self._drop_for,
        }
        if overflow not in overflow_handlers:
            raise ValueError(f"overflow must be one of {sorted(overflow_handlers)}, got {overflow!r}")
        if segment_bytes < SEGMENT_HEADER_SIZE + ENTRY_HEADER_SIZE:
            raise ValueError(f"segment_bytes must be at least {SEGMENT_HEADER_SIZE + ENTRY_HEADER_SIZE}")
        if max_bytes < 2 * (SEGMENT_HEADER_SIZE + ENTRY_HEADER_SIZE):
            raise ValueError(f"max_bytes must be at least {2 * (SEGMENT_HEADER_SIZE + ENTRY_HEADER_SIZE)}")
        if not fsync_interval > 0:
            raise ValueError("fsync_interval must be a positive number of seconds")
        self._dir = Path(directory)
        self._max_bytes = max_bytes
        self._segment_bytes = segment_bytes
        self._mode = FSYNC_MODES[fsync]
        self._on_overflow = overflow_handlers[overflow]
        self._lock = threading.RLock()
        self._space = threading.Condition(self._lock)
        self._callbacks: list[Callable[[], None]] = []
        self._closed = False
        self._dropped = 0
        self._appended = 0
        self._dir.mkdir(parents=True, exist_ok=True)
        self._lock_fd = lock_directory(self._dir)
        rec: Recovered | None = None
        try:
            rec = recover(self._dir, segment_bytes=segment_bytes, durable=self._mode.durable)
            with self._lock:
                self._adopt(rec)
        except BaseException:
            for seg in rec.segments if rec is not None else []:
                if seg.fd is not None:
                    os.close(seg.fd)
            os.close(self._lock_fd)
            raise
        self._syncer: IntervalSyncer | None = None
        if self._mode.background:
            self._syncer = IntervalSyncer(
                self._lock, fsync_interval, lambda: self._segments[-1].fd, self._dir
            )

    # ----------------------------------------------------------------- open

    def _adopt(self, rec: Recovered) -> None:
        self._segments: list[Segment] = rec.segments
        self._by_first = {s.first: s for s in self._segments}
        self._next_seq = rec.next_seq
        self._corrupt = rec.corrupt_segments
        self._truncated = rec.truncated_bytes
        self._total = sum(s.size for s in self._segments)
        self._readers: dict[str, ReaderState] = {}
        oldest = self._segments[0].first
        for name, cur in rec.cursors.items():
            acked = max(cur.acked, oldest - 1)
            pos = self._hinted(cur) if acked == cur.acked else None
            if pos is None:
                pos = self._position_for(acked + 1)
            self._readers[name] = ReaderState(acked, pos, pos)
        self._opened_at = self._next_seq
        self._runs = rec.runs
        self._reserved = self._next_seq + SEQ_RESERVE_STEP
        self._save_meta(clean=False)
        self._free()
        self._save_readers()

    def _save_meta(self, *, clean: bool) -> None:
        meta = Meta(self._reserved, clean, self._opened_at, self._runs)
        save_meta(self._dir, meta, durable=self._mode.durable)

    @property
    def epoch(self) -> int:
        """The first sequence number of this run: with a seq, it names an entry across restarts."""
        return self._opened_at

    def holds(self, epoch: int, seq: int) -> bool:
        """Whether entry ``seq`` of the run ``epoch`` was written (False when too old to tell).

        A source saves a pending checkpoint tagged with the entry that will hold its records just
        before the write (see ``append_many``'s ``before_write``); after a kill it asks here whether
        that write happened. Within a run numbers are contiguous from its epoch, so an earlier run
        wrote exactly ``epoch..written_through``. Runs older than the last ``KEPT_RUNS`` are not
        known, and False (read again: a possible duplicate, never a loss) is the safe answer.
        """
        with self._lock:
            if epoch == self._opened_at:
                return seq < self._next_seq
            return any(e == epoch and e <= seq <= w for e, w in self._runs)

    # ----------------------------------------------------------------- append

    def subscribe(self, callback: Callable[[], None]) -> None:
        with self._lock:
            self._callbacks.append(callback)

    def append(self, payload: bytes) -> int:
        return self.append_many([payload])[0]

    def append_many(
        self, payloads: Sequence[bytes], before_write: Callable[[int], None] | None = None
    ) -> list[int]:
        """Append entries; one write per segment touched and at most one fdatasync per segment.

        ``before_write`` is called, under the lock and just before the write, with the sequence
        number the last entry will get (see ``holds``).
        """
        if not payloads:
            return []
        for p in payloads:
            if not isinstance(p, bytes | bytearray):
                raise TypeError(f"buffer entries must be bytes, got {type(p).__name__}")
            if len(p) > MAX_PAYLOAD:
                raise EntryTooLarge(f"entry of {len(p)} bytes exceeds the format limit of {MAX_PAYLOAD}")
        sizes = [ENTRY_HEADER_SIZE + len(p) for p in payloads]
        with self._lock:
            self._check_open()
            if self._growth(sizes, fresh=True) + SEGMENT_HEADER_SIZE > self._max_bytes:
                raise EntryTooLarge(
                    f"{len(payloads)} entries of {sum(sizes)} bytes can never fit in max_bytes={self._max_bytes}"
                )
            if self._total + self._growth(sizes) > self._max_bytes:
                self._on_overflow(sizes)
            if before_write is not None:
                before_write(self._next_seq + len(payloads) - 1)
            seqs = self._write(payloads)
            callbacks = list(self._callbacks)
        for cb in callbacks:
            try:
                cb()
            except Exception as exc:
                log.warning("callback=%r error=%r Buffer subscriber failed.", cb, exc)
        return seqs

    def _growth(self, sizes: list[int], *, fresh: bool = False) -> int:
        """Bytes the files grow by when entries of ``sizes`` are appended (including new headers)."""
        active = self._segments[-1]
        cur, cnt = (SEGMENT_HEADER_SIZE, 0) if fresh else (active.size, active.count)
        extra = 0
        for size in sizes:
            if cnt and cur + size > self._segment_bytes:
                extra += SEGMENT_HEADER_SIZE
                cur, cnt = SEGMENT_HEADER_SIZE, 0
            cur += size
            cnt += 1
            extra += size
        return extra

    def _refuse(self, sizes: list[int]) -> None:
        raise BufferFull(
            f"buffer is full: {self._total} of {self._max_bytes} bytes used, "
            f"{self._growth(sizes)} more needed; waiting for readers to acknowledge"
        )

    def _drop_for(self, sizes: list[int]) -> None:
        dropped = False
        while self._total + self._growth(sizes) > self._max_bytes:
            if len(self._segments) > 1:
                self._drop_oldest()
                dropped = True
            elif self._segments[-1].count:
                self._roll()
            else:
                raise BufferFull(f"cannot make room for {sum(sizes)} bytes")
        if dropped:
            self._save_readers()

    def _drop_oldest(self) -> None:
        seg = self._segments[0]
        nxt = self._segments[1]
        floor = min((r.acked for r in self._readers.values()), default=seg.first - 1)
        lost = max(0, seg.live_last - max(floor, seg.first - 1))
        start = (nxt.first, SEGMENT_HEADER_SIZE, nxt.first)
        for r in self._readers.values():
            if r.acked < seg.last:
                r.acked = seg.last
                r.ack_pos = start
            if r.pos[2] <= seg.last or r.pos[0] == seg.first:
                r.pos = start
            while r.marks and r.marks[0][0] <= seg.last:
                r.marks.popleft()
        self._remove_first()
        self._dropped += lost
        log.warning(
            "segment=%s entries=%d total_dropped=%d Buffer full, dropped oldest segment.",
            seg.path.name,
            lost,
            self._dropped,
        )

    def _write(self, payloads: Sequence[bytes]) -> list[int]:
        n = len(payloads)
        if self._next_seq + n > self._reserved:
            self._reserved = self._next_seq + n + SEQ_RESERVE_STEP
            self._save_meta(clean=False)
        seqs = list(range(self._next_seq, self._next_seq + n))
        parts: list[bytes] = []
        pending = 0
        seq = self._next_seq
        for p in payloads:
            size = ENTRY_HEADER_SIZE + len(p)
            active = self._segments[-1]
            if (active.count or parts) and active.size + pending + size > self._segment_bytes:
                self._flush_parts(parts, pending)
                parts, pending = [], 0
                self._roll()
            payload = bytes(p)
            parts += (entry_header(seq, payload), payload)
            pending += size
            seq += 1
        self._flush_parts(parts, pending)
        if self._mode.each_append:
            fd = self._segments[-1].fd
            assert fd is not None
            segfile.datasync(fd)
        elif self._syncer is not None:
            self._syncer.dirty = True
        self._appended += n
        return seqs

    def _flush_parts(self, parts: list[bytes], nbytes: int) -> None:
        if not parts:
            return
        active = self._segments[-1]
        assert active.fd is not None
        try:
            segfile.write_pieces(active.fd, parts)
        except OSError as exc:
            with contextlib.suppress(OSError):
                os.ftruncate(active.fd, active.size)
            if exc.errno == errno.ENOSPC:
                raise BufferFull(f"disk full while writing {active.path.name}") from exc
            raise
        active.size += nbytes
        active.last += len(parts) // 2  # a header and a payload per entry
        self._total += nbytes
        self._next_seq = active.last + 1

    def _roll(self) -> None:
        """Seal the active segment and start a new one at the next sequence number."""
        old = self._segments[-1]
        hand_off = self._syncer.retire if self._syncer is not None else None
        segfile.seal(old, durable=self._mode.durable, hand_off=hand_off)
        if old.count == 0:
            self._segments.pop()
            del self._by_first[old.first]
            self._total -= old.size
        # With a background syncer the new file's directory entry is synced there, not here.
        new = segfile.create(self._dir, self._next_seq, durable=self._mode.durable and self._syncer is None)
        if self._syncer is not None:
            self._syncer.new_files = True
        self._segments.append(new)
        self._by_first[new.first] = new
        self._total += new.size

    def _remove_first(self) -> None:
        segfile.remove(self._pop_first())

    def _pop_first(self) -> Segment:
        """Take the oldest segment out of the buffer (the caller deletes its file); wake space waiters."""
        seg = self._segments.pop(0)
        del self._by_first[seg.first]
        self._total -= seg.size
        self._space.notify_all()
        return seg

    # ----------------------------------------------------------------- misc

    def wait_for_space(self, nbytes: int = 0, timeout: float | None = None) -> bool:
        """Block until ``nbytes`` more fit under the cap (True) or ``timeout`` passes (False)."""
        with self._space:
            return self._space.wait_for(
                lambda: self._closed or self._total + nbytes + SEGMENT_HEADER_SIZE <= self._max_bytes,
                timeout,
            )

    def stats(self) -> BufferStats:
        with self._lock:
            pending = {
                name: sum(max(0, s.live_last - max(s.first - 1, r.acked)) for s in self._segments)
                for name, r in self._readers.items()
            }
            return BufferStats(
                bytes=self._total,
                segments=len(self._segments),
                entries=sum(max(0, s.live_last - s.first + 1) for s in self._segments),
                pending=pending,
                dropped_entries=self._dropped,
                corrupt_segments=self._corrupt,
                appended_entries=self._appended,
                truncated_bytes=self._truncated,
                next_seq=self._next_seq,
                max_bytes=self._max_bytes,
            )

    def _check_open(self) -> None:
        if self._closed:
            raise BufferClosed(f"buffer {self._dir} is closed")

    def close(self) -> None:
        """Sync, persist cursors, mark the shutdown clean and release the directory."""
        if self._syncer is not None:
            self._syncer.stop()
        with self._lock:
            if self._closed:
                return
            self._closed = True
            try:
                active = self._segments[-1]
                if active.fd is not None:
                    if self._mode.durable:
                        segfile.datasync(active.fd)
                    os.close(active.fd)
                    active.fd = None
                self._save_readers()
                self._save_meta(clean=True)
            finally:
                os.close(self._lock_fd)
                self._space.notify_all()

    def __enter__(self) -> DiskBuffer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
