"""SQL templates: text with argument slots -> SQL with the arguments in.

Invariant: a template's text is built by the compiler alone and never holds user text or the SQL of
a translated argument; arguments are given as trees and put in the places of the slots `slot(0)`,
`slot(1)`, ... (each written in the text where an operand may stand, so it parses as a bare
column). `render` splits a template's text at its slots once per text and dialect and splices the
arguments' SQL in at generation (a `Spliced` node), so a use costs neither a tree nor a parse: the
text is written in the dialect's own spelling (DuckDB lambdas as `lambda x: ...`), exactly as the
engine reads it. `instantiate` gives a fresh tree (a copy of the parsed text) for callers that change
it. No generated SQL is parsed back.
"""

from __future__ import annotations

import re
from functools import lru_cache

from sqlglot import exp

from ..sqlgen import Spliced

_PREFIX = "__kql_slot"


def slot(i: int) -> str:
    """The text standing for argument `i` in a template."""
    return f"{_PREFIX}{i}__"


_POSITION = ("line", "col", "start", "end")


def _parse(text: str, dialect: str) -> exp.Expression:
    tree: exp.Expression = exp.maybe_parse(text, dialect=dialect)
    assert isinstance(tree, exp.Expression)
    for node in tree.walk():  # what only the parser reads: copying it would cost more than the tree
        if node.comments == []:
            node.comments = None
        meta = node._meta
        if meta is not None:
            for key in _POSITION:
                meta.pop(key, None)
            if not meta:
                node._meta = None
    return tree


_parsed = lru_cache(maxsize=256)(_parse)  # trees kept only for `instantiate`; `render` keeps text


def instantiate(text: str, dialect: str, *args: exp.Expression) -> exp.Expression:
    """The tree of `text` in `dialect` with a copy of `args[i]` in the place of each `slot(i)`."""
    tree = _parsed(text, dialect).copy()
    if not args:
        return tree
    names = {slot(i): a for i, a in enumerate(args)}
    slots = [c for c in tree.find_all(exp.Column) if not c.args.get("table") and c.name in names]
    for c in slots:
        new = names[c.name].copy()
        if c is tree:
            return new
        c.replace(new)
    return tree


_SLOT_TEXT = re.compile(r"[\"`]?" + _PREFIX + r"(\d+)__[\"`]?")


_WINDOW = re.compile(r"\bOVER\s*\(", re.IGNORECASE)


@lru_cache(maxsize=256)
def _printed(text: str, dialect: str) -> tuple[str | int, ...] | None:
    """The template's SQL split at its slots (text, slot index, text, ...), as one operand; None to
    keep a tree. The text is already in the dialect's own spelling, so it is not parsed: sqlglot took
    20 ms to parse the largest templates (parse_xml's) at their first use, the cold compile's p99."""
    if _WINDOW.search(text):  # window calls must stay visible to the window layers
        return None
    pieces = _SLOT_TEXT.split(text.strip())
    if len(pieces) == 3 and pieces[0] == pieces[2] == "":  # the whole template is one argument
        return (int(pieces[1]),)
    parts: list[str | int] = [int(p) if i % 2 else p for i, p in enumerate(pieces)]
    return tuple(p for p in ("(", *parts, ")") if p != "")


def render(text: str, dialect: str, *args: exp.Expression) -> exp.Expression:
    """`text` in `dialect` with `args[i]` in the place of each `slot(i)` (the arguments are not copied)."""
    parts = _printed(text, dialect)
    if parts is None:
        return instantiate(text, dialect, *args)
    if len(parts) == 1 and type(parts[0]) is int:
        return args[parts[0]]
    return Spliced(parts=parts, expressions=list(args))
