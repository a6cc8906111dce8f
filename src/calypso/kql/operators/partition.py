"""`T | partition [hint.*] by Column (subquery)`: the subquery run on each group of rows that share
a value of `Column`, the results unioned.

Planned without a loop over the values: row-by-row operators (where, extend, project, ...) give the
same rows per group as on the whole table; `take`/`limit` and `top` keep their rows per group
(ROW_NUMBER() OVER (PARTITION BY Column ...)); `summarize` groups by `Column` too and leaves it out
of the result unless the subquery groups by it, as Kusto's output columns do. Any other operator in
the subquery is refused with its name and position.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlglot import exp

from .. import ast as A
from ..binder import Context, Rel, alias, col
from ..errors import KqlError
from ..parse_ops import OPERATORS as PARSE_OPERATORS
from ..parse_ops import Parser
from ..planner import OPERATORS, wrap
from ..scalars import translate

_PLACEHOLDER = "__calypso_partition__"
ROW_WISE = (A.Where, A.Extend, A.Project, A.ProjectAway, A.ProjectKeep, A.ProjectRename, A.Sort)
_RANK = "__calypso_rank"


@dataclass(frozen=True)
class Partition(A.Operator):
    by: str
    ops: tuple[A.Operator, ...]


def parse_partition(p: Parser, src: A.Tabular, pos: A.Pos) -> A.Tabular:
    p.skip_hints()
    p.expect_word("by")
    by = p.ident()
    p.skip_hints()
    p.expect_op("(")
    sub = p.continue_pipes(p.operator(A.TableRef(pos, _PLACEHOLDER)))
    p.expect_op(")")
    ops: list[A.Operator] = []
    while isinstance(sub, A.Pipe):
        ops.append(sub.op)
        sub = sub.source
    if not (isinstance(sub, A.TableRef) and sub.name == _PLACEHOLDER):
        raise KqlError("SyntaxError", "partition's subquery must start with an operator", *pos)
    return A.Pipe(pos, src, Partition(pos, by, tuple(reversed(ops))))


def _partition(ctx: Context, rel: Rel, op: A.Operator) -> Rel:
    assert isinstance(op, Partition)
    if op.by not in rel.types():
        raise KqlError("UnknownColumn", f"Failed to resolve column named '{op.by}'", *op.pos)
    for step in op.ops:
        if isinstance(step, ROW_WISE):
            rel = OPERATORS[type(step)](ctx, rel, step)
            if op.by not in rel.types() and step is not op.ops[-1]:
                raise KqlError(
                    "UnsupportedOperator",
                    f"partition's subquery must keep '{op.by}' until its last step",
                    *step.pos,
                )
        elif isinstance(step, A.Take | A.Top):
            rel = _per_group(ctx, rel, op.by, step)
        elif isinstance(step, A.Summarize):
            grouped = any(
                isinstance(b.expr, A.Name) and b.expr.name == op.by and not b.names for b in step.by
            )
            by = step.by if grouped else (A.Assign((), A.Name(step.pos, op.by)), *step.by)
            rel = OPERATORS[A.Summarize](ctx, rel, A.Summarize(step.pos, step.aggregates, by))
            if not grouped:
                rel = OPERATORS[A.ProjectAway](ctx, rel, A.ProjectAway(step.pos, (op.by,)))
        else:
            raise KqlError(
                "UnsupportedOperator",
                f"partition's subquery cannot use '{type(step).__name__.lower()}' (supported: row-by-row"
                " operators, take, limit, top, summarize)",
                *step.pos,
            )
    return rel


def _per_group(ctx: Context, rel: Rel, by: str, step: A.Take | A.Top) -> Rel:
    """`step`'s rows in each group of `by`: a rank per group, then the first `count` of each."""
    q, scope = wrap(rel, ctx)
    order: list[exp.Expression] = []
    if isinstance(step, A.Top):
        key = translate(step.key.expr, scope).sql
        order = [exp.Ordered(this=key, desc=step.key.desc, nulls_first=step.key.nulls_first)]
    rank = exp.Window(
        this=exp.RowNumber(),
        partition_by=[col(by, scope.table)],
        order=exp.Order(expressions=order) if order else None,
    )
    count = translate(step.count, scope).sql
    ranked = q.select(*[col(n, scope.table) for n, _ in rel.columns], alias(rank, _RANK), copy=False)
    name = ctx.fresh()
    kept = (
        exp.select(*[col(n, name) for n, _ in rel.columns])
        .from_(ranked.subquery(name, copy=False), copy=False)
        .where(exp.LTE(this=col(_RANK, name), expression=count), copy=False)
    )
    return Rel(kept, list(rel.columns))


PARSE_OPERATORS["partition"] = parse_partition
OPERATORS[Partition] = _partition
