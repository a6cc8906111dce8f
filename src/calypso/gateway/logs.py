"""Log lines a person can read: fields first, then a capitalised sentence.

    2026-11-25T10:00:00Z INFO  gateway client=10.0.0.7:51234 target=ws.example.com:443 Tunnel opened.

Fields travel in `extra={"fields": {...}}` (the convention every Calypso component uses), so a
process-wide formatter that knows it renders them; `FieldsFormatter` here does the same for the
gateway run on its own. A `Throttle` keeps a flood of one kind of line (refusals under attack)
from filling the disk: beyond `burst` lines a window, lines are counted and summarised once.
"""

from __future__ import annotations

import logging
import sys
import time
from collections.abc import Callable
from typing import Any

logger = logging.getLogger("calypso.gateway")


def event(level: int, message: str, **fields: Any) -> None:
    if logger.isEnabledFor(level):
        logger.log(level, message, extra={"fields": fields})


def _quote(value: Any) -> str:
    text = str(value)
    if not text or any(c in text for c in ' "=\n'):
        return '"' + text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'
    return text


class FieldsFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        stamp = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(record.created))
        fields: dict[str, Any] = getattr(record, "fields", None) or {}
        parts = [stamp, f"{record.levelname:<5}", record.name.removeprefix("calypso.")]
        parts += [f"{key}={_quote(value)}" for key, value in fields.items()]
        parts.append(record.getMessage())
        return " ".join(parts)


def setup(level: str) -> None:
    """Send gateway logs to stderr unless the process already configured logging."""
    logger.setLevel(level.upper())
    if logging.getLogger().handlers or logger.handlers:
        return
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(FieldsFormatter())
    logger.addHandler(handler)
    logger.propagate = False


class Throttle:
    """At most `burst` lines per `window` seconds; the rest are counted and reported by `flush`."""

    __slots__ = ("burst", "clock", "count", "suppressed", "what", "window", "window_start")

    def __init__(
        self, what: str, burst: int = 50, window: float = 1.0, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.what, self.burst, self.window, self.clock = what, burst, window, clock
        self.window_start, self.count, self.suppressed = clock(), 0, 0

    def allow(self) -> bool:
        self.flush()
        self.count += 1
        if self.count <= self.burst:
            return True
        self.suppressed += 1
        return False

    def flush(self) -> None:
        """Start a new window if the current one is over, reporting what it suppressed."""
        now = self.clock()
        if now - self.window_start < self.window:
            return
        if self.suppressed:
            event(logging.WARNING, "Log lines suppressed.", what=self.what, suppressed=self.suppressed)
        self.window_start, self.count, self.suppressed = now, 0, 0
