"""`mv-expand` of several arrays at once (zip), `with_itemindex=`, `limit`, and `mv-apply`.

Invariant (Kusto semantics): several expanded columns are zipped — row i holds element i of each
array, null where an array is shorter; a non-array value expands to itself once, null and empty
arrays to no row; `limit N` keeps at most N elements per input row; `with_itemindex=I` adds the
0-based element index as a long column `I` at the end. `mv-apply` runs its subquery over the expanded
rows of each input row separately (summarize per row, take/top per row) and joins its output to
the input row's other columns; the expanded columns themselves are replaced by the subquery's.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlglot import exp

from .. import ast as A
from ..binder import Context, Rel, Scope, alias, col
from ..dialects.base import cast, fn, joined, lit
from ..errors import KqlError
from ..parse_ops import OPERATORS as PARSE_OPERATORS
from ..parse_ops import Parser
from ..planner import OPERATORS, plan, select_all, wrap
from ..scalars import translate
from ..sqlgen import column_items
from .sql_helpers import index_series

ROW_ID = "__rid"
Item = tuple[str, A.Expr, str | None]


@dataclass(frozen=True)
class MvExpandZip(A.Operator):
    items: tuple[Item, ...]
    limit: A.Expr | None
    index: str | None


@dataclass(frozen=True)
class MvApplyZip(A.Operator):
    items: tuple[Item, ...]
    limit: A.Expr | None
    index: str | None
    body: A.Tabular  # source is TableRef("$mvapply")


@dataclass(frozen=True)
class PerRowLimit(A.Operator):
    """`take`/`top` inside mv-apply: at most `count` rows per input row, in `key` order."""

    count: A.Expr
    key: A.SortKey | None


# ---- parsing --------------------------------------------------------------------------------------
def _options(p: Parser) -> str | None:
    index = None
    while p.at_word("bagexpansion", "with_itemindex", "kind", "itemindex") and p.peek().value == "=":
        word = str(p.advance().value).lower()
        p.advance()
        value = p.ident()
        if word in ("with_itemindex", "itemindex"):
            index = value
    return index


def parse_mv_expand(p: Parser, src: A.Tabular, pos: A.Pos) -> A.Tabular:
    index = _options(p)
    items = tuple(p.expand_items())
    limit = p.expr() if p.accept_word("limit") else None
    return A.Pipe(pos, src, MvExpandZip(pos, items, limit, index))


def parse_mv_apply(p: Parser, src: A.Tabular, pos: A.Pos) -> A.Tabular:
    index = _options(p)
    items = tuple(p.expand_items())
    limit = p.expr() if p.accept_word("limit") else None
    p.expect_word("on")
    p.expect_op("(")
    body: A.Tabular = A.TableRef(pos, "$mvapply")
    if not p.at_op("|"):
        body = p.operator(body)
    body = p.continue_pipes(body)
    p.expect_op(")")
    return A.Pipe(pos, src, MvApplyZip(pos, items, limit, index, body))


# ---- planning -------------------------------------------------------------------------------------
def _expand(ctx: Context, rel: Rel, items: tuple[Item, ...], limit: A.Expr | None, index: str | None) -> Rel:
    d = ctx.dialect
    q, scope = wrap(rel, ctx)
    arrays: list[tuple[str, exp.Expression, str | None]] = []
    for name, e, to_type in items:
        v = translate(e, scope)
        if v.type != "dynamic":
            raise KqlError("TypeMismatch", "mv-expand expects a dynamic array or property bag", *e.pos)
        out = name or (e.name if isinstance(e, A.Name) else f"Column{len(arrays) + 1}")
        arrays.append((out, v.sql, to_type))
    lengths: list[exp.Expression] = []
    for _, a, _ in arrays:
        is_array = exp.EQ(this=d.json_type(a), expression=lit("array"))
        is_null = exp.Or(
            this=exp.Is(this=a, expression=exp.Null()),
            expression=exp.EQ(this=d.json_type(a), expression=lit("null")),
        )
        lengths.append(
            exp.Case(
                ifs=[exp.If(this=is_null, true=lit(0)), exp.If(this=is_array, true=d.json_array_length(a))],
                default=lit(1),
            )
        )
    count: exp.Expression = lengths[0] if len(lengths) == 1 else fn("greatest", *lengths)
    if limit is not None:
        count = fn("least", count, translate(limit, Scope(ctx, {})).sql)
    # stage 1: each row with its arrays and element count; stage 2: crossed with 0..count-1
    names = [n for n, _, _ in arrays]
    t1, ti = ctx.fresh(), ctx.fresh()
    stage1_rel = Rel(
        q.select(
            *select_all(rel, scope.table),
            *[alias(a, f"__a{i}") for i, (_, a, _) in enumerate(arrays)],
            alias(count, "__n"),
            copy=False,
        ),
        [*rel.columns, *[(f"__a{i}", "dynamic") for i in range(len(arrays))], ("__n", "long")],
    )
    stage1 = ctx.share(stage1_rel).sql  # read twice (max(n) and the rows): one common table, not a copy
    # a cross join with the global 0..max(n)-1 series, kept where i < n (no lateral joins needed)
    t0 = ctx.fresh()
    maxn = exp.Subquery(
        this=exp.select(exp.Max(this=col("__n", t0))).from_(
            stage1.copy().subquery(t0, copy=False), copy=False
        )
    )
    i = col("__i", ti)
    cols: list[tuple[str, str]] = []
    sel: list[tuple[str, str, str | None] | exp.Expression] = []
    for n, t in rel.columns:
        if n in names:
            continue
        cols.append((n, t))
        sel.append((t1, n, n))
    for k, (n, _, to_type) in enumerate(arrays):
        a = col(f"__a{k}", t1)
        element: exp.Expression = exp.If(
            this=exp.EQ(this=d.json_type(a), expression=lit("array")), true=d.json_get(a, [i]), false=a
        )
        out_type = "dynamic"
        if to_type is not None and to_type != "dynamic":
            element = (
                d.try_cast(element, "dynamic", to_type)
                if to_type not in ("string", "guid")
                else d.json_to_string(element)
            )
            out_type = to_type
        position = [c for c, _ in rel.columns].index(n) if n in rel.types() else len(cols)
        position = min(position, len(cols))
        cols.insert(position, (n, out_type))
        sel.insert(position, alias(element, n))
    if index is not None:
        cols.append((index, "long"))
        sel.append(alias(cast(i, "BIGINT"), index))
    expanded = joined(
        exp.select(*column_items(sel)).from_(stage1.subquery(t1, copy=False), copy=False),
        index_series(ctx, maxn).subquery(ti, copy=False),
        "CROSS",
    ).where(exp.LT(this=i, expression=col("__n", t1)), copy=False)
    return Rel(expanded, cols)


def _mv_expand(ctx: Context, rel: Rel, op: A.Operator) -> Rel:
    assert isinstance(op, MvExpandZip)
    return _expand(ctx, rel, op.items, op.limit, op.index)


def _per_row(op: A.Operator) -> A.Operator:
    """The body operator rewritten to act on each input row's subtable separately."""
    rid = A.Name(op.pos, ROW_ID)
    if isinstance(op, A.Summarize):
        return A.Summarize(op.pos, op.aggregates, (A.Assign((ROW_ID,), rid), *op.by))
    if isinstance(op, A.Project):
        return A.Project(op.pos, (A.Assign((ROW_ID,), rid), *op.items))
    if isinstance(op, A.Take):
        return PerRowLimit(op.pos, op.count, None)
    if isinstance(op, A.Top):
        return PerRowLimit(op.pos, op.count, op.key)
    if isinstance(op, A.Distinct | A.Count | A.Join | A.UnionOp | MvApplyZip | A.MakeSeries):
        kusto = type(op).__name__.lower()
        raise KqlError("UnsupportedOperator", f"'{kusto}' inside mv-apply is not supported", *op.pos)
    return op


