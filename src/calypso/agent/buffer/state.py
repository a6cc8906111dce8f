"""Small state files of the buffer: reader cursors and the sequence reservation.

Invariant: a state file on disk is always either the previous complete version or the new complete
version — it is written to a temporary file, fsynced, renamed over the old one, and the directory is
fsynced (``durable=False`` skips the fsyncs for ``fsync="never"``). A state file that cannot be
parsed is reported as :class:`StateError`, never half-applied.

``readers.json``::  {"version": 1, "readers": {name: {"acked": seq, "segment": first, "offset": n}}}
``meta.json``::     {"version": 1, "seq_reserved": n, "clean": bool, "opened_at": n, "runs": [[e, w], ...]}

``seq_reserved`` is a sequence number no entry has used yet; it is raised (and persisted) before
numbers past it are handed out. After an unclean stop the buffer continues from it, so a sequence
number a reader may have seen before a crash is never reused for a different payload.
``opened_at`` is the first sequence number of the run that last opened the buffer (its epoch);
``runs`` remembers, for the runs before it (newest first), their epoch and the last number each
really wrote, so a later run can tell which numbers were written (see ``DiskBuffer.holds``).
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

STATE_VERSION = 1
READERS_FILE = "readers.json"
META_FILE = "meta.json"
LOCK_FILE = "lock"


class StateError(ValueError):
    """A state file exists but is not valid."""


class BufferLocked(RuntimeError):
    """Another process (or another DiskBuffer in this one) has the buffer directory open."""


@dataclass(frozen=True)
class Cursor:
    """Persisted state of one reader: every entry <= ``acked`` is delivered.

    ``segment``/``offset`` are a hint of where entry ``acked + 1`` starts (verified before use).
    """

    acked: int
    segment: int = 0
    offset: int = 0


@dataclass(frozen=True)
class Meta:
    seq_reserved: int
    clean: bool
    opened_at: int = 0
    runs: tuple[tuple[int, int], ...] = ()


def fsync_dir(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def write_atomic(path: Path, data: bytes, *, durable: bool) -> None:
    """Replace ``path`` by ``data`` so that a crash leaves the old or the new content, never a mix."""
    tmp = path.with_name(path.name + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        view = memoryview(data)
        while view:
            n = os.write(fd, view)
            view = view[n:]
        if durable:
            os.fsync(fd)
    finally:
        os.close(fd)
    os.replace(tmp, path)
    if durable:
        fsync_dir(path.parent)


def _load_json(path: Path) -> dict[str, Any] | None:
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        return None
    try:
        doc = json.loads(raw)
    except ValueError as exc:
        raise StateError(f"{path.name} is not valid JSON: {exc}") from None
    if not isinstance(doc, dict) or doc.get("version") != STATE_VERSION:
        raise StateError(f"{path.name} has an unsupported version (expected {STATE_VERSION})")
    return doc


def _int(value: Any, what: str, path: Path) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise StateError(f"{path.name}: {what} must be a non-negative integer, got {value!r}")
    return value


def load_readers(directory: Path) -> dict[str, Cursor]:
    path = directory / READERS_FILE
    doc = _load_json(path)
    if doc is None:
        return {}
    readers = doc.get("readers")
    if not isinstance(readers, dict):
        raise StateError(f"{path.name}: 'readers' must be an object")
    out: dict[str, Cursor] = {}
    for name, value in readers.items():
        if not isinstance(value, dict):
            raise StateError(f"{path.name}: reader {name!r} must be an object")
        out[name] = Cursor(
            acked=_int(value.get("acked"), f"readers.{name}.acked", path),
            segment=_int(value.get("segment", 0), f"readers.{name}.segment", path),
            offset=_int(value.get("offset", 0), f"readers.{name}.offset", path),
        )
    return out


def save_readers(directory: Path, readers: dict[str, Cursor], *, durable: bool) -> None:
    doc = {
        "version": STATE_VERSION,
        "readers": {
            name: {"acked": c.acked, "segment": c.segment, "offset": c.offset}
            for name, c in sorted(readers.items())
        },
    }
    write_atomic(directory / READERS_FILE, json.dumps(doc, indent=1).encode(), durable=durable)


def load_meta(directory: Path) -> Meta | None:
    path = directory / META_FILE
    doc = _load_json(path)
    if doc is None:
        return None
    clean = doc.get("clean")
    if not isinstance(clean, bool):
        raise StateError(f"{path.name}: 'clean' must be true or false")
    return Meta(
        seq_reserved=_int(doc.get("seq_reserved"), "seq_reserved", path),
        clean=clean,
        opened_at=_int(doc.get("opened_at", 0), "opened_at", path),
        runs=_runs(doc.get("runs", []), path),
    )


def _runs(value: Any, path: Path) -> tuple[tuple[int, int], ...]:
    if not isinstance(value, list):
        raise StateError(f"{path.name}: 'runs' must be a list")
    out = []
    for run in value:
        if not isinstance(run, list) or len(run) != 2:
            raise StateError(f"{path.name}: each of 'runs' must be [epoch, written_through]")
        out.append((_int(run[0], "runs.epoch", path), _int(run[1], "runs.written_through", path)))
    return tuple(out)


def save_meta(directory: Path, meta: Meta, *, durable: bool) -> None:
    doc = {
        "version": STATE_VERSION,
        "seq_reserved": meta.seq_reserved,
        "clean": meta.clean,
        "opened_at": meta.opened_at,
        "runs": [list(run) for run in meta.runs],
    }
    write_atomic(directory / META_FILE, json.dumps(doc).encode(), durable=durable)


def remove_temporaries(directory: Path) -> None:
    """Delete ``*.tmp`` files a crash may have left between write and rename."""
    for tmp in directory.glob("*.tmp"):
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()


def lock_directory(directory: Path) -> int:
    """Take an exclusive lock on the directory (released by the kernel when the process dies)."""
    fd = os.open(directory / LOCK_FILE, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        raise BufferLocked(f"buffer directory {directory} is already open in another process") from None
    return fd
