"""Readable log lines: fields first, then a capitalised sentence (`workspace=… table=Syslog rows=512 Batch stored.`).

Invariant: a log line never carries a stack trace for anything a client caused, and never a secret.
"""

from __future__ import annotations

import logging
import sys
from typing import Any

LOGGER = logging.getLogger("calypso.workspace")


def _value(v: Any) -> str:
    text = str(v)
    if not text or any(c in text for c in ' "=\n'):
        return '"' + text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'
    return text


def line(message: str, **fields: Any) -> str:
    parts = [f"{k}={_value(v)}" for k, v in fields.items() if v is not None]
    return " ".join([*parts, message])


def info(message: str, **fields: Any) -> None:
    LOGGER.info(line(message, **fields))


def warning(message: str, **fields: Any) -> None:
    LOGGER.warning(line(message, **fields))


def error(message: str, **fields: Any) -> None:
    LOGGER.error(line(message, **fields))


def configure(level: int = logging.INFO) -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(message)s"))
    root = logging.getLogger("calypso")
    root.handlers[:] = [handler]
    root.setLevel(level)
    root.propagate = False
