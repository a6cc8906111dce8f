from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from calypso.agent.buffer import DiskBuffer


@pytest.fixture
def open_buffers() -> Iterator[list[DiskBuffer]]:
    """Buffers a test opened; closed at the end so a failing test does not leak the lock."""
    opened: list[DiskBuffer] = []
    yield opened
    for b in opened:
        b.close()


@pytest.fixture
def make(open_buffers: list[DiskBuffer], tmp_path: Path):  # type: ignore[no-untyped-def]
    def _make(directory: Path | None = None, **kw: object) -> DiskBuffer:
        kw.setdefault("fsync", "never")
        b = DiskBuffer(directory or tmp_path / "buf", **kw)  # type: ignore[arg-type]
        open_buffers.append(b)
        return b

    return _make
