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
from dataclasses import dataclass, field

from calypso.agent.sources.tail.checkpoint import FP_BYTES, Checkpoints, Entry, fingerprint, read_head
from calypso.agent.sources.tail.config import TailConfig
from calypso.agent.sources.tail.lines import LineCounters, LineSplitter, detect
from calypso.agent.sources.tail.multiline import Multiline

CHUNK = 256 * 1024
MIN_READ = 16 * 1024

# (path, text, file offset just after the record) of one record
Line = tuple[str, str, int]


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
        now = self.clock()
        out: list[Line] = []
        nbytes = 0
        for f in sorted(self.files.values(), key=lambda f: (f.gone_since is None, f.seq)):
            got = False
            while len(out) < max_records and nbytes < max_bytes:
                try:
                    size = os.fstat(f.fd).st_size
                    self._check_identity(f, size)
                    if size <= f.read_offset:
                        break
                    want = CHUNK
                    if f.line_bytes and f.multiline is None:  # about what the batch has room for
                        want = min(CHUNK, max(MIN_READ, int((max_records - len(out)) * f.line_bytes * 1.05)))
                    chunk = os.pread(f.fd, min(want, size - f.read_offset), f.read_offset)
                except OSError:
                    self.count("read_errors")
                    break
                if not chunk:
                    break
                got = True
                f.read_offset += len(chunk)
                records = f.splitter.feed(chunk)
                if records:
                    f.line_bytes = len(chunk) / len(records)
                if f.multiline is not None:
                    records = f.multiline.push(records)
                elif len(out) + len(records) > max_records:
                    records = self._hand_out(f, records, max_records - len(out))
                for text, end in records:
                    out.append((f.path, text, end))
                    nbytes += len(text)
            if got:
                f.last_data = now
                continue
            if len(out) >= max_records or nbytes >= max_bytes:
                return out, True
            ml = f.multiline
            if ml is not None and ml.pending and now - f.last_data >= self.config.multiline_timeout:
                out += [(f.path, text, end) for text, end in ml.flush()]
            if f.gone_since is not None and now - f.gone_since >= self.config.rotate_wait:
                out += self._close(f)
        return out, len(out) >= max_records or nbytes >= max_bytes

    def _hand_out(self, f: TailedFile, lines: list[tuple[str, int]], keep: int) -> list[tuple[str, int]]:
        """Only the first `keep` lines of a chunk; the file is read again from the end of the last one.

        Safe because a line cut for length (the one state a splitter carries past a newline) is
        always the last line of a chunk, and `keep` < len(lines).
        """
        end = lines[keep - 1][1]
        f.splitter = LineSplitter(f.splitter.codec, self.config.max_line_bytes, end, self.line_counters)
        self.line_counters.lines -= len(lines) - keep  # counted again when read again
        f.read_offset = end
        return lines[:keep]

    def _close(self, f: TailedFile) -> list[Line]:
        """A file that went away: hand out its last partial line and pending record, then close it."""
        rest = f.splitter.flush()
        if f.multiline is not None:
            rest = f.multiline.push(rest) + f.multiline.flush()
        os.close(f.fd)
        del self.files[(f.dev, f.ino)]
        self.count("closed")
        return [(f.path, text, end) for text, end in rest]

    def entries(self) -> list[Entry]:
        return [f.entry() for f in self.files.values()]

    def close(self) -> None:
        for f in list(self.files.values()):
            os.close(f.fd)
        self.files.clear()
