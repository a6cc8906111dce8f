"""Crash and damage: torn tails, corrupt segments, kill -9 of a real appending process."""

from __future__ import annotations

import logging
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from calypso.agent.buffer import DiskBuffer
from calypso.agent.buffer.format import ENTRY_HEADER_SIZE, SEGMENT_HEADER_SIZE

Make = Callable[..., DiskBuffer]


def _payload(i: int) -> bytes:
    return f"entry-{i:05d}-".encode() * 5


def _segments(d: Path) -> list[Path]:
    return sorted(p for p in d.iterdir() if p.name.endswith(".seg"))


def _all(b: DiskBuffer, reader: str = "check") -> list[tuple[int, bytes]]:
    b.add_reader(reader)
    out: list[tuple[int, bytes]] = []
    while entries := b.read(reader, max_entries=100):
        out.extend((e.seq, e.payload) for e in entries)
    return out


def test_torn_tail_is_truncated_and_appending_continues(make: Make, tmp_path: Path) -> None:
    d = tmp_path / "buf"
    b = make(d, fsync="always")
    b.append_many([_payload(i) for i in range(10)])
    b.close()
    seg = _segments(d)[-1]
    good_size = seg.stat().st_size
    last_len = ENTRY_HEADER_SIZE + len(_payload(9))
    with seg.open("r+b") as f:  # a crash in the middle of writing entry 10
        f.truncate(good_size - last_len // 2)
    b2 = make(d, fsync="always")
    st = b2.stats()
    assert st.truncated_bytes == last_len - last_len // 2
    assert seg.stat().st_size == good_size - last_len
    seq = b2.append(b"after the crash")
    got = _all(b2)
    assert got[:9] == [(i + 1, _payload(i)) for i in range(9)]
    assert got[-1] == (seq, b"after the crash") and len(got) == 10


def test_garbage_after_the_last_entry_is_truncated(make: Make, tmp_path: Path) -> None:
    d = tmp_path / "buf"
    b = make(d)
    b.append_many([_payload(i) for i in range(5)])
    b.close()
    with _segments(d)[-1].open("ab") as f:
        f.write(b"\x00" * 100 + os.urandom(50))
    b2 = make(d)
    assert b2.stats().truncated_bytes == 150
    assert [p for _, p in _all(b2)] == [_payload(i) for i in range(5)]


def test_corrupt_middle_segment_is_reported_skipped_and_the_rest_delivered(
    make: Make, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    d = tmp_path / "buf"
    b = make(d, segment_bytes=600)
    seqs = b.append_many([_payload(i) for i in range(60)])
    b.close()
    segs = _segments(d)
    assert len(segs) >= 5
    victim = segs[2]
    first, last = (int(x) for x in victim.name.removesuffix(".seg").split("-"))
    entry = ENTRY_HEADER_SIZE + len(_payload(0))
    with victim.open("r+b") as f:  # flip one payload byte of the segment's second entry
        f.seek(SEGMENT_HEADER_SIZE + entry + ENTRY_HEADER_SIZE + 3)
        byte = f.read(1)
        f.seek(-1, os.SEEK_CUR)
        f.write(bytes([byte[0] ^ 0xFF]))
    b2 = make(d, segment_bytes=600)
    with caplog.at_level(logging.ERROR, logger="calypso.agent.buffer"):
        got = dict(_all(b2, "one"))
        again = dict(_all(b2, "two"))  # a second reader meets the same damage: counted once
    lost = set(range(first + 1, last + 1))
    assert set(got) == set(seqs) - lost
    assert all(got[s] == _payload(s - 1) for s in got)
    assert again == got
    assert b2.stats().corrupt_segments == 1
    assert sum("Corrupt buffer segment" in r.getMessage() for r in caplog.records) == 1
    seq = b2.append(b"still works")
    assert b2.read("one")[-1].seq == seq


def test_lost_entries_do_not_stay_pending_forever(make: Make, tmp_path: Path) -> None:
    d = tmp_path / "buf"
    b = make(d, segment_bytes=100_000)
    b.add_reader("ws")
    b.append_many([_payload(i) for i in range(20)])
    b.close()
    seg = _segments(d)[-1]
    with seg.open("r+b") as f:  # damage entry 15 of the only segment
        f.seek(SEGMENT_HEADER_SIZE + 14 * (ENTRY_HEADER_SIZE + len(_payload(0))) + ENTRY_HEADER_SIZE)
        f.write(b"XX")
    b2 = make(d, segment_bytes=100_000)
    got = [e.seq for e in b2.read("ws", max_entries=1000)]
    assert got == list(range(1, 15))  # reopening truncated the damaged tail of the last segment
    b2.ack("ws", got[-1])
    st = b2.stats()
    assert st.pending == {"ws": 0} and st.truncated_bytes > 0
    b3_seq = b2.append(b"new")
    assert [e.seq for e in b2.read("ws")] == [b3_seq]


def test_corruption_found_while_reading_releases_the_lost_entries(make: Make, tmp_path: Path) -> None:
    d = tmp_path / "buf"
    b = make(d, segment_bytes=600)
    b.add_reader("ws")
    b.append_many([_payload(i) for i in range(12)])
    sealed = _segments(d)[0]
    last = int(sealed.name.removesuffix(".seg").split("-")[1])
    with sealed.open("r+b") as f:  # damaged while the buffer is running: found by the reader
        f.seek(-3, os.SEEK_END)
        f.write(b"!!!")
    got: list[int] = []
    while entries := b.read("ws"):
        got += [e.seq for e in entries]
        b.ack("ws", entries[-1].seq)
    assert last not in got and len(got) == 11
    st = b.stats()
    assert st.corrupt_segments == 1 and st.pending == {"ws": 0}
    assert not sealed.exists()  # freed: nothing readable in it is left unacknowledged


def test_corrupt_header_of_a_middle_segment_skips_that_segment(make: Make, tmp_path: Path) -> None:
    d = tmp_path / "buf"
    b = make(d, segment_bytes=600)
    b.append_many([_payload(i) for i in range(40)])
    b.close()
    victim = _segments(d)[1]
    first, last = (int(x) for x in victim.name.removesuffix(".seg").split("-"))
    with victim.open("r+b") as f:
        f.write(b"NOTMAGIC")
    b2 = make(d, segment_bytes=600)
    assert b2.stats().corrupt_segments == 1
    got = [s for s, _ in _all(b2)]
    assert got == [s for s in range(1, 41) if not first <= s <= last]


def test_damaged_state_files_do_not_prevent_opening(make: Make, tmp_path: Path) -> None:
    d = tmp_path / "buf"
    b = make(d)
    b.add_reader("ws")
    b.append_many([b"a", b"b"])
    b.ack("ws", 1)
    b.close()
    (d / "readers.json").write_text("{not json")
    (d / "meta.json").write_text("[]")
    b2 = make(d)
    assert b2.readers() == []  # cursors lost: readers re-added start from the oldest entry again
    assert (d / "readers.json.bad").exists()
    assert [p for _, p in _all(b2, "ws")] == [b"a", b"b"]
    assert b2.append(b"c") > 2


def test_unclean_stop_never_reuses_a_sequence_number(make: Make, tmp_path: Path) -> None:
    live = tmp_path / "live"
    b = make(live, fsync="interval")
    b.append_many([b"a", b"b", b"c"])
    crashed = tmp_path / "crashed"
    shutil.copytree(live, crashed)  # the disk as a crash would leave it: never closed
    os.unlink(crashed / "lock")
    seen_before_crash = b.append(b"d")  # imagine a reader sent this, then the page cache was lost
    b2 = make(crashed)
    assert b2.append(b"new") > seen_before_crash
    assert [p for _, p in _all(b2)] == [b"a", b"b", b"c", b"new"]


_CHILD = r"""
import sys
from pathlib import Path
from calypso.agent.buffer import DiskBuffer

directory, round_no = Path(sys.argv[1]), int(sys.argv[2])
b = DiskBuffer(directory, fsync="always", segment_bytes=8192)
b.add_reader("verify")
b.add_reader("sink")
i = 0
while True:
    if i % 5 == 4:
        payloads = [f"r{round_no}-{i + k}-".encode() * (1 + (i + k) % 40) for k in range(3)]
        seqs = b.append_many(payloads)
        idx = [i + k for k in range(3)]
        i += 3
    else:
        seqs = [b.append(f"r{round_no}-{i}-".encode() * (1 + i % 40))]
        idx = [i]
        i += 1
    sys.stdout.write("".join(f"A {s} {round_no} {j}\n" for s, j in zip(seqs, idx)))
    sys.stdout.flush()
    if i % 7 == 0:
        got = b.read("sink", max_entries=5)
        if got:
            b.ack("sink", got[-1].seq)
            sys.stdout.write(f"K {got[-1].seq}\n")
            sys.stdout.flush()
"""


def _payload_of(round_no: int, i: int) -> bytes:
    return f"r{round_no}-{i}-".encode() * (1 + i % 40)


def _key(payload: bytes) -> tuple[int, int]:
    r, i = payload.decode().split("-")[:2]
    return int(r.removeprefix("r")), int(i)


@pytest.mark.timeout(120)
def test_kill_9_while_appending_loses_and_duplicates_nothing(tmp_path: Path) -> None:
    d = tmp_path / "buf"
    script = tmp_path / "child.py"
    script.write_text(_CHILD)
    expected: dict[int, bytes] = {}
    last_ack = 0
    for round_no in range(5):
        proc = subprocess.Popen(
            [sys.executable, str(script), str(d), str(round_no)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        assert proc.stdout is not None
        target = 500 + 237 * round_no  # kill at a different point each round
        lines = 0
        deadline = time.monotonic() + 60
        while lines < target and time.monotonic() < deadline:
            line = proc.stdout.readline()
            if not line:
                break
            lines += 1
            kind, *rest = line.split()
            if kind == "A":
                seq, r, i = (int(x) for x in rest)
                assert seq not in expected, f"seq {seq} handed out twice"
                expected[seq] = _payload_of(r, i)
            else:
                last_ack = max(last_ack, int(rest[0]))
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
        assert lines >= target, f"child stopped early: {proc.stderr.read() if proc.stderr else ''}"
        proc.stdout.close()
        if proc.stderr is not None:
            proc.stderr.close()

    with DiskBuffer(d, fsync="always", segment_bytes=8192) as b:
        got: dict[int, bytes] = {}
        while entries := b.read("verify", max_entries=500):
            for e in entries:
                assert e.seq not in got, f"entry {e.seq} delivered twice"
                got[e.seq] = e.payload
        missing = [s for s in expected if s not in got]
        assert not missing, f"{len(missing)} acknowledged appends lost, e.g. {missing[:5]}"
        assert all(got[s] == p for s, p in expected.items())
        # Entries the child wrote after the parent stopped listening are there too: each intact, once.
        keys = set()
        for payload in got.values():
            r, i = _key(payload)
            assert payload == _payload_of(r, i), "entry content damaged"
            assert (r, i) not in keys, f"record {(r, i)} appears twice"
            keys.add((r, i))
        sink = b.read("sink", max_entries=1)
        assert sink and sink[0].seq > last_ack  # the sink's persisted cursor is at least what it saw
        assert b.stats().corrupt_segments == 0
