"""On-disk format of the agent's buffer segments; pure functions, no I/O.

A segment file starts with a 24-byte header::

    magic   8 bytes  b"CLYPSOB\\x00"
    version u16      1
    flags   u16      0 (reserved)
    first   u64      sequence number of the segment's first entry
    crc     u32      zlib.crc32 of the 20 bytes above

followed by entries, each::

    length  u32      payload length in bytes
    seq     u64      the entry's sequence number
    crc     u32      zlib.crc32 of length+seq (12 bytes) then the payload
    payload length bytes, opaque

All integers are little-endian. Inside one segment the sequence numbers are contiguous
(``first``, ``first + 1``, ...); between segments they only increase. Sequence number 0 is
never used, so a run of zero bytes can never parse as a valid entry.

The invariant this module keeps: :func:`parse_entries` accepts an entry only if its length fits,
its sequence number is the expected one and its checksum matches; anything else stops the parse
and says why, so a torn or corrupt entry is never handed to a reader.
"""

from __future__ import annotations

import re
import struct
import zlib
from dataclasses import dataclass

MAGIC = b"CLYPSOB\x00"
VERSION = 1
SEGMENT_HEADER = struct.Struct("<8sHHQI")
SEGMENT_HEADER_SIZE = SEGMENT_HEADER.size
_SEGMENT_HEADER_BODY = struct.Struct("<8sHHQ")
ENTRY_PREFIX = struct.Struct("<IQ")
ENTRY_HEADER = struct.Struct("<IQI")
ENTRY_HEADER_SIZE = ENTRY_HEADER.size
MAX_PAYLOAD = (1 << 32) - 1

_NAME = re.compile(r"^(\d{20})(?:-(\d{20}))?\.seg$")


class FormatError(ValueError):
    """A segment header or file name is not in this module's format."""


def segment_name(first: int, last: int | None = None) -> str:
    """File name of a segment: ``<first>.seg`` while open, ``<first>-<last>.seg`` once sealed."""
    if last is None:
        return f"{first:020d}.seg"
    return f"{first:020d}-{last:020d}.seg"


def parse_segment_name(name: str) -> tuple[int, int | None] | None:
    """``(first, last)`` from a segment file name (``last`` is None for an open segment), or None."""
    m = _NAME.match(name)
    if m is None:
        return None
    return int(m.group(1)), (int(m.group(2)) if m.group(2) is not None else None)


def pack_segment_header(first: int) -> bytes:
    body = _SEGMENT_HEADER_BODY.pack(MAGIC, VERSION, 0, first)
    return body + struct.pack("<I", zlib.crc32(body))


def parse_segment_header(data: bytes) -> int:
    """The first sequence number stored in a segment header; raises FormatError if it is not valid."""
    if len(data) < SEGMENT_HEADER_SIZE:
        raise FormatError(f"segment header is {len(data)} bytes, expected {SEGMENT_HEADER_SIZE}")
    magic, version, _flags, first, crc = SEGMENT_HEADER.unpack_from(data)
    if magic != MAGIC:
        raise FormatError("segment header has a wrong magic number")
    if zlib.crc32(data[: SEGMENT_HEADER_SIZE - 4]) != crc:
        raise FormatError("segment header checksum mismatch")
    if version != VERSION:
        raise FormatError(f"segment format version {version} is not supported (expected {VERSION})")
    if first < 1:
        raise FormatError("segment header names sequence number 0")
    return int(first)


def entry_header(seq: int, payload: bytes) -> bytes:
    """The header that goes in front of `payload` (written next to it, not copied into one piece)."""
    prefix = ENTRY_PREFIX.pack(len(payload), seq)
    crc = zlib.crc32(payload, zlib.crc32(prefix))
    return prefix + crc.to_bytes(4, "little")


def pack_entry(seq: int, payload: bytes) -> bytes:
    """One entry, header and payload, in one piece."""
    return entry_header(seq, payload) + payload


def entry_size(payload_len: int) -> int:
    return ENTRY_HEADER_SIZE + payload_len


@dataclass(frozen=True)
class Parsed:
    """Result of parsing entries out of one buffer.

    ``entries`` holds ``(seq, payload)`` pairs; ``consumed`` is how many bytes of the buffer they
    took. ``need`` > 0 means the next entry is complete only with ``need`` bytes from ``consumed``
    (the buffer ended inside it). ``error`` names why parsing stopped at ``consumed`` when the bytes
    there are not a valid entry.
    """

    entries: list[tuple[int, bytes]]
    consumed: int
    need: int = 0
    error: str | None = None


def parse_entries(
    buf: bytes | memoryview,
    expected_seq: int,
    *,
    max_entries: int,
    max_bytes: int,
    end_is_eof: bool = False,
    first_may_exceed: bool = True,
) -> Parsed:
    """Parse consecutive entries from ``buf`` starting with sequence number ``expected_seq``.

    Stops after ``max_entries`` entries, or before an entry that would take the payload total past
    ``max_bytes`` (the first entry may exceed it when ``first_may_exceed``, so a big entry is never
    stuck). When the buffer ends inside an
    entry, ``need`` says how many bytes that entry needs — unless ``end_is_eof``, in which case the
    partial entry is an error (a torn tail).
    """
    mv = memoryview(buf)
    size = len(mv)
    pos = 0
    seq = expected_seq
    total = 0
    out: list[tuple[int, bytes]] = []
    hsize = ENTRY_HEADER_SIZE
    unpack = ENTRY_HEADER.unpack_from
    crc32 = zlib.crc32
    while len(out) < max_entries:
        if size - pos < hsize:
            if pos == size:
                return Parsed(out, pos)
            if end_is_eof:
                return Parsed(out, pos, error=f"torn entry header ({size - pos} of {hsize} bytes)")
            return Parsed(out, pos, need=hsize)
        length, got_seq, crc = unpack(mv, pos)
        if got_seq != seq:
            return Parsed(out, pos, error=f"sequence number {got_seq} where {seq} was expected")
        end = pos + hsize + length
        if end > size:
            if end_is_eof:
                return Parsed(out, pos, error=f"torn entry ({size - pos} of {hsize + length} bytes)")
            if (out or not first_may_exceed) and total + length > max_bytes:
                return Parsed(out, pos)
            return Parsed(out, pos, need=hsize + length)
        if (out or not first_may_exceed) and total + length > max_bytes:
            return Parsed(out, pos)
        payload = mv[pos + hsize : end]
        if crc32(payload, crc32(mv[pos : pos + 12])) != crc:
            return Parsed(out, pos, error=f"checksum mismatch in entry {seq}")
        out.append((seq, payload.tobytes()))
        total += length
        pos = end
        seq += 1
    return Parsed(out, pos)


def walk_headers(buf: bytes | memoryview, expected_seq: int, stop_seq: int) -> tuple[int, int, bool]:
    """Skip entries by their headers only, up to (not including) ``stop_seq``.

    Returns ``(consumed, next_seq, ok)``: ``ok`` is False if a header does not carry the expected
    sequence number. ``consumed`` may exceed ``len(buf)`` when the last skipped payload runs past it. Used to find the byte offset of a sequence number without reading payloads.
    """
    mv = memoryview(buf)
    size = len(mv)
    pos = 0
    seq = expected_seq
    while seq < stop_seq and size - pos >= ENTRY_HEADER_SIZE:
        length, got_seq, _crc = ENTRY_HEADER.unpack_from(mv, pos)
        if got_seq != seq:
            return pos, seq, False
        pos += ENTRY_HEADER_SIZE + length
        seq += 1
    return pos, seq, True
