"""File identity (fingerprint + device/inode) and the on-disk checkpoint of tailed files.

Invariants:
- A file is the same file when its device and inode match *and* its first `fp_len` bytes hash to
  the stored fingerprint; an inode reused by a new file therefore starts over at 0. When the inode is
  unknown (the file was copied elsewhere), a full-length fingerprint alone identifies it.
- The checkpoint is versioned JSON kept in a `TwoSlotFile` (two slots rewritten in place, in turn,
  checksummed): a killed process leaves the old or the new checkpoint, never a torn one (fsync on
  close makes it survive power loss too; between closes, a power loss may repeat the last lines,
  never lose them). An unreadable checkpoint is set aside (renamed `.corrupt`) and counted, and the
  source starts as on a first run.
- Exactly once across kill -9: just before a batch is written to the agent's buffer, `prepare`
  saves the new offsets as `pending` on the buffer's ticket, beside the confirmed ones. On load a
  pending set wins only if the buffer vouches for its ticket, and the resolved file is saved at
  once, so neither a kill before the write (read again) nor after it (skip) repeats or loses lines.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from calypso.agent.sources.tail.slots import TwoSlotFile

FP_BYTES = 256
VERSION = 1


def fingerprint(head: bytes) -> str:
    return hashlib.blake2b(head[:FP_BYTES], digest_size=16).hexdigest()


def read_head(fd: int, n: int = FP_BYTES) -> bytes:
    try:
        return os.pread(fd, n, 0)
    except OSError:
        return b""


@dataclass(frozen=True)
class Entry:
    dev: int
    ino: int
    fp: str
    fp_len: int
    offset: int
    path: str


def _entries(raw: Any) -> list[Entry]:
    return [
        Entry(int(e["dev"]), int(e["ino"]), str(e["fp"]), int(e["fp_len"]), int(e["offset"]), str(e["path"]))
        for e in raw
    ]


class Checkpoints:
    def __init__(self, path: Path, written: Callable[[list[int]], bool] | None = None) -> None:
        self.path = path
        self.slots = TwoSlotFile(path)
        self.entries: dict[tuple[int, int], Entry] = {}
        self.corrupt = 0
        self.existed = self.slots.exists()
        self._written = written or (lambda ticket: False)
        self._load()

    def _load(self) -> None:
        try:
            body = self.slots.load()
            if body is None:
                return
            raw = json.loads(body)
            if raw.get("version") != VERSION:
                raise ValueError(f"unsupported checkpoint version {raw.get('version')!r}")
            files = _entries(raw["files"])
            pending = raw.get("pending")
            if pending is not None:
                if self._written(list(pending["ticket"])):
                    files = _entries(pending["files"])
                self.save(files)  # resolved for good: the next run must not ask again
            self.entries = {(e.dev, e.ino): e for e in files}
        except (OSError, ValueError, KeyError, TypeError, AttributeError):
            self.corrupt += 1
            self.entries.clear()
            self.slots.set_aside(".corrupt")

    def find(self, dev: int, ino: int, head: bytes) -> Entry | None:
        """The checkpoint of the file with this identity and these first bytes, if any."""
        e = self.entries.get((dev, ino))
        if e is not None and len(head) >= e.fp_len and fingerprint(head[: e.fp_len]) == e.fp:
            return e
        if len(head) >= FP_BYTES:
            fp = fingerprint(head)
            for other in self.entries.values():
                if other.fp_len == FP_BYTES and other.fp == fp:
                    return other
        return None

    def prepare(self, confirmed: list[Entry], pending: list[Entry], ticket: list[int]) -> None:
        """Save `pending` as taking effect once the buffer write named by `ticket` has happened."""
        extra = {"pending": {"ticket": ticket, "files": [asdict(e) for e in pending]}}
        self._write(confirmed, extra, durable=False)

    def confirm(self, entries: list[Entry]) -> None:
        """`entries` took effect and the file already says so (as pending on a written ticket)."""
        self.entries = {(e.dev, e.ino): e for e in entries}

    def save(self, entries: list[Entry], durable: bool = False) -> None:
        """Replace the checkpoint atomically; `durable` also fsyncs (survives power loss, not only a kill)."""
        self.entries = {(e.dev, e.ino): e for e in entries}
        self._write(entries, {}, durable)

    def _write(self, entries: list[Entry], extra: dict[str, Any], durable: bool) -> None:
        doc = {"version": VERSION, "files": [asdict(e) for e in entries], **extra}
        self.slots.save(json.dumps(doc, separators=(",", ":")).encode(), durable)

    def close(self) -> None:
        self.slots.close()
