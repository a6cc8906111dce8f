"""Random append/read/ack/rewind/reopen sequences checked against a plain in-memory model."""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule

from calypso.agent.buffer import BufferFull, DiskBuffer

READERS = ("ws-a", "ws-b")
payloads = st.binary(max_size=300)


class BufferModel(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.dir = Path(tempfile.mkdtemp(prefix="calypso-buffer-model-"))
        self.entries: dict[int, bytes] = {}
        self.next_seq = 1
        self.acked = dict.fromkeys(READERS, 0)
        self.read_to = dict.fromkeys(READERS, 0)  # last seq handed out by read()
        self.buf: DiskBuffer

    @initialize(segment_bytes=st.sampled_from([64, 256, 1024]))
    def open(self, segment_bytes: int) -> None:
        self.segment_bytes = segment_bytes
        self.buf = DiskBuffer(self.dir, segment_bytes=segment_bytes, fsync="never")
        for r in READERS:
            self.buf.add_reader(r)

    def teardown(self) -> None:
        if hasattr(self, "buf"):
            self.buf.close()
        shutil.rmtree(self.dir, ignore_errors=True)

    @rule(payload=payloads)
    def append(self, payload: bytes) -> None:
        assert self.buf.append(payload) == self.next_seq
        self.entries[self.next_seq] = payload
        self.next_seq += 1

    @rule(batch=st.lists(payloads, max_size=6))
    def append_many(self, batch: list[bytes]) -> None:
        seqs = self.buf.append_many(batch)
        assert seqs == list(range(self.next_seq, self.next_seq + len(batch)))
        for s, p in zip(seqs, batch, strict=True):
            self.entries[s] = p
        self.next_seq += len(batch)

    @rule(reader=st.sampled_from(READERS), max_entries=st.integers(1, 12), max_bytes=st.integers(1, 900))
    def read(self, reader: str, max_entries: int, max_bytes: int) -> None:
        expected: list[tuple[int, bytes]] = []
        total = 0
        for s in range(self.read_to[reader] + 1, self.next_seq):
            p = self.entries[s]
            if len(expected) == max_entries or (expected and total + len(p) > max_bytes):
                break
            expected.append((s, p))
            total += len(p)
        got = self.buf.read(reader, max_entries=max_entries, max_bytes=max_bytes)
        assert [(e.seq, e.payload) for e in got] == expected
        if got:
            self.read_to[reader] = got[-1].seq

    @rule(reader=st.sampled_from(READERS), k=st.integers(0, 1 << 20), only_read=st.booleans())
    def ack(self, reader: str, k: int, only_read: bool) -> None:
        hi = self.read_to[reader] if only_read else self.next_seq - 1
        if hi <= self.acked[reader]:
            return
        seq = self.acked[reader] + 1 + k % (hi - self.acked[reader])
        self.buf.ack(reader, seq)
        self.acked[reader] = seq
        self.read_to[reader] = max(self.read_to[reader], seq)

    @rule(reader=st.sampled_from(READERS))
    def rewind(self, reader: str) -> None:
        self.buf.rewind(reader)
        self.read_to[reader] = self.acked[reader]

    @rule()
    def reopen(self) -> None:
        self.buf.close()
        self.buf = DiskBuffer(self.dir, segment_bytes=self.segment_bytes, fsync="never")
        assert self.buf.readers() == sorted(READERS)
        self.read_to = dict(self.acked)

    @invariant()
    def stats_match_the_model(self) -> None:
        if not hasattr(self, "buf"):
            return
        st_ = self.buf.stats()
        assert st_.pending == {r: self.next_seq - 1 - a for r, a in self.acked.items()}
        assert st_.next_seq == self.next_seq
        assert st_.entries >= self.next_seq - 1 - min(self.acked.values())
        on_disk = [p for p in self.dir.iterdir() if p.name.endswith(".seg")]
        assert len(on_disk) == st_.segments
        assert sum(p.stat().st_size for p in on_disk) == st_.bytes
        assert st_.corrupt_segments == 0 and st_.dropped_entries == 0


BufferModel.TestCase.settings = settings(
    max_examples=60,
    stateful_step_count=40,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
TestBufferModel = BufferModel.TestCase


ops = st.lists(
    st.one_of(
        st.tuples(st.just("append"), st.integers(0, 700)),
        st.tuples(st.just("burst"), st.integers(1, 20)),
        st.tuples(st.just("read"), st.integers(1, 20)),
        st.tuples(st.just("ack"), st.integers(0, 100)),
        st.just(("reopen", 0)),
    ),
    max_size=80,
)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(ops=ops, overflow=st.sampled_from(["block", "drop_oldest"]))
def test_capped_buffer_accounts_for_every_entry(ops: list[tuple[str, int]], overflow: str) -> None:
    """Under the cap, every appended entry is acked, pending or counted as dropped — never lost silently."""
    d = Path(tempfile.mkdtemp(prefix="calypso-buffer-cap-"))
    kw: dict = {"max_bytes": 4096, "segment_bytes": 1024, "fsync": "never", "overflow": overflow}
    b = DiskBuffer(d, **kw)
    try:
        b.add_reader("ws")
        appended = acked = dropped_before = 0
        last_read = 0
        for op, n in ops:
            if op in ("append", "burst"):
                for size in [n] if op == "append" else [300] * n:
                    try:
                        b.append(bytes([size % 251]) * size)
                        appended += 1
                    except BufferFull:
                        assert overflow == "block"
            elif op == "read":
                got = b.read("ws", max_entries=n)
                if got:
                    assert [e.seq for e in got] == sorted({e.seq for e in got})
                    assert all(e.payload == bytes([len(e.payload) % 251]) * len(e.payload) for e in got)
                    last_read = got[-1].seq
            elif op == "ack" and last_read:
                st_ = b.stats()
                before = st_.pending["ws"]
                b.ack("ws", last_read)
                acked += before - b.stats().pending["ws"]
            elif op == "reopen":
                dropped_before += b.stats().dropped_entries
                b.close()
                b = DiskBuffer(d, **kw)
                last_read = 0
            st_ = b.stats()
            assert st_.bytes <= 4096
            assert acked + dropped_before + st_.dropped_entries + st_.pending["ws"] == appended
            if overflow == "block":
                assert st_.dropped_entries == 0
    finally:
        b.close()
        shutil.rmtree(d, ignore_errors=True)
