"""`make-series`: aggregates per bin of an axis, as dynamic arrays, one row per `by` group.

Invariant (Kusto semantics): bins are `start + i*step` for i in 0 .. ceil((stop-start)/step)-1, rows
outside [start, stop) are dropped, a bin without rows holds `default=` (0 when not given), the axis
column (named after the `on` expression) is the array of bin starts, and columns come out as the
`by` keys, then the aggregates, then the axis. Without `from`, the series starts at the smallest axis
value; without `to`, it ends with the bin holding the largest. `in range(a, b, s)` is read like
`from a to b step s`.
"""

from __future__ import annotations

from sqlglot import exp

from .. import ast as A
from ..binder import (
    Context,
    Rel,
    Scope,
    Typed,
    agg_name,
    alias,
    col,
    expr_name,
    summarize_key_name,
    unique_name,
)
from ..dialects.base import joined, lit
from ..errors import KqlError
from ..planner import OPERATORS, select_all, wrap
from ..scalars import translate
from .sql_helpers import from_number, index_series, ordered_json_list, to_number

_AXIS_TYPES = frozenset({"datetime", "int", "long", "real", "decimal", "timespan"})


def _scalar_of(ctx: Context, rel: Rel, table: str, e: exp.Expression) -> exp.Expression:
    """A scalar subquery of an aggregate `e` over `rel`."""
    return exp.Subquery(this=exp.select(e).from_(rel.sql.subquery(table), copy=False))


