"""The compiler's only exception type, and the result records of `compile_query`.

Invariant: everything `compile_query` raises is a `KqlError` with a Kusto-like code, a precise
message and the 1-based line/column of the offending token.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

ERROR_CODES = (
    "SyntaxError",
    "UnknownTable",
    "UnknownColumn",
    "UnknownFunction",
    "UnsupportedOperator",
    "UnsupportedFunction",
    "TypeMismatch",
)


class KqlError(Exception):
    """A query the compiler cannot translate, with the position of the offending token."""

    def __init__(self, code: str, message: str, line: int = 1, column: int = 1) -> None:
        super().__init__(f"{code} at {line}:{column}: {message}")
        self.code = code
        self.message = message
        self.line = line
        self.column = column


@dataclass(frozen=True)
class OutputColumn:
    name: str
    type: str


@dataclass(frozen=True)
class CompiledQuery:
    sql: str
    columns: tuple[OutputColumn, ...]
    render: Mapping[str, Any] | None


def did_you_mean(name: str, candidates: Iterable[str]) -> str:
    """A ` (did you mean 'x'?)` suffix for the closest candidate, or the empty string."""
    pool = list(candidates)
    lowered = {c.lower(): c for c in pool}
    if name.lower() in lowered:
        return f" (did you mean '{lowered[name.lower()]}'?)"
    close = difflib.get_close_matches(name, pool, n=1, cutoff=0.6)
    return f" (did you mean '{close[0]}'?)" if close else ""
