"""Nested window calls (and window calls in WHERE) split into extra SELECT layers.

Kusto lets a window function take another one as an argument (`row_window_session(t, 1h, 5m,
Account != prev(Account))`), but neither DuckDB nor ClickHouse accepts a window call inside
another. Neither engine accepts a window call in WHERE either (`where prev(x) < x`). Invariant: after
`split_nested_windows`, no window call in the SELECT list of the returned query contains another
one and its WHERE has none. Each inner call (one with no window inside it) is computed one
layer down as a hidden column `__wN` of the same row set, under the same FROM alias, and the outer
expression reads that column instead; the hidden columns never reach the operator's output, because
a `"alias".*` in the outer SELECT list is expanded to the operator's input columns. The extra layer
selects from the same input in the same order, so `prev()`/`next()` see the rows the outer window
sees, as in Kusto's serialized row set.
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlglot import exp

from .binder import Context, alias, col
from .sqlgen import generate

_LEAVES = (exp.Column, exp.Identifier, exp.Literal, exp.DataType, exp.Null, exp.Boolean)


def has_window(e: exp.Expression) -> bool:
    """Whether `e` holds a window call (a plain walk: sqlglot's `find` costs several times more)."""
    stack = [e]
    while stack:
        node = stack.pop()
        if isinstance(node, exp.Window):
            return True
        if type(node) in _LEAVES:  # nodes that never hold a call
            continue
        for v in node.args.values():
            if isinstance(v, exp.Expression):
                stack.append(v)
            elif type(v) is list:
                stack.extend(x for x in v if isinstance(x, exp.Expression))
    return False


def _inner_windows(e: exp.Expression, everywhere: bool = False) -> list[exp.Window]:
    """Window calls with no window call inside them that are nested in another (or, `everywhere`, any)."""
    out: list[exp.Window] = []
    for w in e.find_all(exp.Window):
        if not everywhere and w.find_ancestor(exp.Window) is None:
            continue
        if any(d is not w for d in w.find_all(exp.Window)):
            continue
        out.append(w)
    return out


def _expand_star(q: exp.Select, table: str, columns: Sequence[tuple[str, str]]) -> None:
    exprs: list[exp.Expression] = []
    for e in q.expressions:
        if isinstance(e, exp.Star) or (isinstance(e, exp.Column) and e.is_star and e.table == table):
            exprs.extend(col(n, table) for n, _ in columns)
        else:
            exprs.append(e)
    q.set("expressions", exprs)


def _pending(q: exp.Select) -> list[exp.Window]:
    where = q.args.get("where")
    inner = [w for e in q.expressions for w in _inner_windows(e)]
    return inner + (_inner_windows(where, everywhere=True) if where is not None else [])


def split_nested_windows(
    q: exp.Select, table: str | None, columns: Sequence[tuple[str, str]], ctx: Context
) -> exp.Select:
    """`q` (a SELECT over one subquery aliased `table` with `columns`) without nested window calls."""
    if table is None:
        return q
    where = q.args.get("where")
    if not any(has_window(e) for e in q.expressions) and (where is None or not has_window(where)):
        return q
    if not _pending(q):
        return q
    q = q.copy()  # translation shares subtrees (`a IS NULL ... a = b`): un-share them before replacing
    _expand_star(q, table, columns)
    source = q.args.get("from_") or q.args.get("from")
    assert source is not None and isinstance(source.this, exp.Subquery)
    while True:
        inner = _pending(q)
        if not inner:
            return q
        names: dict[str, str] = {}  # one hidden column per distinct inner call
        hidden: list[exp.Expression] = []
        for w in inner:
            key = generate(w.copy(), ctx.dialect.sqlglot_dialect)
            if key not in names:
                names[key] = ctx.fresh("__w")
                hidden.append(alias(w.copy(), names[key]))
            w.replace(col(names[key], table))
        sub = source.this
        layer = exp.select(exp.Column(this=exp.Star(), table=exp.to_identifier(table, quoted=True)), *hidden)
        layer = layer.from_(sub.copy(), copy=False)
        sub.replace(layer.subquery(table, copy=False))
        source = q.args.get("from_") or q.args.get("from")
        assert source is not None
