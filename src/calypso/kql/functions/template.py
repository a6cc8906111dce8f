"""SQL templates parsed once per dialect: text with argument slots -> a fresh sqlglot tree.

Invariant: a template's text is built by the compiler alone and never holds user text or the SQL of
a translated argument; arguments are given as trees and put in the places of the slots `slot(0)`,
`slot(1)`, ... (each written in the text where an operand may stand, so it parses as a bare
column). The parsed text is cached (per text and dialect) and copied for each use, so a template
costs one parse per process instead of one per compile, and no generated SQL is parsed back.
"""

from __future__ import annotations

from functools import lru_cache

from sqlglot import exp

_PREFIX = "__kql_slot"


def slot(i: int) -> str:
    """The text standing for argument `i` in a template."""
    return f"{_PREFIX}{i}__"


_POSITION = ("line", "col", "start", "end")


@lru_cache(maxsize=256)
def _parsed(text: str, dialect: str) -> exp.Expression:
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
