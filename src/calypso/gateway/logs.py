"""Log lines a person can read: fields first, then a capitalised sentence.

    2026-11-25T10:00:00Z INFO  gateway client=10.0.0.7:51234 target=ws.example.com:443 Tunnel opened.

Fields travel in `extra={"fields": {...}}` (the convention every Calypso component uses), so a
process-wide formatter that knows it renders them; `FieldsFormatter` here does the same for the
gateway run on its own.
"""

from __future__ import annotations

import logging
import sys
import time
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
