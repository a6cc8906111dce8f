"""DiskBuffer behaviour a runtime relies on: readers, acks, caps, restarts, threads."""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from pathlib import Path

import pytest

from calypso.agent.buffer import (
    BufferClosed,
    BufferFull,
    BufferLocked,
    DiskBuffer,
    EntryTooLarge,
    UnknownReader,
)

Make = Callable[..., DiskBuffer]


def _payload(i: int, size: int = 50) -> bytes:
    return (f"{i}:".encode() * size)[:size]


def _drain(b: DiskBuffer, reader: str, *, ack: bool = True, batch: int = 7) -> list[tuple[int, bytes]]:
    got: list[tuple[int, bytes]] = []
    while entries := b.read(reader, max_entries=batch):
        got.extend((e.seq, e.payload) for e in entries)
        if ack:
            b.ack(reader, entries[-1].seq)
    return got


def test_append_returns_increasing_seqs_and_read_returns_them_in_order(make: Make) -> None:
    b = make(segment_bytes=300)
    b.add_reader("ws")
    seqs = [b.append(_payload(i)) for i in range(40)]
    seqs += b.append_many([_payload(i) for i in range(40, 60)])
    assert seqs == sorted(seqs) and len(set(seqs)) == 60
    assert b.stats().segments > 5  # small segments rolled over
    got = _drain(b, "ws")
    assert got == [(s, _payload(i)) for i, s in enumerate(seqs)]
    assert b.stats().segments == 1  # and were freed once acknowledged


def test_read_position_is_in_memory_and_rewind_returns_to_the_acked_point(make: Make) -> None:
    b = make()
    b.add_reader("ws")
    b.append_many([_payload(i) for i in range(10)])
    first = b.read("ws", max_entries=4)
    second = b.read("ws", max_entries=4)
    assert [e.seq for e in first] == [1, 2, 3, 4] and [e.seq for e in second] == [5, 6, 7, 8]
    b.ack("ws", 4)
    b.rewind("ws")  # e.g. the send of the second batch failed
    again = b.read("ws", max_entries=100)
    assert [e.seq for e in again] == list(range(5, 11))
    assert b.stats().pending == {"ws": 6}


def test_max_bytes_of_read_is_respected_but_a_big_entry_still_comes_out(make: Make) -> None:
    b = make()
    b.add_reader("ws")
    b.append_many([b"a" * 100, b"b" * 100, b"c" * 5000, b"d" * 10])
    assert [len(e.payload) for e in b.read("ws", max_bytes=250)] == [100, 100]
    assert [len(e.payload) for e in b.read("ws", max_bytes=250)] == [5000]
    assert [len(e.payload) for e in b.read("ws", max_bytes=250)] == [10]


def test_entry_bigger_than_a_segment_gets_its_own_segment(make: Make) -> None:
    b = make(segment_bytes=1024)
    b.add_reader("ws")
    b.append(b"small")
    big = os.urandom(10_000)
    seq = b.append(big)
    b.append(b"after")
    assert [p for _, p in _drain(b, "ws", ack=False)] == [b"small", big, b"after"]
    assert b.stats().segments == 3
    assert seq == 2


def test_entry_that_can_never_fit_is_rejected_clearly(make: Make) -> None:
    b = make(max_bytes=4096, overflow="drop_oldest")
    b.add_reader("ws")
    b.append(b"keep me")
    with pytest.raises(EntryTooLarge, match="never fit"):
        b.append(b"x" * 5000)
    assert [p for _, p in _drain(b, "ws")] == [b"keep me"]  # nothing dropped for a hopeless entry
    with pytest.raises(TypeError, match="bytes"):
        b.append("text")  # type: ignore[arg-type]


def test_two_readers_at_different_speeds(make: Make) -> None:
    b = make(segment_bytes=512)
    b.add_reader("fast")
    b.add_reader("slow")
    b.append_many([_payload(i) for i in range(100)])
    fast = _drain(b, "fast")
    assert len(fast) == 100
    st = b.stats()
    assert st.pending == {"fast": 0, "slow": 100}
    assert st.entries == 100  # the slow reader holds the disk space
    b.append_many([_payload(i) for i in range(100, 120)])
    fast += _drain(b, "fast")
    assert len(fast) == 120  # the fast one is never stalled
    slow_part = b.read("slow", max_entries=50)
    b.ack("slow", slow_part[-1].seq)
    assert b.stats().entries < 120
    slow_rest = _drain(b, "slow")
    assert [e.seq for e in slow_part] + [s for s, _ in slow_rest] == [s for s, _ in fast]
    st = b.stats()
    assert st.segments == 1 and st.pending == {"fast": 0, "slow": 0}
    files = [n for n in os.listdir(b._dir) if n.endswith(".seg")]
    assert len(files) == 1  # fully acked segments are deleted from disk


