"""Two-slot state files: the last good state survives a torn save, and the newest valid slot wins."""

from __future__ import annotations

from pathlib import Path

import pytest

from calypso.agent.sources.tail.slots import TwoSlotFile


def test_saves_alternate_and_the_newest_wins(tmp_path: Path) -> None:
    f = TwoSlotFile(tmp_path / "cp.json")
    for body in (b"one", b"two-longer", b"3"):
        f.save(body)
    f.close()
    assert TwoSlotFile(tmp_path / "cp.json").load() == b"3", "a shorter body ignores old bytes past it"


def test_a_torn_save_leaves_the_previous_state(tmp_path: Path) -> None:
    f = TwoSlotFile(tmp_path / "cp.json")
    f.save(b'{"offset": 100}')
    f.save(b'{"offset": 200}')
    f.close()
    newest = tmp_path / "cp.json.b"
    newest.write_bytes(newest.read_bytes()[:-3])  # the kill came in the middle of the write
    again = TwoSlotFile(tmp_path / "cp.json")
    assert again.load() == b'{"offset": 100}'
    again.save(b'{"offset": 300}')  # and the next save replaces the damaged slot, not the good one
    again.close()
    assert TwoSlotFile(tmp_path / "cp.json").load() == b'{"offset": 300}'
    assert (tmp_path / "cp.json").read_bytes().endswith(b"100}")


def test_plain_json_from_before_slots_is_read(tmp_path: Path) -> None:
    (tmp_path / "cp.json").write_text('{"version": 1, "files": []}')
    assert TwoSlotFile(tmp_path / "cp.json").load() == b'{"version": 1, "files": []}'


def test_nothing_readable_is_an_error_and_nothing_saved_is_none(tmp_path: Path) -> None:
    assert TwoSlotFile(tmp_path / "none.json").load() is None
    (tmp_path / "bad.json").write_bytes(b"CALYPSO-SLOT 1 0 5\nhello")
    with pytest.raises(ValueError):
        TwoSlotFile(tmp_path / "bad.json").load()
