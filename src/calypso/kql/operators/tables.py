"""Table-producing sources: `range`, `union isfuzzy=true`, `table(name)` of a let-bound string,
and a bare zero-parameter `let` function used as a table (`let F = () { T }; F | ...`).

Invariant (Kusto semantics): `range x from a to b step s` yields a, a+s, ... while <= b (>= b for a
negative step) as one column `x` (long for integers, real, datetime or timespan); `union
isfuzzy=true` skips the sources that name unknown tables and fails only when every source is
unknown; the other sources keep their existing planners.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlglot import exp

from .. import ast as A
from ..binder import Context, Rel, Scope, Typed, alias, col
from ..dialects.base import cast
from ..errors import KqlError
from ..parse_ops import OPERATORS as PARSE_OPERATORS
from ..parse_ops import SOURCES as PARSE_SOURCES
from ..parse_ops import Parser
from ..planner import OPERATORS, SOURCES, plan
from ..scalars import translate
from ..sources import _source_name, _union_rels
from ..tokens import OP
from .sql_helpers import from_number, index_series, to_number


@dataclass(frozen=True)
class FuzzyUnion(A.Tabular):
    sources: tuple[A.Tabular, ...]
    kind: str
    withsource: str | None
    fuzzy: bool


@dataclass(frozen=True)
class FuzzyUnionOp(A.Operator):
    sources: tuple[A.Tabular, ...]
    kind: str
    withsource: str | None
    fuzzy: bool


# ---- range ----------------------------------------------------------------------------------------
def _range(ctx: Context, t: A.Tabular) -> Rel:
    assert isinstance(t, A.Range)
    const = Scope(ctx, {})
    start, stop, step = (translate(e, const) for e in (t.start, t.stop, t.step))
    kind = start.type if start.type in ("datetime", "timespan", "real", "decimal") else "long"
    if start.type in ("int", "long") and "real" in (stop.type, step.type):
        kind = "real"
    a, b, s = to_number(ctx, start), to_number(ctx, stop), to_number(ctx, step)
    count = exp.Add(
        this=ctx.dialect.floor_div(exp.Sub(this=b, expression=a), s), expression=exp.Literal.number(1)
    )
    name = ctx.fresh()
    value = from_number(ctx, exp.Add(this=a, expression=exp.Mul(this=col("__i", name), expression=s)), kind)
    if kind == "long":
        value = cast(value, "BIGINT")
    q = exp.select(alias(value, t.name)).from_(
        index_series(ctx, count).subquery(name, copy=False), copy=False
    )
    return Rel(q, [(t.name, kind)])


# ---- union isfuzzy --------------------------------------------------------------------------------
def _union_options(p: Parser) -> tuple[str, str | None, bool]:
    kind, withsource, fuzzy = "outer", None, False
    while p.at_ident() and p.peek().kind == OP and p.peek().value == "=":
        key = p.ident().lower()
        p.advance()
        val = p.ident()
        if key == "kind":
            kind = val.lower()
        elif key == "withsource":
            withsource = val
        elif key == "isfuzzy":
            fuzzy = val.lower() == "true"
    return kind, withsource, fuzzy


def parse_union_source(p: Parser, pos: A.Pos) -> A.Tabular:
    kind, withsource, fuzzy = _union_options(p)
    _, _, sources = p.union_args()
    return FuzzyUnion(pos, tuple(sources), kind, withsource, fuzzy)


def parse_union_op(p: Parser, src: A.Tabular, pos: A.Pos) -> A.Tabular:
    kind, withsource, fuzzy = _union_options(p)
    _, _, sources = p.union_args()
    return A.Pipe(pos, src, FuzzyUnionOp(pos, tuple(sources), kind, withsource, fuzzy))


def _plan_sources(
    ctx: Context, sources: tuple[A.Tabular, ...], fuzzy: bool, pos: A.Pos
) -> tuple[list[Rel], list[str]]:
    rels: list[Rel] = []
    names: list[str] = []
    first_error: KqlError | None = None
    for s in sources:
        try:
            rels.append(plan(ctx, s))
        except KqlError as e:
            if not fuzzy or e.code not in ("UnknownTable", "UnknownFunction"):
                raise
            first_error = first_error or e
            continue
        names.append(_source_name(s))
    if not rels and first_error is not None:
        raise KqlError(
            first_error.code, f"union isfuzzy=true found none of its tables: {first_error.message}", *pos
        )
    return rels, names


def _union(ctx: Context, t: A.Tabular) -> Rel:
    assert isinstance(t, FuzzyUnion)
    rels, names = _plan_sources(ctx, t.sources, t.fuzzy, t.pos)
    return _union_rels(ctx, rels, t.kind, t.withsource, names, t.pos)


def _union_op(ctx: Context, rel: Rel, op: A.Operator) -> Rel:
    assert isinstance(op, FuzzyUnionOp)
    rels, names = _plan_sources(ctx, op.sources, op.fuzzy, op.pos)
    return _union_rels(ctx, [rel, *rels], op.kind, op.withsource, ["union_arg0", *names], op.pos)


# ---- table(name) and bare zero-parameter functions -------------------------------------------------
_plain_table = SOURCES[A.TableRef]
_plain_function_table = SOURCES[A.FunctionCallTable]


def _call(ctx: Context, t: A.FunctionCallTable) -> Rel:
    """A table-valued call; a body naming a tabular let (`{ let x = T | ...; x }`) is that table."""
    fdef = ctx.lets.get(t.name)
    if isinstance(fdef, A.FunctionDef) and isinstance(fdef.body, A.Name):
        ctx.lets[t.name] = A.FunctionDef(fdef.params, fdef.lets, A.TableRef(fdef.body.pos, fdef.body.name))
        try:
            return _plain_function_table(ctx, t)
        finally:
            ctx.lets[t.name] = fdef
    return _plain_function_table(ctx, t)


def _table_ref(ctx: Context, t: A.Tabular) -> Rel:
    assert isinstance(t, A.TableRef)
    fdef = ctx.lets.get(t.name)
    if isinstance(fdef, A.FunctionDef) and all(p.default is not None for p in fdef.params):
        return _call(ctx, A.FunctionCallTable(t.pos, t.name, ()))
    return _plain_table(ctx, t)


def _function_table(ctx: Context, t: A.Tabular) -> Rel:
    assert isinstance(t, A.FunctionCallTable)
    if t.name == "table" and len(t.args) == 1 and isinstance(t.args[0], A.Name):
        bound = ctx.lets.get(t.args[0].name)
        if isinstance(bound, Typed) and isinstance(bound.sql, exp.Literal) and bound.sql.is_string:
            return _table_ref(ctx, A.TableRef(t.pos, str(bound.sql.this)))
    return _call(ctx, t)


PARSE_SOURCES["union"] = parse_union_source
PARSE_OPERATORS["union"] = parse_union_op
SOURCES.update(
    {A.Range: _range, FuzzyUnion: _union, A.TableRef: _table_ref, A.FunctionCallTable: _function_table}
)
OPERATORS[FuzzyUnionOp] = _union_op
