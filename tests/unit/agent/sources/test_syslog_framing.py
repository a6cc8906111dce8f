"""RFC 6587 stream framing: LF and octet-counting, split reads, oversized frames."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from calypso.agent.sources.syslog.framing import StreamFramer


def test_lf_and_octet_counted_frames_mixed() -> None:
    f = StreamFramer(1000)
    msg = b"<13>Nov 25 10:00:00 h p: line one\nline two"
    out = f.feed(b"<13>a\n" + b"%d " % len(msg) + msg + b"<14>b\r\n")
    assert out == [b"<13>a", msg, b"<14>b\r"]


def test_frames_split_across_reads_byte_by_byte() -> None:
    stream = b"12 <13>abcdefgh<13>line\n5 <13>x"
    f = StreamFramer(1000)
    out: list[bytes] = []
    for i in range(len(stream)):
        out += f.feed(stream[i : i + 1])
    assert out == [b"<13>abcdefgh", b"<13>line", b"<13>x"]


def test_unterminated_last_line_is_flushed_on_close() -> None:
    f = StreamFramer(1000)
    assert f.feed(b"<13>tail") == []
    assert f.close() == [b"<13>tail"]


def test_oversized_lf_frame_is_cut_and_rest_skipped() -> None:
    f = StreamFramer(10)
    out = f.feed(b"<13>" + b"x" * 30 + b"\n<13>ok\n")
    assert out == [b"<13>xxxxxx", b"<13>ok"]
    assert f.oversized == 1


def test_oversized_octet_frame_is_cut_and_rest_skipped_across_reads() -> None:
    f = StreamFramer(10)
    out = f.feed(b"30 " + b"y" * 12)
    out += f.feed(b"y" * 18 + b"4 <1>z")
    assert out == [b"y" * 10, b"<1>z"]
    assert f.oversized == 1


def test_memory_stays_bounded_without_newlines() -> None:
    f = StreamFramer(100)
    for _ in range(1000):
        f.feed(b"a" * 1000)
    assert len(f.buf) <= 100 + 1000


@settings(max_examples=300, deadline=None)
@given(st.lists(st.binary(max_size=200), max_size=20), st.integers(min_value=1, max_value=64))
def test_fuzz_never_raises_and_frames_are_bounded(chunks: list[bytes], limit: int) -> None:
    f = StreamFramer(limit)
    for chunk in chunks:
        assert all(len(frame) <= limit for frame in f.feed(chunk))
    assert all(len(frame) <= limit for frame in f.close())
