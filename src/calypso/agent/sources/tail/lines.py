"""Bytes of a file -> complete lines of text, with their end offsets, never raising.

Invariants:
- A line is handed out only once its newline has been read (a partial last line waits, unless
  `flush` is called because the file is gone); `safe_offset` is the file offset just after the last
  line handed out, so a checkpoint at `safe_offset` never skips nor repeats a line.
- Lines longer than `max_line_bytes` are cut to that size and counted; the rest of such a line is
  dropped without being buffered, so memory stays bounded whatever the input.
- Invalid bytes decode to U+FFFD (counted per line); NUL bytes (left by copy-truncate on sparse
  files) are removed and counted; a trailing CR is dropped.
- Encoding: a BOM at offset 0 wins (UTF-8, UTF-16 LE/BE); otherwise the configured one (`utf-16`
  means little-endian). UTF-16 newlines are matched only on code-unit boundaries.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from itertools import accumulate

BOMS: tuple[tuple[bytes, str], ...] = (
    (b"\xef\xbb\xbf", "utf-8"),
    (b"\xff\xfe", "utf-16-le"),
    (b"\xfe\xff", "utf-16-be"),
)
NEWLINES = {"utf-8": b"\n", "utf-16-le": b"\n\x00", "utf-16-be": b"\x00\n"}


def detect(head: bytes, configured: str) -> tuple[str, int]:
    """(codec, BOM length) for a file whose first bytes are `head`."""
    for bom, codec in BOMS:
        if head.startswith(bom):
            return codec, len(bom)
    return ("utf-16-le" if configured == "utf-16" else configured), 0


@dataclass
class LineCounters:
    lines: int = 0
    truncated: int = 0
    invalid: int = 0
    nul_bytes: int = 0


@dataclass
class LineSplitter:
    codec: str
    max_line_bytes: int
    safe_offset: int
    counters: LineCounters = field(default_factory=LineCounters)
    _buf: bytes = b""
    _discarding: bool = False

    @property
    def newline(self) -> bytes:
        return NEWLINES[self.codec]

    def feed(self, data: bytes) -> list[tuple[str, int]]:
        """Split `data` (the bytes right after everything fed before) into (line, end offset)."""
        buf = self._buf + data if self._buf else data
        base = self.safe_offset  # file offset of buf[0]
        out, start = self._feed_fast(buf, base)
        return self._split(buf, base, out, start)

    def feed_joined(self, data: bytes) -> tuple[str, int]:
        """Like `feed`, for lines that leave as one string: (the lines joined by "\n", how many).

        No line holds a newline, so the count is exact. Plain ASCII takes one decode and no object
        per line; anything else goes line by line, as `feed` does.
        """
        buf = self._buf + data if self._buf else data
        base = self.safe_offset
        fast = self._ascii_block(buf)
        if fast is None:
            lines = self._split(buf, base, [], 0)
            return "\n".join([text for text, _ in lines]), len(lines)
        text, count, consumed = fast
        cut = self._split(buf, base, [], consumed)  # the cut of an overlong partial line, if any
        if cut:
            text = "\n".join([text, *(t for t, _ in cut)])
        return text, count + len(cut)

    def _split(self, buf: bytes, base: int, out: list[tuple[str, int]], start: int) -> list[tuple[str, int]]:
        """Line by line from `buf[start:]`, then keep the partial last line (or cut an overlong one)."""
        nl = self.newline
        width = len(nl)
        n = len(buf)
        while start < n:
            pos = buf.find(nl, start)
            while pos >= 0 and width == 2 and (pos - start) % 2:
                pos = buf.find(nl, pos + 1)
            if pos < 0:
                break
            end = pos + width
            if self._discarding:
                self._discarding = False
            else:
                out.append((self._decode(buf[start:pos]), base + end))
            start = end
        rest = buf[start:]
        self.safe_offset = base + start
        if self._discarding:
            self.safe_offset += len(rest)
            rest = b""
        elif len(rest) > self.max_line_bytes:
            cut = self.max_line_bytes - (self.max_line_bytes % width)
            self.counters.truncated += 1
            out.append((self._decode(rest[:cut], counted=False), base + start + len(rest)))
            self.safe_offset += len(rest)
            rest = b""
            self._discarding = True
        self._buf = rest
        return out

    def _feed_fast(self, buf: bytes, base: int) -> tuple[list[tuple[str, int]], int]:
        """All complete lines of plain ASCII text at once: one decode and one split, C speed."""
        fast = self._ascii_block(buf)
        if fast is None:
            return [], 0
        text, _, consumed = fast
        lines = text.split("\n")
        ends = accumulate((len(line) + 1 for line in lines), initial=base)
        next(ends)
        return list(zip(lines, ends, strict=True)), consumed

    def _ascii_block(self, buf: bytes) -> tuple[str, int, int] | None:
        """(the complete lines joined by "\n", how many, bytes they take) when all are plain ASCII.

        None — leaving everything to the careful per-line loop — whenever a line might need work:
        non-ASCII or invalid bytes, NUL, CR, an overlong line, or an overlong line being discarded.
        Either way the lines, offsets and counters come out the same.
        """
        if self.codec != "utf-8" or self._discarding:
            return None
        last = buf.rfind(b"\n")
        if last < 0 or not buf.isascii():
            return None
        block = buf[:last]
        if b"\x00" in block or b"\r" in block or not _lines_within(block, self.max_line_bytes):
            return None
        count = block.count(b"\n") + 1
        self.counters.lines += count
        return block.decode("ascii"), count, last + 1

    def flush(self) -> list[tuple[str, int]]:
        """The pending partial line, if any (its file will not grow any more)."""
        if not self._buf:
            return []
        line = self._decode(self._buf)
        self.safe_offset += len(self._buf)
        self._buf = b""
        return [(line, self.safe_offset)]

    @property
    def pending_bytes(self) -> int:
        return len(self._buf)

    def _decode(self, raw: bytes, counted: bool = True) -> str:
        c = self.counters
        c.lines += 1
        if counted and len(raw) > self.max_line_bytes:
            raw = raw[: self.max_line_bytes - (self.max_line_bytes % len(self.newline))]
            c.truncated += 1
        if self.codec == "utf-8":
            if b"\x00" in raw:
                c.nul_bytes += raw.count(b"\x00")
                raw = raw.replace(b"\x00", b"")
            text = raw.decode("utf-8", "replace")
        else:
            text = raw.decode(self.codec, "replace")
            if "\x00" in text:
                c.nul_bytes += text.count("\x00")
                text = text.replace("\x00", "")
        if "\ufffd" in text:
            c.invalid += 1
        return text[:-1] if text.endswith("\r") else text


def _lines_within(block: bytes, limit: int) -> bool:
    """No line of `block` is longer than `limit` bytes, checked without splitting where it can be.

    A line longer than `limit` covers a whole aligned window of `limit // 2` bytes, so when every
    such window holds a newline there is none; otherwise (or for small limits) look line by line.
    """
    width = limit // 2
    if len(block) <= limit:
        return True
    if width >= 4096 and all(
        block.find(b"\n", i, i + width) >= 0 for i in range(0, len(block) - width + 1, width)
    ):
        return True
    return max(map(len, block.split(b"\n"))) <= limit
