"""Logs a person can read: one line per event, fields first, then a capitalised sentence.

    2026-11-25T10:00:00Z INFO  agent workspace=3f2c… rows=512 Batch sent.

Call sites pass fields through `extra={"fields": {...}}`, or use `event(logger, level, msg, **fields)`.
"""

from __future__ import annotations

import logging
import sys
import time
from typing import Any


class FieldsFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        stamp = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(record.created))
        fields: dict[str, Any] = getattr(record, "fields", None) or {}
        parts = [stamp, f"{record.levelname:<5}", record.name.removeprefix("calypso.")]
        parts += [f"{k}={_quote(v)}" for k, v in fields.items()]
        parts.append(record.getMessage())
        line = " ".join(parts)
        if record.exc_info and logging.getLogger("calypso").isEnabledFor(logging.DEBUG):
            line += "\n" + self.formatException(record.exc_info)
        return line


def _quote(value: Any) -> str:
    text = str(value)
    if not text or any(c in text for c in ' "='):
        return '"' + text.replace('"', '\\"') + '"'
    return text


def event(logger: logging.Logger, level: int, message: str, **fields: Any) -> None:
    logger.log(level, message, extra={"fields": fields})


def setup(verbose: bool = False) -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(FieldsFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(logging.WARNING)
    logging.getLogger("calypso").setLevel(logging.DEBUG if verbose else logging.INFO)