def test_new_reader_starts_at_oldest_retained_entry_and_remove_frees_space(make: Make) -> None:
    b = make(segment_bytes=256)
    b.add_reader("a")
    b.append_many([_payload(i) for i in range(30)])
    b.add_reader("b")
    b.add_reader("b")  # idempotent
    assert b.readers() == ["a", "b"]
    assert [s for s, _ in _drain(b, "b")] == list(range(1, 31))
    assert b.stats().segments > 1
    b.remove_reader("a")
    assert b.stats().segments == 1
    with pytest.raises(UnknownReader):
        b.read("a")


def test_acks_survive_restart_and_unacked_entries_are_replayed(make: Make, tmp_path: Path) -> None:
    d = tmp_path / "buf"
    b = make(d, segment_bytes=400, fsync="always")
    b.add_reader("ws")
    b.append_many([_payload(i) for i in range(30)])
    got = b.read("ws", max_entries=10)
    b.ack("ws", got[-1].seq)
    b.read("ws", max_entries=10)  # read but never acked: must come back after restart
    b.close()
    b2 = make(d, segment_bytes=400, fsync="always")
    assert b2.readers() == ["ws"]
    replay = _drain(b2, "ws")
    assert [s for s, _ in replay] == list(range(11, 31))
    assert b2.append(b"next") == 31  # clean restart continues the numbering


def test_ack_validation(make: Make) -> None:
    b = make()
    b.add_reader("ws")
    b.append_many([b"a", b"b", b"c"])
    with pytest.raises(ValueError, match="newest entry is 3"):
        b.ack("ws", 4)
    b.ack("ws", 2)  # ack without reading first is allowed: skips ahead
    assert [e.seq for e in b.read("ws")] == [3]
    b.ack("ws", 1)  # older ack is a no-op
    assert b.stats().pending == {"ws": 1}


def test_block_policy_raises_buffer_full_until_readers_ack(make: Make) -> None:
    b = make(max_bytes=8192, segment_bytes=1024, overflow="block")
    b.add_reader("ws")
    n = 0
    with pytest.raises(BufferFull, match="full"):
        while True:
            b.append(_payload(n, 100))
            n += 1
    st = b.stats()
    assert st.bytes <= 8192 and st.dropped_entries == 0 and st.entries == n
    assert not b.wait_for_space(200, timeout=0.05)
    waiter_result: list[bool] = []
    waiter = threading.Thread(target=lambda: waiter_result.append(b.wait_for_space(200, timeout=10)))
    waiter.start()
    got = b.read("ws", max_entries=30)
    b.ack("ws", got[-1].seq)
    waiter.join()
    assert waiter_result == [True]
    b.append(_payload(n, 100))
    assert [p for _, p in _drain(b, "ws")] == [_payload(i, 100) for i in range(30, n + 1)]


def test_drop_oldest_policy_drops_whole_segments_and_counts_them(make: Make) -> None:
    b = make(max_bytes=8192, segment_bytes=1024, overflow="drop_oldest")
    b.add_reader("slow")
    b.add_reader("fast")
    total = 500
    for i in range(total):
        b.append(_payload(i, 100))
        if i % 10 == 9:
            _drain(b, "fast")
    st = b.stats()
    assert st.bytes <= 8192
    assert st.dropped_entries > 0
    got = _drain(b, "slow")
    seqs = [s for s, _ in got]
    assert seqs == list(range(total - len(seqs) + 1, total + 1))  # the newest, contiguous
    assert st.dropped_entries + len(got) == total  # every entry either delivered or counted
    assert [p for _, p in got] == [_payload(i, 100) for i in range(total - len(got), total)]


def test_subscribers_are_called_after_each_append(make: Make) -> None:
    b = make()
    calls: list[int] = []
    b.subscribe(lambda: calls.append(b.stats().next_seq))
    b.subscribe(lambda: 1 / 0)  # a broken subscriber does not break appending
    b.append(b"a")
    b.append_many([b"b", b"c"])
    assert calls == [2, 4]


def test_second_open_of_the_same_directory_is_refused(make: Make, tmp_path: Path) -> None:
    make(tmp_path / "buf")
    with pytest.raises(BufferLocked, match="already open"):
        DiskBuffer(tmp_path / "buf")


def test_closed_buffer_refuses_calls(make: Make) -> None:
    b = make()
    b.close()
    b.close()  # idempotent
    with pytest.raises(BufferClosed):
        b.append(b"x")


def test_bad_arguments_name_the_argument(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="fsync"):
        DiskBuffer(tmp_path, fsync="sometimes")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="overflow"):
        DiskBuffer(tmp_path, overflow="explode")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="max_bytes"):
        DiskBuffer(tmp_path, max_bytes=10)


