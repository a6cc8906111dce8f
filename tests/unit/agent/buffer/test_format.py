"""The segment/entry byte format: what is accepted, and that damage is always caught."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from calypso.agent.buffer.format import (
    ENTRY_HEADER_SIZE,
    FormatError,
    pack_entry,
    pack_segment_header,
    parse_entries,
    parse_segment_header,
    parse_segment_name,
    segment_name,
    walk_headers,
)
from calypso.agent.buffer.segment import IOV_MAX, write_pieces


def _entries(n: int, first: int = 1) -> bytes:
    return b"".join(pack_entry(first + i, f"payload-{i}".encode() * (i + 1)) for i in range(n))


def test_roundtrip_entries() -> None:
    buf = _entries(5, first=7)
    parsed = parse_entries(buf, 7, max_entries=100, max_bytes=1 << 20, end_is_eof=True)
    assert parsed.error is None
    assert parsed.consumed == len(buf)
    assert [s for s, _ in parsed.entries] == [7, 8, 9, 10, 11]
    assert parsed.entries[2][1] == b"payload-2" * 3


def test_limits_entries_and_bytes_but_never_stuck_on_a_big_entry() -> None:
    buf = _entries(5)
    assert len(parse_entries(buf, 1, max_entries=2, max_bytes=1 << 20).entries) == 2
    one = parse_entries(buf, 1, max_entries=10, max_bytes=1)
    assert [s for s, _ in one.entries] == [1]  # bigger than max_bytes, still returned alone
    none = parse_entries(buf, 1, max_entries=10, max_bytes=1, first_may_exceed=False)
    assert none.entries == [] and none.error is None


@pytest.mark.parametrize("cut", [1, ENTRY_HEADER_SIZE - 1, ENTRY_HEADER_SIZE, ENTRY_HEADER_SIZE + 3])
def test_torn_tail_is_an_error_at_eof_and_a_need_otherwise(cut: int) -> None:
    buf = _entries(3)
    last = pack_entry(4, b"x" * 40)
    torn = buf + last[:cut]
    at_eof = parse_entries(torn, 1, max_entries=100, max_bytes=1 << 20, end_is_eof=True)
    assert [s for s, _ in at_eof.entries] == [1, 2, 3]
    assert at_eof.consumed == len(buf)
    assert at_eof.error is not None and "torn" in at_eof.error
    more = parse_entries(torn, 1, max_entries=100, max_bytes=1 << 20)
    assert more.error is None and more.need > 0


def test_every_single_byte_flip_in_an_entry_is_detected() -> None:
    good = pack_entry(5, b"hello world, this is an entry")
    for i in range(len(good)):
        bad = bytearray(good)
        bad[i] ^= 0x40
        parsed = parse_entries(bytes(bad), 5, max_entries=10, max_bytes=1 << 20, end_is_eof=True)
        assert parsed.entries == [], f"flip at byte {i} went unnoticed"
        assert parsed.error is not None


def test_zero_bytes_never_parse_as_an_entry() -> None:
    parsed = parse_entries(bytes(4096), 1, max_entries=10, max_bytes=1 << 20, end_is_eof=True)
    assert parsed.entries == [] and parsed.error is not None


def test_segment_header_roundtrip_and_damage() -> None:
    header = pack_segment_header(123456789)
    assert parse_segment_header(header) == 123456789
    for i in range(len(header)):
        bad = bytearray(header)
        bad[i] ^= 1
        with pytest.raises(FormatError):
            parse_segment_header(bytes(bad))
    with pytest.raises(FormatError):
        parse_segment_header(header[:10])


def test_segment_names() -> None:
    assert parse_segment_name(segment_name(42)) == (42, None)
    assert parse_segment_name(segment_name(42, 99)) == (42, 99)
    assert parse_segment_name("readers.json") is None
    assert parse_segment_name("00000000000000000042.seg.corrupt") is None


def test_walk_headers_finds_offsets_without_reading_payloads() -> None:
    buf = _entries(6, first=10)
    consumed, seq, ok = walk_headers(buf, 10, 13)
    assert ok and seq == 13
    assert parse_entries(buf[consumed:], 13, max_entries=1, max_bytes=1 << 20).entries[0][0] == 13


def test_pieces_land_as_one_run_of_bytes(tmp_path: Path) -> None:
    """Appends write headers and payloads side by side (no joined copy): more pieces than one writev
    takes, and empty ones, still land whole and in order."""
    pieces = [f"piece-{i};".encode() * (i % 7) for i in range(3 * IOV_MAX + 5)]
    path = tmp_path / "seg"
    fd = os.open(path, os.O_WRONLY | os.O_CREAT)
    try:
        write_pieces(fd, pieces)
    finally:
        os.close(fd)
    assert path.read_bytes() == b"".join(pieces)
