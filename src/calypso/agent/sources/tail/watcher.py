"""The tailing engine: finds files by glob, follows them through rotation and truncation, reads lines.

Invariants:
- A file is tracked by (device, inode) while it is open; the path is only how it was found. A
  rename (rotation) keeps the same tracked file and offset; the new file at the old path is a new
  tracked file, read from its beginning. Files that left the globs (renamed away, deleted) are read
  first on every pass, to their end, and closed `rotate_wait` seconds after they went away: the old
  file's lines always come before the new file's.
- A file whose size drops below the read offset (copy-truncate, truncation) or whose first bytes
  changed is read again from 0 and counted.
- `entries()` gives, per file, the offset just after the last record handed out by `read`; the
  source persists it only once those records are in the agent's buffer.
- Nothing a file contains can raise out of `read`; I/O errors are counted.
"""

from __future__ import annotations

import fnmatch
import glob
import os
import stat
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace

from calypso.agent.sources.tail.checkpoint import FP_BYTES, Checkpoints, Entry, fingerprint, read_head
from calypso.agent.sources.tail.config import TailConfig
from calypso.agent.sources.tail.lines import LineCounters, LineSplitter, detect
from calypso.agent.sources.tail.multiline import Multiline

CHUNK = 256 * 1024
MIN_READ = 16 * 1024

# (path, text, file offset just after the record) of one record
Line = tuple[str, str, int]


@dataclass(frozen=True, slots=True)
class Run:
    """`count` consecutive lines of one file, joined by "\n" (none of them holds one)."""

    path: str
    text: str
    count: int


@dataclass
class TailedFile:
    dev: int
    ino: int
    path: str
    fd: int
    seq: int
    read_offset: int
    fp: str
    fp_len: int
    size: int
    splitter: LineSplitter
    codec_known: bool
    multiline: Multiline | None = None
    gone_since: float | None = None
    last_data: float = 0.0
    line_bytes: float = 0.0  # bytes per line lately: sizes reads to the batch (see Tailer.read)

    @property
    def safe_offset(self) -> int:
        if self.multiline is not None and self.multiline.pending:
            return self.multiline.safe_offset
        return self.splitter.safe_offset

    def entry(self) -> Entry:
        return Entry(self.dev, self.ino, self.fp, self.fp_len, self.safe_offset, self.path)


