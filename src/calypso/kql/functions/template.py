"""SQL templates parsed once per dialect: text with argument slots -> SQL with the arguments in.

Invariant: a template's text is built by the compiler alone and never holds user text or the SQL of
a translated argument; arguments are given as trees and put in the places of the slots `slot(0)`,
`slot(1)`, ... (each written in the text where an operand may stand, so it parses as a bare
column). `render` prints a template once per text and dialect and splices the arguments' SQL into
that text at generation (a `Spliced` node), so a use costs neither a copy of the template's tree nor
its printing; `instantiate` gives a fresh tree (a copy of the parsed text) for callers that change it.
No generated SQL is parsed back.
"""

from __future__ import annotations

import re
from functools import lru_cache

from sqlglot import exp

from ..sqlgen import _OPERANDS, Spliced, generate, release

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


@lru_cache(maxsize=256)
def _printed(text: str, dialect: str) -> tuple[str | int, ...] | None:
    """The template's SQL split at its slots (text, slot index, text, ...); None to keep a tree."""
    tree = _parse(text, dialect)  # not kept: thousands of nodes a full GC would walk for nothing
    slots = sum(1 for c in tree.find_all(exp.Column) if c.name.startswith(_PREFIX))
    if tree.find(exp.Window) is not None:  # window calls must stay visible to the window layers
        return None
    pieces = _SLOT_TEXT.split(generate(tree, dialect))
    release(tree)
    if len(pieces) != 2 * slots + 1:
        return None
    parts: list[str | int] = [int(p) if i % 2 else p for i, p in enumerate(pieces)]
    if not isinstance(tree, _OPERANDS):  # an operator at the top: keep it one operand where it goes
        parts = ["(", *parts, ")"]
    return tuple(p for p in parts if p != "")


def render(text: str, dialect: str, *args: exp.Expression) -> exp.Expression:
    """`text` in `dialect` with `args[i]` in the place of each `slot(i)` (the arguments are not copied)."""
    parts = _printed(text, dialect)
    if parts is None:
        return instantiate(text, dialect, *args)
    if len(parts) == 1 and type(parts[0]) is int:
        return args[parts[0]]
    return Spliced(parts=parts, expressions=list(args))
