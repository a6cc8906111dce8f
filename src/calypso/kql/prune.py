"""Column pruning: a catalog-table scan selects only the columns a pipeline reads.

Invariant: pruning applies only to a pipeline `T | op... | last` where `T` names a catalog table
(no let, function or wildcard), every `op` passes its input columns through (where, extend, sort,
take, top, serialize) and `last` (summarize, project, distinct of named columns, count) builds its
output from named columns only. Anything that could see the whole column set (`*`, `pack_all()`,
`column_ifexists`, user functions, tabular arguments, expression forms not listed here, names that
are not columns, extended columns or scalar lets) keeps the full scan, so output names, types, order
and errors never change. The timespan filter reads the table itself and needs no selected column.
"""

from __future__ import annotations

from typing import Any

from . import ast as A
from .binder import HIDDEN_COLUMNS, Context, Typed

_PASSTHROUGH = (A.Where, A.Extend, A.Sort, A.Take, A.Top, A.Serialize)
_LAST = (A.Summarize, A.Project, A.Distinct, A.Count)
_EXPRS = (
    A.Literal,
    A.DynamicLiteral,
    A.Name,
    A.Member,
    A.Index,
    A.Call,
    A.Binary,
    A.Unary,
    A.InList,
    A.Between,
)
_WHOLE_ROW = frozenset({"pack_all", "column_ifexists"})  # functions that read columns not named
_IMPLICIT = {"ingestion_time": "TimeGenerated"}  # functions that read a column without naming it


class _Unsafe(Exception):
    pass


def _walk(node: Any, names: set[str], calls: set[str]) -> None:
    if isinstance(node, tuple):
        for item in node:
            _walk(item, names, calls)
    elif isinstance(node, (A.Assign, A.SortKey)):
        _walk(node.expr, names, calls)
    elif isinstance(node, A.Expr):
        if type(node) not in _EXPRS:
            raise _Unsafe
        if isinstance(node, A.Name):
            names.add(node.name)
        elif isinstance(node, A.Call):
            calls.add(node.name)
            _walk(node.args, names, calls)
        elif isinstance(node, A.Member):
            _walk(node.target, names, calls)
        elif isinstance(node, A.Index):
            _walk((node.target, node.index), names, calls)
        elif isinstance(node, A.Binary):
            _walk((node.left, node.right), names, calls)
        elif isinstance(node, A.Unary):
            _walk(node.operand, names, calls)
        elif isinstance(node, A.InList):
            _walk((node.left, *node.items), names, calls)
        elif isinstance(node, A.Between):
            _walk((node.left, node.low, node.high), names, calls)
    else:
        raise _Unsafe


def _operands(op: A.Operator) -> tuple[Any, ...]:
    if isinstance(op, A.Where):
        return (op.predicate,)
    if isinstance(op, (A.Extend, A.Project, A.Serialize)):
        return op.items
    if isinstance(op, A.Summarize):
        return (*op.aggregates, *op.by)
    if isinstance(op, A.Sort):
        return op.keys
    if isinstance(op, A.Take):
        return (op.count,)
    if isinstance(op, A.Top):
        return (op.count, op.key)
    if isinstance(op, A.Distinct):
        return op.items
    return ()  # Count


def pruned_scan(ctx: Context, t: A.Pipe) -> tuple[A.TableRef, list[A.Operator], list[tuple[str, str]]] | None:
    """The table, its operators in order and the columns to scan, or None to scan every column."""
    if type(t.op) not in _LAST:
        return None
    ops: list[A.Operator] = [t.op]
    src = t.source
    while isinstance(src, A.Pipe):
        if type(src.op) not in _PASSTHROUGH:
            return None
        ops.append(src.op)
        src = src.source
    if type(src) is not A.TableRef or "*" in src.name or src.name in ctx.lets:
        return None
    columns = ctx.catalog.get(src.name)
    if columns is None:
        return None
    catalog = {n for n, _ in columns}
    known = set(catalog)  # names an operator may read: columns, then what earlier operators assigned
    need: set[str] = set()
    ops.reverse()
    for op in ops:
        names: set[str] = set()
        calls: set[str] = set()
        try:
            _walk(_operands(op), names, calls)
        except _Unsafe:
            return None
        if calls & _WHOLE_ROW or any(c in ctx.lets for c in calls):
            return None
        for n in names:
            if n in catalog:
                need.add(n)
            elif n in HIDDEN_COLUMNS and HIDDEN_COLUMNS[n] in catalog:
                need.add(HIDDEN_COLUMNS[n])
            elif n not in known and not isinstance(ctx.lets.get(n), (Typed, A.Expr)):
                return None  # not a column: keep the full scan so the error (and its suggestions) stay
        need.update(_IMPLICIT[c] for c in calls if c in _IMPLICIT and _IMPLICIT[c] in catalog)
        for item in _operands(op):
            if isinstance(item, A.Assign):
                known.update(item.names)
                need.update(n for n in item.names if n in catalog)  # a redefined column stays in place
    kept = [c for c in columns if c[0] in need] or [columns[0]]
    if len(kept) == len(columns):
        return None
    return src, ops, kept
