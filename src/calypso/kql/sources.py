"""Tabular sources: table references (with the API timespan filter), lets, datatable, print, union.

Invariant: a table reference reads only a table named in the catalog, by quoted identifier; when a
query timespan is given, every table with `TimeGenerated` is filtered to start <= TimeGenerated < end.
"""

from __future__ import annotations

import fnmatch

from sqlglot import exp

from . import ast as A
from . import externaldata
from .binder import Context, Rel, Scope, alias, col
from .dialects.base import cast
from .errors import KqlError, did_you_mean
from .planner import OPERATORS, SOURCES, plan, select_all, wrap
from .prune import select_columns
from .scalars import translate
from .sqlgen import ColumnList, column_items


def _table(ctx: Context, t: A.Tabular) -> Rel:
    assert isinstance(t, A.TableRef)
    let = ctx.lets.get(t.name)
    if isinstance(let, Rel):
        return Rel(let.sql.copy(), list(let.columns), let.serialized)
    if isinstance(let, A.Tabular):
        rel = ctx.share(plan(ctx, let))
        ctx.lets[t.name] = rel
        return Rel(rel.sql.copy(), list(rel.columns), rel.serialized)
    if isinstance(let, A.Name):
        return _table(ctx, A.TableRef(t.pos, let.name))
    if "*" in t.name:
        names = sorted(n for n in ctx.catalog if fnmatch.fnmatchcase(n, t.name))
        return _union_rels(
            ctx, [_table(ctx, A.TableRef(t.pos, n)) for n in names], "outer", None, names, t.pos
        )
    columns = ctx.catalog.get(t.name)
    if columns is None:
        raise KqlError(
            "UnknownTable",
            f"Failed to resolve table or column expression named '{t.name}'{did_you_mean(t.name, ctx.catalog)}",
            *t.pos,
        )
    need = ctx.scans.get(t) if ctx.scans else None
    if need is not None:  # only the columns some later stage can see (see `prune`)
        return scan_table(ctx, t.name, select_columns(list(columns), need))
    return scan_table(ctx, t.name, list(columns))


def scan_table(ctx: Context, table: str, columns: list[tuple[str, str]]) -> Rel:
    """`columns` (all of the catalog table's, or the pruned subset) of a catalog table.

    The timespan filter reads the table's own `TimeGenerated`, selected or not.
    """
    name = ctx.fresh()
    q = exp.select(ColumnList(table=name, names=tuple(n for n, _ in columns))).from_(
        exp.table_(table, quoted=True).as_(name), copy=False
    )
    types = dict(ctx.catalog[table])
    if ctx.timespan is not None and types.get("TimeGenerated") == "datetime":
        start, end = ctx.timespan
        d = ctx.dialect
        tg = col("TimeGenerated", name)
        q = q.where(
            exp.And(
                this=exp.GTE(this=tg, expression=d.datetime_literal(start)),
                expression=exp.LT(this=tg, expression=d.datetime_literal(end)),
            ),
            copy=False,
        )
    return Rel(q, columns)


