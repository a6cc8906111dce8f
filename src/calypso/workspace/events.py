"""Readable log lines for the workspace, in Calypso's one format (`calypso.logfmt`): fields first, then
a capitalised sentence (`workspace=… table=Syslog rows=512 Batch stored.`).

Invariant: a log line never carries a stack trace for anything a client caused, and never a secret.
"""

from __future__ import annotations

import logging
from typing import Any

from calypso import logfmt

LOGGER = logging.getLogger("calypso.workspace")


def _emit(level: int, message: str, fields: dict[str, Any]) -> None:
    logfmt.event(LOGGER, level, message, **{k: v for k, v in fields.items() if v is not None})


def info(message: str, **fields: Any) -> None:
    _emit(logging.INFO, message, fields)


def warning(message: str, **fields: Any) -> None:
    _emit(logging.WARNING, message, fields)


def error(message: str, **fields: Any) -> None:
    _emit(logging.ERROR, message, fields)


def configure(level: int = logging.INFO) -> None:
    """Only for `python -m calypso.workspace`; the `calypso` command has already set logging up."""
    if not logging.getLogger().handlers:
        logfmt.setup(verbose=level <= logging.DEBUG)