@dataclass
class Tailer:
    config: TailConfig
    checkpoints: Checkpoints
    clock: Callable[[], float] = time.monotonic
    counters: dict[str, int] = field(default_factory=dict)
    line_counters: LineCounters = field(default_factory=LineCounters)
    files: dict[tuple[int, int], TailedFile] = field(default_factory=dict)
    _scans: int = 0
    _seq: int = 0

    def count(self, name: str, n: int = 1) -> None:
        self.counters[name] = self.counters.get(name, 0) + n

    # -- discovery ------------------------------------------------------------------------------
    def _excluded(self, path: str) -> bool:
        return any(fnmatch.fnmatch(path, pat) for pat in self.config.exclude)

    def scan(self) -> None:
        now = self.clock()
        seen: dict[tuple[int, int], str] = {}
        for pattern in self.config.paths:
            for path in sorted(glob.glob(pattern, recursive=True)):
                if self._excluded(path):
                    continue
                try:
                    st = os.stat(path)
                except OSError:
                    continue
                if stat.S_ISREG(st.st_mode):
                    seen.setdefault((st.st_dev, st.st_ino), path)
        initial = self._scans == 0 and not self.checkpoints.existed
        self._scans += 1
        for key, path in seen.items():
            f = self.files.get(key)
            if f is None:
                self._open(key, path, initial)
                continue
            if f.path != path:
                self.count("renamed")
                f.path = path
            f.gone_since = None
        for key, f in self.files.items():
            if key not in seen and f.gone_since is None:
                f.gone_since = now
                self.count("rotated_or_deleted")

    def _open(self, key: tuple[int, int], path: str, initial: bool) -> None:
        try:
            fd = os.open(path, os.O_RDONLY | getattr(os, "O_CLOEXEC", 0))
        except OSError:
            self.count("open_errors")
            return
        st = os.fstat(fd)
        if (st.st_dev, st.st_ino) != key:  # replaced between stat and open: next scan will see it
            os.close(fd)
            return
        head = read_head(fd)
        entry = self.checkpoints.find(st.st_dev, st.st_ino, head)
        if entry is not None and entry.offset <= st.st_size:
            offset = entry.offset
            self.count("resumed")
        elif entry is not None:
            offset = 0
            self.count("truncated")
        elif initial and self.config.start_at == "end":
            offset = st.st_size
        else:
            offset = 0
        self._seq += 1
        f = TailedFile(
            st.st_dev,
            st.st_ino,
            path,
            fd,
            self._seq,
            offset,
            fingerprint(head),
            len(head),
            st.st_size,
            LineSplitter("utf-8", self.config.max_line_bytes, offset, self.line_counters),
            codec_known=False,
            last_data=self.clock(),
        )
        self._set_codec(f, head)
        self.files[key] = f
        self.count("opened")

    def _set_codec(self, f: TailedFile, head: bytes) -> None:
        if not head:
            return  # empty file: decide when its first bytes arrive
        codec, bom = detect(head, self.config.encoding)
        f.codec_known = True
        f.splitter.codec = codec
        if f.read_offset < bom:
            f.read_offset = f.splitter.safe_offset = bom
        if self.config.multiline_start is not None:
            f.multiline = Multiline(
                self.config.multiline_start, self.config.max_line_bytes, f.splitter.safe_offset
            )

    def _restart(self, f: TailedFile, reason: str) -> None:
        self.count(reason)
        f.read_offset = 0
        f.splitter = LineSplitter("utf-8", self.config.max_line_bytes, 0, self.line_counters)
        f.multiline = None
        f.codec_known = False
        head = read_head(f.fd)
        f.fp, f.fp_len = fingerprint(head), len(head)
        self._set_codec(f, head)

    def _check_identity(self, f: TailedFile, size: int) -> None:
        """Detect truncation or rewrite, and grow a short fingerprint as the file grows."""
        if size < f.read_offset:
            self._restart(f, "truncated")
            return
        if size == f.size and f.fp_len >= FP_BYTES:
            return
        f.size = size
        head = read_head(f.fd)
        if len(head) < f.fp_len or fingerprint(head[: f.fp_len]) != f.fp:
            self._restart(f, "rewritten")
            return
        if f.fp_len < FP_BYTES and len(head) > f.fp_len:
            f.fp, f.fp_len = fingerprint(head), len(head)
        if not f.codec_known:
            self._set_codec(f, head)

    # -- reading --------------------------------------------------------------------------------
    def read(self, max_records: int, max_bytes: int) -> tuple[list[Line], bool]:
        """Lines ready now, old (rotated) files first; `True` when the budget stopped the pass."""
        out: list[Line] = []

        def take(f: TailedFile, chunk: bytes, room: int) -> tuple[int, int]:
            # A multi-line record's lines go together: all of them, however many records they make.
            records = self._lines(f, chunk, room) if f.multiline is None else f.splitter.feed(chunk)
            if records:
                f.line_bytes = len(chunk) / len(records)
            if f.multiline is not None:
                records = f.multiline.push(records)
            out.extend((f.path, text, end) for text, end in records)
            return len(records), sum(len(text) for text, _ in records)

        def rest(f: TailedFile, records: list[tuple[str, int]]) -> int:
            out.extend((f.path, text, end) for text, end in records)
            return len(records)

        more = self._read(max_records, max_bytes, take, rest)
        return out, more

    def read_joined(self, max_records: int, max_bytes: int) -> tuple[list[Run], bool]:
        """Like `read` for plain lines (no multi-line records): per file, its lines as one string."""
        out: list[Run] = []

        def take(f: TailedFile, chunk: bytes, room: int) -> tuple[int, int]:
            if f.splitter.codec == "utf-8":
                chunk = self._cut(f, chunk, room)
                text, count = f.splitter.feed_joined(chunk)
            else:
                records = self._lines(f, chunk, room)
                text, count = "\n".join([t for t, _ in records]), len(records)
            if count:
                f.line_bytes = len(chunk) / count
                out.append(Run(f.path, text, count))
            return count, len(text)

        def rest(f: TailedFile, records: list[tuple[str, int]]) -> int:
            if records:
                out.append(Run(f.path, "\n".join([t for t, _ in records]), len(records)))
            return len(records)

        more = self._read(max_records, max_bytes, take, rest)
        return out, more

    def _read(
        self,
        max_records: int,
        max_bytes: int,
        take: Callable[[TailedFile, bytes, int], tuple[int, int]],
        rest: Callable[[TailedFile, list[tuple[str, int]]], int],
    ) -> bool:
        """The pass both reads share: `take` splits a chunk (at most `room` records) and returns
        (records, text bytes); `rest` takes a file's last records (multi-line flush, close)."""
        now = self.clock()
        records = nbytes = 0
        for f in sorted(self.files.values(), key=lambda f: (f.gone_since is None, f.seq)):
            got = False
            while records < max_records and nbytes < max_bytes:
                try:
                    size = os.fstat(f.fd).st_size
                    self._check_identity(f, size)
                    if size <= f.read_offset:
                        break
                    want = CHUNK
                    if f.line_bytes and f.multiline is None:  # about what the batch has room for
                        want = min(CHUNK, max(MIN_READ, int((max_records - records) * f.line_bytes * 1.05)))
                    chunk = os.pread(f.fd, min(want, size - f.read_offset), f.read_offset)
                except OSError:
                    self.count("read_errors")
                    break
                if not chunk:
                    break
                got = True
                f.read_offset += len(chunk)  # `take` moves it back over what it leaves for later
                n, b = take(f, chunk, max_records - records)
                records, nbytes = records + n, nbytes + b
            if got:
                f.last_data = now
                continue
            if records >= max_records or nbytes >= max_bytes:
                return True
            ml = f.multiline
            if ml is not None and ml.pending and now - f.last_data >= self.config.multiline_timeout:
                records += rest(f, ml.flush())
            if f.gone_since is not None and now - f.gone_since >= self.config.rotate_wait:
                records += rest(f, self._close(f))
        return records >= max_records or nbytes >= max_bytes

    @staticmethod
    def _cut(f: TailedFile, chunk: bytes, room: int) -> bytes:
        """A UTF-8 chunk through its `room`-th newline; the rest is read again next time."""
        cut = _first_lines(chunk, room)
        f.read_offset -= len(chunk) - len(cut)
        return cut

    def _lines(self, f: TailedFile, chunk: bytes, room: int) -> list[tuple[str, int]]:
        """At most `room` lines of the chunk just read; what is left of it is read again next time.

        UTF-8 is cut at the `room`-th newline before splitting. A two-byte newline can only be
        found by splitting: when that gives too many, the chunk is split again from the same state
        up to the end of the last line kept, so the counters count each line once.
        """
        if f.splitter.codec == "utf-8":
            return f.splitter.feed(self._cut(f, chunk, room))
        before, counted = replace(f.splitter), replace(self.line_counters)
        lines = f.splitter.feed(chunk)
        if len(lines) <= room:
            return lines
        start = f.read_offset - len(chunk)  # file offset of chunk[0]
        end = lines[room - 1][1]
        f.splitter = before
        for name in ("lines", "truncated", "invalid", "nul_bytes"):
            setattr(self.line_counters, name, getattr(counted, name))
        f.read_offset = end
        return f.splitter.feed(chunk[: end - start])

    def _close(self, f: TailedFile) -> list[tuple[str, int]]:
        """A file that went away: hand out its last partial line and pending record, then close it."""
        rest = f.splitter.flush()
        if f.multiline is not None:
            rest = f.multiline.push(rest) + f.multiline.flush()
        os.close(f.fd)
        del self.files[(f.dev, f.ino)]
        self.count("closed")
        return rest

    def entries(self) -> list[Entry]:
        return [f.entry() for f in self.files.values()]

    def close(self) -> None:
        for f in list(self.files.values()):
            os.close(f.fd)
        self.files.clear()


def _first_lines(chunk: bytes, room: int) -> bytes:
    """`chunk` through its `room`-th newline when it could hold more lines than that (found from
    the nearer end: a read is sized to the batch, so the excess is usually small)."""
    lines = chunk.count(b"\n")
    if lines < room or (lines == room and chunk.endswith(b"\n")):
        return chunk  # (at `room`, what follows the last newline could be cut into one more line)
    if room <= lines - room:
        pos = -1
        for _ in range(room):
            pos = chunk.find(b"\n", pos + 1)
    else:
        pos = len(chunk)
        for _ in range(lines - room + 1):
            pos = chunk.rfind(b"\n", 0, pos)
    return chunk[: pos + 1]