def _datatable(ctx: Context, t: A.Tabular) -> Rel:
    assert isinstance(t, A.DataTable)
    n = len(t.columns)
    if n == 0 or len(t.values) % n:
        raise KqlError("SyntaxError", "datatable values do not fill whole rows", *t.pos)
    scope = Scope(ctx, {})
    rows: list[exp.Select] = []
    for r in range(len(t.values) // n):
        sel = []
        for (cname, ctype), v in zip(t.columns, t.values[r * n : (r + 1) * n], strict=True):
            tv = translate(v, scope)
            sel.append(alias(_typed(ctx, tv.sql, tv.type, ctype), cname))
        rows.append(exp.select(*sel))
    if not rows:
        empty = exp.select(
            *[alias(_typed(ctx, exp.Null(), "dynamic", ct), cn) for cn, ct in t.columns]
        ).where(exp.false(), copy=False)
        rows.append(empty)
    q: exp.Query = rows[0]
    for row in rows[1:]:
        q = exp.union(q, row, distinct=False, copy=False)
    name = ctx.fresh()
    return Rel(
        exp.select(*[col(c, name) for c, _ in t.columns]).from_(q.subquery(name, copy=False), copy=False),
        list(t.columns),
    )


def _typed(ctx: Context, e: exp.Expression, have: str, want: str) -> exp.Expression:
    d = ctx.dialect
    if want == "dynamic":
        return d.to_json(e, have) if have != "dynamic" else e
    if want == "datetime" and have == "datetime":
        return e
    if isinstance(e, exp.Null):
        return (
            d.try_cast(e, "string", want)
            if want not in ("string", "guid")
            else cast(e, "VARCHAR" if d.name == "duckdb" else "Nullable(String)")
        )
    if want in ("timespan",) and have == "timespan":
        return cast(e, "BIGINT")
    if have == want:
        return (
            cast(
                e, d.storage_type(want).removeprefix("Nullable(").removesuffix(")"), dialect=d.sqlglot_dialect
            )
            if want in ("int", "long", "real", "bool")
            else e
        )
    return d.try_cast(e, have, want)


def _print(ctx: Context, t: A.Tabular) -> Rel:
    assert isinstance(t, A.Print)
    from .planner import _assignments

    # Kusto names an unnamed print column `print_<position>`, whatever the expression.
    named = tuple(it if it.names else A.Assign((f"print_{i}",), it.expr) for i, it in enumerate(t.items))
    items = _assignments(named, Scope(ctx, {}), set())
    q = exp.select(*[alias(v.sql, n) for n, v in items])
    name = ctx.fresh()
    return Rel(
        exp.select(*[col(n, name) for n, _ in items]).from_(q.subquery(name, copy=False), copy=False),
        [(n, v.type) for n, v in items],
    )


def _union_rels(
    ctx: Context, rels: list[Rel], kind: str, withsource: str | None, names: list[str], pos: A.Pos
) -> Rel:
    if not rels:
        raise KqlError("UnknownTable", "union has no tables to read", *pos)
    ctx.planned_union = True
    cols: list[tuple[str, str]] = []
    seen: dict[str, str] = {}
    for r in rels:
        for n, ty in r.columns:
            if n not in seen:
                seen[n] = ty
                cols.append((n, ty))
            elif seen[n] != ty:
                raise KqlError(
                    "UnsupportedOperator", f"union of column '{n}' with types {seen[n]} and {ty}", *pos
                )
    if kind == "inner":
        common = set.intersection(*[{n for n, _ in r.columns} for r in rels])
        cols = [c for c in cols if c[0] in common]
    if withsource:
        cols = [(withsource, "string"), *cols]
    parts: list[exp.Query] = []
    for r, src in zip(rels, names, strict=True):
        q, scope = wrap(r, ctx)
        assert scope.table is not None
        have = r.types()
        sel: list[tuple[str, str, str] | exp.Expression] = []
        for n, ty in cols:
            if n == withsource:
                sel.append(alias(exp.Literal.string(src), n))
            elif n in have:
                sel.append((scope.table, n, n))
            else:
                sel.append(alias(_typed(ctx, exp.Null(), "dynamic", ty), n))
        parts.append(q.select(*column_items(sel), copy=False))
    u: exp.Query = parts[0]
    for p in parts[1:]:
        u = exp.union(u, p, distinct=False, copy=False)
    name = ctx.fresh()
    return Rel(
        exp.select(*select_all(Rel(u, cols), name)).from_(u.subquery(name, copy=False), copy=False), cols
    )


def _source_name(t: A.Tabular) -> str:
    if isinstance(t, A.TableRef):
        return t.name
    if isinstance(t, A.Pipe):
        if isinstance(t.op, A.As):
            return t.op.name
        return _source_name(t.source)
    return "union_arg"


def _union(ctx: Context, t: A.Tabular) -> Rel:
    assert isinstance(t, A.Union)
    rels = [plan(ctx, s) for s in t.sources]
    return _union_rels(ctx, rels, t.kind, t.withsource, [_source_name(s) for s in t.sources], t.pos)


def _union_op(ctx: Context, rel: Rel, op: A.Operator) -> Rel:
    assert isinstance(op, A.UnionOp)
    rels = [rel, *[plan(ctx, s) for s in op.sources]]
    return _union_rels(
        ctx, rels, op.kind, op.withsource, ["union_arg0", *[_source_name(s) for s in op.sources]], op.pos
    )


def _materialize(ctx: Context, t: A.Tabular) -> Rel:
    assert isinstance(t, A.Materialize)
    return plan(ctx, t.query)


def _function_table(ctx: Context, t: A.Tabular) -> Rel:
    assert isinstance(t, A.FunctionCallTable)
    if t.name == "table" and len(t.args) == 1 and isinstance(t.args[0], A.Literal):
        return _table(ctx, A.TableRef(t.pos, str(t.args[0].value)))
    from .compiler import call_user_tabular

    return call_user_tabular(ctx, t)


SOURCES.update(
    {
        A.TableRef: _table,
        A.DataTable: _datatable,
        externaldata.ExternalData: externaldata.plan,
        A.Print: _print,
        A.Union: _union,
        A.Materialize: _materialize,
        A.FunctionCallTable: _function_table,
    }
)
OPERATORS[A.UnionOp] = _union_op
__all__ = ["select_all"]