def _make_series(ctx: Context, rel: Rel, op: A.Operator) -> Rel:
    assert isinstance(op, A.MakeSeries)
    d = ctx.dialect
    q, scope = wrap(rel, ctx)
    axis = translate(op.on, scope)
    if axis.type not in _AXIS_TYPES:
        raise KqlError(
            "TypeMismatch", f"make-series axis must be a datetime or a number, not {axis.type}", *op.on.pos
        )
    const = Scope(ctx, {})
    step = to_number(ctx, translate(op.step, const))
    x = to_number(ctx, axis)
    # the input with its axis as a number and its keys as hidden columns
    taken: set[str] = set()
    keys: list[tuple[str, Typed]] = []
    for item in op.by:
        name = item.names[0] if item.names else summarize_key_name(item.expr) or f"Column{len(keys) + 1}"
        name = unique_name(name, taken)
        taken.add(name)
        keys.append((name, translate(item.expr, scope)))
    key_cols = [f"__k{i}" for i in range(len(keys))]
    stage0 = q.select(
        *select_all(rel, scope.table),
        alias(x, "__x"),
        *[alias(v.sql, k) for k, (_, v) in zip(key_cols, keys, strict=True)],
        copy=False,
    )
    s0 = ctx.fresh()
    stage0_rel = Rel(stage0, [*rel.columns, ("__x", "real")])
    if op.start is not None:
        start = to_number(ctx, translate(op.start, const))
    else:
        start = _scalar_of(ctx, stage0_rel, s0 + "m", exp.Min(this=col("__x")))
    if op.stop is not None:
        span = exp.Sub(this=to_number(ctx, translate(op.stop, const)), expression=start)
        nbins: exp.Expression = exp.Neg(this=d.floor_div(exp.Neg(this=span), step))
    else:
        top = _scalar_of(ctx, stage0_rel, s0 + "M", exp.Max(this=col("__x")))
        nbins = exp.Add(this=d.floor_div(exp.Sub(this=top, expression=start), step), expression=lit(1))
    # stage 1: bin index per row, rows outside the series dropped
    t1 = ctx.fresh()
    binned = exp.select(
        *select_all(rel, t1),
        *[col(k, t1) for k in key_cols],
        alias(d.floor_div(exp.Sub(this=col("__x", t1), expression=start), step), "__b"),
    ).from_(stage0.subquery(t1, copy=False), copy=False)
    binned = binned.where(
        exp.And(
            this=exp.GTE(this=col("__x", t1), expression=start),
            expression=exp.LT(
                this=d.floor_div(exp.Sub(this=col("__x", t1), expression=start), step), expression=nbins
            ),
        ),
        copy=False,
    )
    # read twice (the groups and the aggregates): one common table, not a copy
    binned_cols = [
        *rel.columns,
        *[(k, v.type) for k, (_, v) in zip(key_cols, keys, strict=True)],
        ("__b", "long"),
    ]
    shared = ctx.share(Rel(binned, binned_cols)).sql
    # stage 2: aggregates per (keys, bin)
    t2 = ctx.fresh()
    agg_scope = Scope(ctx, rel.types(), t2, row_context=False)
    aggs: list[tuple[str, Typed, Typed]] = []
    for given, e, default in op.aggregates:
        value = translate(e, agg_scope)
        if not value.is_agg:
            raise KqlError("TypeMismatch", "make-series expressions must be aggregate functions", *e.pos)
        out = unique_name(given or agg_name(e), taken)
        taken.add(out)
        dflt = translate(default, const) if default is not None else Typed(lit(0), "long")
        aggs.append((out, value, dflt))
    per_bin = exp.select(
        *[col(k, t2) for k in key_cols],
        col("__b", t2),
        *[alias(v.sql, f"__a{i}") for i, (_, v, _) in enumerate(aggs)],
    ).from_(shared.subquery(t2, copy=False), copy=False)
    per_bin = per_bin.group_by(*[col(k, t2) for k in key_cols], col("__b", t2), copy=False)
    # stage 3: every group crossed with every bin, absent bins filled with the default
    tg, ti, ta = ctx.fresh(), ctx.fresh(), ctx.fresh()
    t3 = ctx.fresh()
    group_cols: list[exp.Expression] = [col(k, t3) for k in key_cols] or [alias(lit(1), "__g")]
    groups = exp.select(*group_cols).from_(shared.copy().subquery(t3, copy=False), copy=False)
    groups = groups.distinct(copy=False) if key_cols else groups.limit(1, copy=False)
    on: exp.Expression = exp.EQ(this=col("__i", ti), expression=col("__b", ta))
    for k in key_cols:
        on = exp.And(this=on, expression=exp.NullSafeEQ(this=col(k, tg), expression=col(k, ta)))
    missing = exp.Is(this=col("__b", ta), expression=exp.Null())
    cells = exp.select(
        *[alias(col(k, tg), k) for k in key_cols],
        alias(col("__i", ti), "__i"),
        *[
            alias(
                exp.If(
                    this=missing,
                    true=d.to_json(dv.sql, dv.type),
                    false=d.to_json(col(f"__a{i}", ta), v.type),
                ),
                f"__v{i}",
            )
            for i, (_, v, dv) in enumerate(aggs)
        ],
    ).from_(groups.subquery(tg, copy=False), copy=False)
    joined(cells, index_series(ctx, nbins).subquery(ti, copy=False), "CROSS")
    joined(cells, per_bin.subquery(ta, copy=False), "LEFT", on)
    # stage 4: one row per group with the arrays
    t4 = ctx.fresh()
    i4 = col("__i", t4)
    axis_value = from_number(
        ctx, exp.Add(this=start, expression=exp.Mul(this=i4, expression=step)), axis.type
    )
    axis_name = unique_name(expr_name(op.on) or "Column1", taken)
    sel: list[exp.Expression] = [alias(col(k, t4), n) for k, (n, _) in zip(key_cols, keys, strict=True)]
    sel += [alias(ordered_json_list(ctx, col(f"__v{i}", t4), i4), n) for i, (n, _, _) in enumerate(aggs)]
    sel.append(alias(ordered_json_list(ctx, d.to_json(axis_value, axis.type), i4), axis_name))
    final = exp.select(*sel).from_(cells.subquery(t4, copy=False), copy=False)
    if key_cols:
        final = final.group_by(*[col(k, t4) for k in key_cols], copy=False)
    else:
        final = final.having(exp.GT(this=exp.Count(this=exp.Star()), expression=lit(0)), copy=False)
    cols = [(n, v.type) for n, v in keys] + [(n, "dynamic") for n, _, _ in aggs] + [(axis_name, "dynamic")]
    return Rel(final, cols)


OPERATORS[A.MakeSeries] = _make_series