def test_concurrent_appenders_and_a_reader_lose_and_duplicate_nothing(make: Make) -> None:
    b = make(segment_bytes=4096, fsync="interval", fsync_interval=0.01)
    b.add_reader("ws")
    per_thread = 300
    got: list[bytes] = []
    done = threading.Event()

    def produce(t: int) -> None:
        for i in range(per_thread):
            if i % 3:
                b.append(f"{t}-{i}".encode())
            else:
                b.append_many([f"{t}-{i}".encode()])

    def consume() -> None:
        while not done.is_set() or b.stats().pending["ws"]:
            entries = b.read("ws", max_entries=50)
            if entries:
                got.extend(e.payload for e in entries)
                b.ack("ws", entries[-1].seq)

    producers = [threading.Thread(target=produce, args=(t,)) for t in range(4)]
    consumer = threading.Thread(target=consume)
    consumer.start()
    for p in producers:
        p.start()
    for p in producers:
        p.join()
    done.set()
    consumer.join(timeout=30)
    assert sorted(got) == sorted(f"{t}-{i}".encode() for t in range(4) for i in range(per_thread))
    assert b.stats().appended_entries == 4 * per_thread


def test_public_surface_is_the_runtime_contract() -> None:
    import inspect

    import calypso.agent.buffer as pkg

    assert {"BufferFull", "Entry", "BufferStats", "DiskBuffer"} <= set(pkg.__all__)
    params = inspect.signature(DiskBuffer.__init__).parameters
    assert list(params)[1:] == [
        "directory",
        "max_bytes",
        "segment_bytes",
        "fsync",
        "fsync_interval",
        "overflow",
    ]
    assert (params["max_bytes"].default, params["segment_bytes"].default) == (1 << 30, 16 << 20)
    assert (params["fsync"].default, params["overflow"].default) == ("interval", "block")
    for name in ("append", "append_many", "add_reader", "remove_reader", "readers", "read", "rewind", "ack"):
        assert callable(getattr(DiskBuffer, name))
    assert list(inspect.signature(DiskBuffer.read).parameters) == [
        "self",
        "reader",
        "max_entries",
        "max_bytes",
    ]
    fields = [f for f in pkg.BufferStats.__dataclass_fields__]
    assert fields[:7] == [
        "bytes",
        "segments",
        "entries",
        "pending",
        "dropped_entries",
        "corrupt_segments",
        "appended_entries",
    ]


def test_interval_mode_syncs_sealed_segments_in_the_background(
    make: Make, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With fsync="interval" the appending thread never waits for a sealed segment's fdatasync nor
    for the directory entry of a new one; the background thread syncs them, and everything reads
    back after a restart."""
    from calypso.agent.buffer import segment, syncer

    synced_on: list[str] = []
    real = segment.datasync

    def recording(fd: int) -> None:
        synced_on.append(threading.current_thread().name)
        real(fd)

    real_dir = segment.fsync_dir

    def recording_dir(path: Path) -> None:
        synced_on.append(threading.current_thread().name)
        real_dir(path)

    monkeypatch.setattr(segment, "datasync", recording)
    monkeypatch.setattr(syncer, "datasync", recording)
    monkeypatch.setattr(segment, "fsync_dir", recording_dir)
    monkeypatch.setattr(syncer, "fsync_dir", recording_dir)
    d = tmp_path / "buf"
    b = make(d, segment_bytes=400, fsync="interval", fsync_interval=30.0)
    b.add_reader("ws")
    synced_on.clear()  # opening syncs on this thread; appending must not
    b.append_many([_payload(i) for i in range(40)])  # several segments sealed and created here
    assert threading.current_thread().name not in synced_on
    b.close()  # waits for the background syncs of the sealed segments
    assert synced_on.count("calypso-buffer-fsync") >= 3
    b2 = make(d, segment_bytes=400, fsync="interval")
    assert [s for s, _ in _drain(b2, "ws")] == list(range(1, 41))


def test_appends_go_on_while_a_reader_reads_the_file(make: Make, monkeypatch: pytest.MonkeyPatch) -> None:
    """A sink reading (and checksumming) megabytes must not stall the sources' appends; the read
    still returns exactly the entries it found, and the next read continues after them."""
    from calypso.agent.buffer import segment

    b = make(segment_bytes=4000)
    b.add_reader("ws")
    b.append_many([_payload(i) for i in range(10)])
    reading, release = threading.Event(), threading.Event()
    real = segment.read_range

    def slow_read(*args: object, **kw: object) -> segment.ReadResult:
        reading.set()
        release.wait(10)
        return real(*args, **kw)  # type: ignore[arg-type]

    monkeypatch.setattr(segment, "read_range", slow_read)
    got: list[int] = []
    reader = threading.Thread(target=lambda: got.extend(e.seq for e in b.read("ws", max_entries=10)))
    reader.start()
    assert reading.wait(5)
    appended: list[int] = []
    done = threading.Event()

    def append() -> None:
        appended.extend(b.append_many([_payload(i) for i in range(10, 15)]))
        done.set()

    threading.Thread(target=append).start()
    assert done.wait(5), "the append waited for the read"
    release.set()
    reader.join(10)
    monkeypatch.setattr(segment, "read_range", real)
    assert appended == [11, 12, 13, 14, 15]
    assert got == list(range(1, 11))
    assert [e.seq for e in b.read("ws", max_entries=100)] == [11, 12, 13, 14, 15]
