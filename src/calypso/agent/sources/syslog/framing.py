"""Splitting a syslog byte stream (TCP, Unix stream) into messages, RFC 6587.

Invariants: each frame is detected on its own — a frame starting with a digit is octet-counted
(`LEN SP MSG`), anything else ends at LF (a trailing CR is dropped by the parser). No frame handed
out is longer than `max_bytes`: a longer one is cut to `max_bytes` and the rest of it discarded, and
`oversized` counts it. Memory held is bounded by `max_bytes` plus one read, whatever the peer sends.
"""

from __future__ import annotations

_MAX_LEN_DIGITS = 10


class StreamFramer:
    def __init__(self, max_bytes: int) -> None:
        self.max_bytes = max_bytes
        self.buf = bytearray()
        self.skip = 0  # bytes of an oversized octet-counted frame still to discard
        self.skip_line = False  # discarding the rest of an oversized LF frame
        self.oversized = 0

    def feed(self, data: bytes) -> list[bytes]:
        """Frames completed by `data`, in order."""
        buf = self.buf
        buf += data
        out: list[bytes] = []
        pos = 0
        n = len(buf)
        while pos < n:
            if self.skip:
                take = min(self.skip, n - pos)
                self.skip -= take
                pos += take
                continue
            if self.skip_line:
                nl = buf.find(b"\n", pos)
                if nl < 0:
                    pos = n
                    break
                self.skip_line = False
                pos = nl + 1
                continue
            c = buf[pos]
            if 48 <= c <= 57:  # octet counting
                sp = buf.find(b" ", pos, pos + _MAX_LEN_DIGITS + 1)
                if sp < 0 and n - pos <= _MAX_LEN_DIGITS:
                    break  # length not complete yet
                digits = bytes(buf[pos:sp]) if sp > 0 else b""
                if digits.isdigit():
                    length = int(digits)
                    start = sp + 1
                    if length > self.max_bytes:
                        self.oversized += 1
                        if n - start < self.max_bytes:
                            break  # wait until the part we keep is here
                        out.append(bytes(buf[start : start + self.max_bytes]))
                        self.skip = length - self.max_bytes
                        pos = start + self.max_bytes
                        continue
                    if n - start < length:
                        break
                    out.append(bytes(buf[start : start + length]))
                    pos = start + length
                    continue
                # a digit that does not begin a length: fall through to LF framing
            if c in (10, 13, 0):  # stray separators between frames
                pos += 1
                continue
            nl = buf.find(b"\n", pos, pos + self.max_bytes + 1)
            if nl >= 0:
                out.append(bytes(buf[pos:nl]))
                pos = nl + 1
                continue
            if n - pos > self.max_bytes:
                self.oversized += 1
                out.append(bytes(buf[pos : pos + self.max_bytes]))
                pos += self.max_bytes
                self.skip_line = True
                continue
            break
        del buf[:pos]
        return out

    def close(self) -> list[bytes]:
        """The unterminated last frame, if any (a peer may close without a final LF)."""
        rest = bytes(self.buf).strip(b"\r\n\x00")
        self.buf.clear()
        if self.skip or self.skip_line or not rest:
            return []
        return [rest[: self.max_bytes]]
