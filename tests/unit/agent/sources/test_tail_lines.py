"""Hypothesis fuzz of the line splitter: however bytes are chunked, the lines and offsets are the same."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from calypso.agent.sources.tail.lines import LineSplitter, detect


def split_all(
    data: bytes, cuts: list[int], codec: str = "utf-8", max_line: int = 4096
) -> list[tuple[str, int]]:
    s = LineSplitter(codec, max_line, 0)
    out: list[tuple[str, int]] = []
    pos = 0
    for c in [*sorted(set(cuts)), len(data)]:
        if c > pos:
            out += s.feed(data[pos:c])
            pos = c
    return out


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=3000), st.lists(st.integers(0, 3000), max_size=10))
def test_chunking_never_changes_lines(data: bytes, cuts: list[int]) -> None:
    whole = split_all(data, [])
    assert split_all(data, [c for c in cuts if c <= len(data)]) == whole
    # every complete line comes out, and offsets point just after each newline
    assert len(whole) == data.count(b"\n")
    assert all(data[end - 1 : end] == b"\n" for _, end in whole)


@settings(max_examples=200, deadline=None)
@given(
    # Surrogates (category Cs) are not text that any file can hold in UTF-16.
    st.lists(
        st.text(
            alphabet=st.characters(blacklist_characters="\n\r\x00", blacklist_categories=("Cs",)), max_size=40
        ),
        max_size=20,
    ),
    st.lists(st.integers(0, 2000), max_size=8),
)
def test_utf16_roundtrip(lines: list[str], cuts: list[int]) -> None:
    data = "".join(f"{line}\n" for line in lines).encode("utf-16-le")
    got = split_all(data, [c for c in cuts if c <= len(data)], codec="utf-16-le", max_line=1 << 20)
    assert [t for t, _ in got] == lines


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=5000))
def test_lines_never_exceed_limit(data: bytes) -> None:
    for text, _ in split_all(data, [100, 900], max_line=64):
        assert len(text.encode("utf-8", "surrogatepass")) <= 64 * 3  # 64 bytes -> at most 64 chars


def test_bom_detection() -> None:
    assert detect(b"\xff\xfeh\x00", "utf-8") == ("utf-16-le", 2)
    assert detect(b"\xef\xbb\xbfx", "utf-16") == ("utf-8", 3)
    assert detect(b"plain", "utf-16") == ("utf-16-le", 0)


# Chunks of a file as they may arrive: plain text, random bytes, and the cases that need care.
CHUNKS = st.lists(
    st.one_of(
        st.text(alphabet="abc xyz\n", max_size=40).map(str.encode),
        st.binary(max_size=20),
        st.sampled_from([b"\n", b"\r\n", b"\x00", "é\n".encode(), b"\xff\n", b"a" * 30 + b"\n"]),
    ),
    max_size=12,
)


class _CarefulOnly(LineSplitter):
    """The per-line loop alone: the reference the whole-block fast path must agree with."""

    def _feed_fast(self, buf: bytes, base: int) -> tuple[list[tuple[str, int]], int]:
        return [], 0


@settings(max_examples=300, deadline=None)
@given(
    CHUNKS,
    st.integers(min_value=4, max_value=64),
)
def test_fast_path_gives_the_same_lines_offsets_and_counters(chunks: list[bytes], max_line: int) -> None:
    fast, careful = LineSplitter("utf-8", max_line, 0), _CarefulOnly("utf-8", max_line, 0)
    got = [line for c in chunks for line in fast.feed(c)] + fast.flush()
    want = [line for c in chunks for line in careful.feed(c)] + careful.flush()
    assert got == want
    assert fast.counters == careful.counters
    assert fast.safe_offset == careful.safe_offset


@settings(max_examples=300, deadline=None)
@given(
    CHUNKS,
    st.sampled_from([4, 9, 64, 8192, 9000]),
)
def test_joined_lines_are_the_lines_joined(chunks: list[bytes], max_line: int) -> None:
    """Each feed_joined gives exactly what feed gives for the same bytes, as one string."""
    joined, lines = LineSplitter("utf-8", max_line, 0), _CarefulOnly("utf-8", max_line, 0)
    for chunk in chunks:
        want = lines.feed(chunk)
        assert joined.feed_joined(chunk) == ("\n".join(t for t, _ in want), len(want))
        assert joined.safe_offset == lines.safe_offset
    assert joined.flush() == lines.flush()
    assert joined.counters == lines.counters


def test_blocks_longer_than_the_line_limit_are_checked_exactly() -> None:
    """A block longer than the line limit (checked by windows, not split) keeps its short lines
    whole and still cuts the one line that is too long."""
    block = b"".join(b"line %d of a long block\n" % i for i in range(20_000))
    s = LineSplitter("utf-8", 16 * 1024, 0)
    text, count = s.feed_joined(block)
    assert count == 20_000 and text.split("\n")[-1] == "line 19999 of a long block"
    long_line = b"x" * 20_000 + b"\n"
    s = LineSplitter("utf-8", 16 * 1024, 0)
    text, count = s.feed_joined(block + long_line + block)
    assert count == 40_001 and s.counters.truncated == 1
    assert len(text.split("\n")[20_000]) == 16 * 1024
