"""Tickets: after a crash the buffer can say whether a write a source prepared for really happened."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

from calypso.agent.buffer import DiskBuffer

Make = Callable[..., DiskBuffer]


def _crash_copy(src: Path, dst: Path) -> Path:
    """The directory as a kill -9 leaves it: files as written, no clean close."""
    shutil.copytree(src, dst, ignore=shutil.ignore_patterns("lock"))
    return dst


def test_before_write_names_the_last_entry_of_the_write(make: Make) -> None:
    b = make()
    b.append_many([b"a", b"b"])
    seen: list[int] = []
    seqs = b.append_many([b"c", b"d", b"e"], seen.append)
    assert seen == [seqs[-1]]
    assert b.holds(b.epoch, seqs[-1])
    assert not b.holds(b.epoch, seqs[-1] + 1), "a number not handed out yet was not written"


def test_after_a_kill_the_next_run_knows_which_prepared_writes_happened(make: Make, tmp_path: Path) -> None:
    b = make(tmp_path / "run1")
    first_epoch = b.epoch
    written = b.append_many([b"x"] * 4)[-1]
    never = written + 3  # a source prepared this write, then the process died before it
    run2 = make(_crash_copy(tmp_path / "run1", tmp_path / "run2"))
    assert run2.epoch > never, "the new run numbers past everything the old one may have seen"
    assert run2.holds(first_epoch, written)
    assert not run2.holds(first_epoch, never)
    assert not run2.holds(first_epoch + 1000, written), "an unknown run vouches for nothing"


def test_runs_several_crashes_back_are_still_known(make: Make, tmp_path: Path) -> None:
    b = make(tmp_path / "run1")
    first_epoch = b.epoch
    written = b.append_many([b"x"])[-1]
    never = written + 1  # prepared, then killed before the write
    run2 = make(_crash_copy(tmp_path / "run1", tmp_path / "run2"))  # killed before the source started
    run2.append_many([b"y"] * 3)  # another source writes; its numbers are past `never`
    run3 = make(_crash_copy(tmp_path / "run2", tmp_path / "run3"))
    assert run3.holds(first_epoch, written)
    assert not run3.holds(first_epoch, never), "a gap of run 1 is not mistaken for a write"
    assert run3.holds(run2.epoch, run2.epoch + 2)
    assert not run3.holds(run2.epoch, run2.epoch + 3)


def test_clean_close_and_reopen_keeps_the_answer(make: Make, tmp_path: Path) -> None:
    d = tmp_path / "buf"
    b = make(d)
    epoch = b.epoch
    last = b.append_many([b"x"] * 2)[-1]
    b.close()
    again = make(d)
    assert again.holds(epoch, last)
    assert not again.holds(epoch, last + 1)
