"""`top-nested`: hierarchical aggregation, the top N values of each level within its parent group.

Invariant (Kusto semantics): each clause `top-nested [N] of [Name=]Expr [with others = C] by
[Agg=]Aggregation [asc|desc]` adds two columns, the level's value (named `Name`, the column, or
`Column<i>`) and its aggregate (named `Agg` or `aggregated_<Name>`); the aggregation of a level
runs over the rows of its parent group; `N` keeps that many values per parent group (all when
omitted), ties broken by the value; descending is the default. With `others`, the rows outside
the top N form one more group whose value is `C` (cast to the level's type) and whose aggregate
covers all of them. The result has one row per surviving leaf path.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sqlglot import exp

from .. import ast as A
from ..binder import Context, Rel, Scope, alias, col, expr_name, unique_name
from ..dialects.base import cast
from ..errors import KqlError
from ..parse_ops import OPERATORS as PARSE_OPERATORS
from ..parse_ops import Parser
from ..planner import OPERATORS, all_of, wrap
from ..scalars import translate
from ..tokens import IDENT

_CAST = {
    "string": "TEXT",
    "long": "BIGINT",
    "int": "INT",
    "real": "DOUBLE",
    "bool": "BOOLEAN",
    "timespan": "BIGINT",
}


@dataclass(frozen=True)
class NestedLevel:
    count: A.Expr | None
    of: A.Assign
    others: A.Expr | None
    by: A.Assign
    desc: bool


@dataclass(frozen=True)
class TopNestedOp(A.Operator):
    levels: tuple[NestedLevel, ...]


def _level(p: Parser) -> NestedLevel:
    count = None if p.at_word("of") else p.expr()
    p.expect_word("of")
    of = p.assign()
    others = None
    if p.accept_word("with"):
        p.expect_word("others")
        p.expect_op("=")
        others = p.expr()
    p.expect_word("by")
    by = p.assign()
    desc = True
    if p.accept_word("asc"):
        desc = False
    else:
        p.accept_word("desc")
    return NestedLevel(count, of, others, by, desc)


def parse_top_nested(p: Parser, src: A.Tabular, pos: A.Pos) -> A.Tabular:
    levels = [_level(p)]
    while p.at_op(",") and p.peek().kind == IDENT and str(p.peek().value).lower() == "top-nested":
        p.advance()
        p.advance()
        levels.append(_level(p))
    return A.Pipe(pos, src, TopNestedOp(pos, tuple(levels)))


def _window(agg: exp.Expression, keys: Sequence[exp.Expression]) -> exp.Expression:
    return exp.Window(this=agg, partition_by=list(keys) if keys else None)


def _top_nested(ctx: Context, rel: Rel, op: A.Operator) -> Rel:
    assert isinstance(op, TopNestedOp)
    q, scope = wrap(rel, ctx)
    taken: set[str] = set()
    # stage 0: every level's value as a hidden key column next to the input columns
    keys: list[tuple[str, str, str]] = []  # (hidden key, output name, type)
    sel: list[exp.Expression] = [*all_of(scope.table)]
    for i, lv in enumerate(op.levels):
        v = translate(lv.of.expr, scope)
        if v.is_agg:
            raise KqlError("TypeMismatch", "top-nested: 'of' must be a row expression", *lv.of.expr.pos)
        name = lv.of.names[0] if lv.of.names else (expr_name(lv.of.expr) or f"Column{i + 1}")
        name = unique_name(name, taken)
        taken.add(name)
        keys.append((f"__k{i}", name, v.type))
        sel.append(alias(v.sql, f"__k{i}"))
    current = Rel(q.select(*sel, copy=False), [*rel.columns, *[(k, t) for k, _, t in keys]])
    out_cols: list[tuple[str, str]] = []
    out_sel: list[tuple[str, str]] = []  # (hidden column, output name)
    for i, lv in enumerate(op.levels):
        key, name, ktype = keys[i]
        # 1. this level's aggregate per (parents, key), and its rank within the parent group
        q1, s1 = wrap(current, ctx)
        agg_scope = Scope(ctx, current.types(), s1.table, row_context=False)
        agg = translate(lv.by.expr, agg_scope)
        if not agg.is_agg:
            raise KqlError("TypeMismatch", "top-nested: 'by' must be an aggregation", *lv.by.expr.pos)
        part = [col(k, s1.table) for k, _, _ in keys[: i + 1]]
        q1 = q1.select(*all_of(s1.table), alias(_window(agg.sql, part), f"__a{i}"), copy=False)
        ranked = Rel(q1, [*current.columns, (f"__a{i}", agg.type)])
        q2, s2 = wrap(ranked, ctx)
        order = [
            exp.Ordered(this=col(f"__a{i}", s2.table), desc=lv.desc, nulls_first=not lv.desc),
            exp.Ordered(this=col(key, s2.table), nulls_first=True),
        ]
        rank = exp.Window(
            this=exp.Anonymous(this="dense_rank", expressions=[]),
            partition_by=[col(k, s2.table) for k, _, _ in keys[:i]] or None,
            order=exp.Order(expressions=order),
        )
        q2 = q2.select(*all_of(s2.table), alias(rank, f"__r{i}"), copy=False)
        ranked2 = Rel(q2, [*ranked.columns, (f"__r{i}", "long")])
        q3, s3 = wrap(ranked2, ctx)
        if lv.count is None:
            kept = Rel(q3.select(*all_of(s3.table), copy=False), ranked2.columns)
        else:
            n = translate(lv.count, Scope(ctx, {})).sql
            inside = exp.LTE(this=col(f"__r{i}", s3.table), expression=n)
            if lv.others is None:
                kept = Rel(
                    q3.select(*all_of(s3.table), copy=False).where(inside, copy=False), ranked2.columns
                )
            else:
                other = translate(lv.others, Scope(ctx, {}))
                if ktype not in _CAST:
                    raise KqlError(
                        "UnsupportedOperator", f"top-nested with others on a {ktype} value", *lv.others.pos
                    )
                other_sql = cast(other.sql, _CAST[ktype]) if other.type != ktype else other.sql
                cols = [c for c in ranked2.columns if c[0] not in (key, f"__a{i}")]
                relabel = exp.Case().when(inside, col(key, s3.table)).else_(other_sql)
                q3 = q3.select(*[col(c, s3.table) for c, _ in cols], alias(relabel, key), copy=False)
                mid = Rel(q3, [*cols, (key, ktype)])
                q4, s4 = wrap(mid, ctx)
                agg_scope = Scope(ctx, mid.types(), s4.table, row_context=False)
                agg = translate(lv.by.expr, agg_scope)
                part = [col(k, s4.table) for k, _, _ in keys[: i + 1]]
                q4 = q4.select(*all_of(s4.table), alias(_window(agg.sql, part), f"__a{i}"), copy=False)
                kept = Rel(q4, [*mid.columns, (f"__a{i}", agg.type)])
        current = kept
        agg_name = lv.by.names[0] if lv.by.names else f"aggregated_{name}"
        agg_name = unique_name(agg_name, taken)
        taken.add(agg_name)
        out_cols += [(name, ktype), (agg_name, agg.type)]
        out_sel += [(key, name), (f"__a{i}", agg_name)]
    qf, sf = wrap(current, ctx)
    qf = qf.select(*[alias(col(h, sf.table), n) for h, n in out_sel], copy=False).distinct(copy=False)
    return Rel(qf, out_cols)


PARSE_OPERATORS["top-nested"] = parse_top_nested
OPERATORS[TopNestedOp] = _top_nested
