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

    unresolved: str | None = None  # an `UnknownColumn` error's column name (see `unknown_column`)

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
    externals: tuple[Any, ...] = ()  # `externaldata.External`s: tables to fetch and register first


HINT_CUTOFF = 0.6  # the similarity ratio (difflib's) a candidate needs to be suggested


def did_you_mean(name: str, candidates: Iterable[str]) -> str:
    """A ` (did you mean 'x'?)` suffix for the closest candidate, or the empty string.

    A candidate equal to `name` but for case wins; else the most similar one reaching `HINT_CUTOFF`.
    """
    pool = list(candidates)
    lowered = {c.lower(): c for c in pool}
    if name.lower() in lowered:
        return f" (did you mean '{lowered[name.lower()]}'?)"
    close = difflib.get_close_matches(name, pool, n=1, cutoff=HINT_CUTOFF)
    return f" (did you mean '{close[0]}'?)" if close else ""


def unknown_column(name: str, candidates: Iterable[str], line: int = 1, column: int = 1) -> KqlError:
    """`UnknownColumn` for `name`, with a did-you-mean hint from the columns in scope."""
    error = KqlError(
        "UnknownColumn",
        f"Failed to resolve column named '{name}'{did_you_mean(name, candidates)}",
        line,
        column,
    )
    error.unresolved = name
    return error
