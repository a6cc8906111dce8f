"""Round-3 tabular operators, one module each; importing this package registers them all.

Invariant: each module adds its entries to the parser's `OPERATORS`/`SOURCES` tables and the
planner's `OPERATORS`/`SOURCES` tables at import time, and touches nothing else.
"""

from __future__ import annotations

from . import (
    evaluate,
    find,
    invoke,
    ipv4_lookup,
    make_series,
    multi_assign,
    mv,
    parse_kv,
    partition,
    search,
    tables,
    top_hitters,
    top_nested,
)

__all__ = [
    "evaluate",
    "find",
    "invoke",
    "ipv4_lookup",
    "make_series",
    "multi_assign",
    "mv",
    "parse_kv",
    "partition",
    "search",
    "tables",
    "top_hitters",
    "top_nested",
]
