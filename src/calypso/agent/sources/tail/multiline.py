"""Joins lines into multi-line records: a line matching the start pattern begins a new record.

Invariant: `safe_offset` is the end offset of the last record handed out (or, with nothing
pending, of the last line pushed), so a checkpoint there never cuts a record in two: a restart
re-reads a pending record from its first line. A record larger than `max_bytes` is cut (counted).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field


@dataclass
class Multiline:
    start: re.Pattern[str]
    max_bytes: int
    safe_offset: int
    truncated: int = 0
    _lines: list[str] = field(default_factory=list)
    _size: int = 0
    _end: int = 0

    def push(self, lines: list[tuple[str, int]]) -> list[tuple[str, int]]:
        out: list[tuple[str, int]] = []
        for text, end in lines:
            if self._lines and self.start.search(text):
                out.append(self._take())
            if self._size <= self.max_bytes:
                self._lines.append(text)
                self._size += len(text) + 1
            self._end = end
        return out

    def flush(self) -> list[tuple[str, int]]:
        return [self._take()] if self._lines else []

    @property
    def pending(self) -> bool:
        return bool(self._lines)

    def _take(self) -> tuple[str, int]:
        text = "\n".join(self._lines)
        if len(text) > self.max_bytes:
            text = text[: self.max_bytes]
            self.truncated += 1
        self._lines, self._size = [], 0
        self.safe_offset = self._end
        return text, self._end