def _rewrite(body: A.Tabular) -> A.Tabular:
    if isinstance(body, A.Pipe):
        return A.Pipe(body.pos, _rewrite(body.source), _per_row(body.op))
    return body


def _per_row_limit(ctx: Context, rel: Rel, op: A.Operator) -> Rel:
    assert isinstance(op, PerRowLimit)
    q, scope = wrap(rel, ctx)
    order = []
    if op.key is not None:
        k = op.key
        order = [exp.Ordered(this=translate(k.expr, scope).sql, desc=k.desc, nulls_first=k.nulls_first)]
    win = exp.Window(
        this=exp.RowNumber(),
        partition_by=[col(ROW_ID, scope.table)],
        order=exp.Order(expressions=order) if order else None,
    )
    numbered = q.select(*select_all(rel, scope.table), alias(win, "__rn"), copy=False)
    t = ctx.fresh()
    limit = translate(op.count, Scope(ctx, {})).sql
    out = (
        exp.select(*select_all(rel, t))
        .from_(numbered.subquery(t, copy=False), copy=False)
        .where(exp.LTE(this=col("__rn", t), expression=limit), copy=False)
    )
    return Rel(out, rel.columns)


def _mv_apply(ctx: Context, rel: Rel, op: A.Operator) -> Rel:
    assert isinstance(op, MvApplyZip)
    if any(n == ROW_ID for n, _ in rel.columns):
        raise KqlError("UnsupportedOperator", "nested mv-apply is not supported", *op.pos)
    q, scope = wrap(rel, ctx)
    numbered = Rel(
        q.select(*select_all(rel, scope.table), alias(exp.Window(this=exp.RowNumber()), ROW_ID), copy=False),
        [*rel.columns, (ROW_ID, "long")],
    )
    outer = ctx.share(numbered)
    expanded = _expand(ctx, Rel(outer.sql.copy(), list(outer.columns)), op.items, op.limit, op.index)
    saved = ctx.lets.get("$mvapply")
    ctx.lets["$mvapply"] = ctx.share(expanded)
    try:
        inner = plan(ctx, _rewrite(op.body))
    finally:
        if saved is None:
            ctx.lets.pop("$mvapply", None)
        else:
            ctx.lets["$mvapply"] = saved
    if ROW_ID not in inner.types():
        raise KqlError("UnsupportedOperator", "the mv-apply subquery must keep its rows' identity", *op.pos)
    expanded_names = {n for n, _, _ in op.items} | {
        e.name for n, e, _ in op.items if not n and isinstance(e, A.Name)
    }
    inner_names = {n for n, _ in inner.columns}
    lo, ri = ctx.fresh(), ctx.fresh()
    cols: list[tuple[str, str]] = []
    sel: list[exp.Expression] = []
    for n, t in rel.columns:
        if n in expanded_names or n in inner_names:
            continue
        cols.append((n, t))
        sel.append(alias(col(n, lo), n))
    for n, t in inner.columns:
        if n == ROW_ID:
            continue
        cols.append((n, t))
        sel.append(alias(col(n, ri), n))
    out = joined(
        exp.select(*sel).from_(outer.sql.subquery(lo, copy=False), copy=False),
        inner.sql.subquery(ri, copy=False),
        "INNER",
        exp.EQ(this=col(ROW_ID, lo), expression=col(ROW_ID, ri)),
    )
    return Rel(out, cols)


PARSE_OPERATORS["mv-expand"] = parse_mv_expand
PARSE_OPERATORS["mvexpand"] = parse_mv_expand
PARSE_OPERATORS["mv-apply"] = parse_mv_apply
PARSE_OPERATORS["mvapply"] = parse_mv_apply
OPERATORS[MvExpandZip] = _mv_expand
OPERATORS[MvApplyZip] = _mv_apply
OPERATORS[PerRowLimit] = _per_row_limit
