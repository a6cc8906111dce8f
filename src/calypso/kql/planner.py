"""Planner: bound tabular operators -> nested sqlglot SELECTs, one layer per operator.

Invariant: each operator takes a `Rel` and returns a new `Rel` whose SQL selects exactly its
columns, in order, from the previous one as a subquery. Operators dispatch through `OPERATORS`.
"""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Callable

from sqlglot import exp

from . import ast as A
from .binder import (
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
from .dialects.base import lit
from .errors import KqlError, unknown_column
from .functions.percentiles import percentiles_columns
from .scalars import translate
from .sqlgen import ColumnList, column_items, input_column
from .window_layers import has_window, split_nested_windows


def wrap(rel: Rel, ctx: Context) -> tuple[exp.Select, Scope]:
    """A new SELECT over `rel` and the scope of its columns."""
    name = ctx.fresh()
    return exp.select().from_(rel.sql.subquery(name, copy=False), copy=False), Scope(ctx, rel.types(), name)


def select_all(rel: Rel, table: str | None = None) -> list[exp.Expression]:
    if table is None or not rel.columns:
        return [col(n, table) for n, _ in rel.columns]
    return [ColumnList(table=table, names=tuple(n for n, _ in rel.columns))]


def all_of(table: str | None) -> list[exp.Expression]:
    """`"table".*`: every column of a FROM that is exactly a Rel (its SQL selects exactly its columns).

    Used instead of `select_all` where nothing else is in the FROM: wide tables (hundreds of
    columns) then cost one node per pipeline step instead of one per column, in compile and in SQL.
    """
    if table is None:
        return [exp.Star()]
    return [exp.Column(this=exp.Star(), table=exp.Identifier(this=table, quoted=True))]


def plan(ctx: Context, t: A.Tabular) -> Rel:
    handler = SOURCES.get(type(t))
    if handler is None:
        raise KqlError("UnsupportedOperator", f"Unsupported tabular expression {type(t).__name__}", *t.pos)
    return handler(ctx, t)


def _pipe(ctx: Context, t: A.Tabular) -> Rel:
    assert isinstance(t, A.Pipe)
    rel = plan(ctx, t.source)
    handler = OPERATORS.get(type(t.op))
    if handler is None:
        kusto = re.sub(r"(?<!^)(?=[A-Z])", "-", type(t.op).__name__).lower()  # MakeSeries -> make-series
        raise KqlError("UnsupportedOperator", f"The '{kusto}' operator is not supported", *t.op.pos)
    return handler(ctx, rel, t.op)


_NOT_PASSTHROUGH = (
    "group",
    "having",
    "limit",
    "offset",
    "order",
    "distinct",
    "qualify",
    "joins",
    "with",
    "laterals",
)


def passthrough_table(rel: Rel) -> str | None:
    """The FROM alias when `rel` only filters it (plain columns, no grouping, order or limit)."""
    q = rel.sql
    if not isinstance(q, exp.Select) or any(q.args.get(k) for k in _NOT_PASSTHROUGH):
        return None
    src = q.args.get("from_") or q.args.get("from")
    if src is None or not src.this.alias:
        return None
    table = src.this.alias
    if len(q.expressions) == 1 and q.expressions[0].is_star and q.expressions[0].table == table:
        return str(table)
    if len(q.expressions) == 1 and isinstance(q.expressions[0], ColumnList):
        listed = q.expressions[0].args
        names, aliases = listed["names"], listed.get("aliases")
        same = listed["table"] == table and names == tuple(n for n, _ in rel.columns)
        return str(table) if same and (aliases is None or aliases == names) else None
    if len(q.expressions) != len(rel.columns):
        return None
    for e, (n, _) in zip(q.expressions, rel.columns, strict=True):
        if not isinstance(e, exp.Column):
            return None
        this, qualifier = e.args.get("this"), e.args.get("table")
        if (
            type(this) is exp.Identifier and type(qualifier) is exp.Identifier
        ):  # the usual case, read directly
            if this.this != n or qualifier.this != table:
                return None
        elif e.name != n or e.table != table:
            return None
    return str(table)


def _where(ctx: Context, rel: Rel, op: A.Operator) -> Rel:
    assert isinstance(op, A.Where)
    table = passthrough_table(rel)
    if table is not None:  # filter in place: one SELECT per table scan, not one per `where`
        inner = Scope(ctx, rel.types(), table)
        cond = translate(op.predicate, inner)
        if cond.type == "dynamic":
            cond = Typed(ctx.dialect.try_cast(cond.sql, "dynamic", "bool"), "bool")
        if not has_window(cond.sql):
            return Rel(rel.sql.where(cond.sql, copy=False), rel.columns, rel.serialized)
    q, scope = wrap(rel, ctx)
    pred = translate(op.predicate, scope)
    if pred.type == "dynamic":
        pred = Typed(ctx.dialect.try_cast(pred.sql, "dynamic", "bool"), "bool")
    q = q.select(*all_of(scope.table), copy=False).where(pred.sql, copy=False)
    return Rel(split_nested_windows(q, scope.table, rel.columns, ctx), rel.columns, rel.serialized)


def _assignments(
    items: tuple[A.Assign, ...], scope: Scope, taken: set[str], uniquify: bool = True
) -> list[tuple[str, Typed]]:
    """The named values of `items`. An unnamed call takes its derived name (`strlen_X`), suffixed
    when `uniquify` and taken (project's `strlen(X), strlen(X)`: strlen_X1); extend replaces instead."""
    out: list[tuple[str, Typed]] = []
    counter = 1
    derived: set[str] = set()  # names this list gave to unnamed calls
    for item in items:
        if len(item.names) > 1:
            raise KqlError(
                "UnsupportedOperator", "Assigning several columns at once is not supported", *item.expr.pos
            )
        if isinstance(item.expr, A.Star):
            raise KqlError("SyntaxError", "'*' is not allowed here", *item.expr.pos)
        value = translate(item.expr, scope)
        if value.is_agg:
            raise KqlError("TypeMismatch", "Aggregates can only be used inside summarize", *item.expr.pos)
        name = item.names[0] if item.names else expr_name(item.expr)
        if name is None:
            while f"Column{counter}" in taken:
                counter += 1
            name = f"Column{counter}"
        elif uniquify and not item.names and (isinstance(item.expr, A.Call) or name in derived):
            # `project tostring(x), x`: the column after a call that took its name is x1
            name = unique_name(name, taken)
            if isinstance(item.expr, A.Call):
                derived.add(name)
        out.append((name, value))
        taken.add(name)
    return out


def _extend(ctx: Context, rel: Rel, op: A.Operator) -> Rel:
    assert isinstance(op, A.Extend)
    q, scope = wrap(rel, ctx)
    # `extend tostring(x)` replaces x, as a named `extend x = ...` would (Kusto's naming)
    new = _assignments(op.items, scope, {n for n, _ in rel.columns}, uniquify=False)
    replaced = {n: v for n, v in new}
    seen = {n for n, _ in rel.columns}
    # An extend that redefines a column keeps the column in place, like Kusto.
    result: list[tuple[str, str]] = []
    sel: list[exp.Expression] = []
    if replaced.keys() & seen:
        assert scope.table is not None
        items: list[tuple[str, str, str | None] | exp.Expression] = []
        for n, t in rel.columns:
            if n in replaced:
                result.append((n, replaced[n].type))
                items.append(alias(replaced[n].sql, n))
            else:
                result.append((n, t))
                items.append((scope.table, n, None))
        sel.extend(column_items(items))
    else:  # only new columns: `t.*, new...` instead of listing every column
        result.extend(rel.columns)
        sel.extend(all_of(scope.table))
    final: dict[str, tuple[exp.Expression, str]] = {}
    for n, v in new:
        if n not in seen:
            final[n] = (alias(v.sql, n), v.type)
    for n, (e, t) in final.items():
        result.append((n, t))
        sel.append(e)
    q = split_nested_windows(q.select(*sel, copy=False), scope.table, rel.columns, ctx)
    return Rel(q, result, rel.serialized)


def _project(ctx: Context, rel: Rel, op: A.Operator) -> Rel:
    assert isinstance(op, A.Project)
    q, scope = wrap(rel, ctx)
    new = _assignments(op.items, scope, set())
    dedup: dict[str, Typed] = {}
    for n, v in new:
        dedup[n] = v
    # input columns as they are go into one `ColumnList` per run (the same text, a node instead of three)
    items = [input_column(v.sql, scope.table, n) or alias(v.sql, n) for n, v in dedup.items()]
    q = q.select(*column_items(items), copy=False)
    q = split_nested_windows(q, scope.table, rel.columns, ctx)
    return Rel(q, [(n, v.type) for n, v in dedup.items()], rel.serialized)


def _match(patterns: tuple[str, ...], rel: Rel, pos: A.Pos) -> list[str]:
    names = [n for n, _ in rel.columns]
    out: list[str] = []
    for p in patterns:
        hits = [n for n in names if fnmatch.fnmatchcase(n, p)] if "*" in p else [n for n in names if n == p]
        if not hits and "*" not in p:
            raise unknown_column(p, names, *pos)
        out.extend(h for h in hits if h not in out)
    return out


def _select_cols(
    ctx: Context, rel: Rel, cols: list[tuple[str, str]], renames: dict[str, str] | None = None
) -> Rel:
    q, scope = wrap(rel, ctx)
    renames = renames or {}
    assert scope.table is not None
    sel = column_items([(scope.table, renames.get(n, n), n) for n, _ in cols])
    return Rel(q.select(*sel, copy=False), cols, rel.serialized)


def _project_away(ctx: Context, rel: Rel, op: A.Operator) -> Rel:
    assert isinstance(op, A.ProjectAway)
    drop = set(_match(op.patterns, rel, op.pos))
    return _select_cols(ctx, rel, [c for c in rel.columns if c[0] not in drop])


def _project_keep(ctx: Context, rel: Rel, op: A.Operator) -> Rel:
    assert isinstance(op, A.ProjectKeep)
    keep = set(_match(op.patterns, rel, op.pos))
    return _select_cols(ctx, rel, [c for c in rel.columns if c[0] in keep])


def _project_reorder(ctx: Context, rel: Rel, op: A.Operator) -> Rel:
    assert isinstance(op, A.ProjectReorder)
    first = _match(op.patterns, rel, op.pos)
    types = rel.types()
    cols = [(n, types[n]) for n in first] + [c for c in rel.columns if c[0] not in first]
    return _select_cols(ctx, rel, cols)


def _project_rename(ctx: Context, rel: Rel, op: A.Operator) -> Rel:
    assert isinstance(op, A.ProjectRename)
    types = rel.types()
    mapping: dict[str, str] = {}
    for new, old in op.pairs:
        if old not in types:
            raise unknown_column(old, types, *op.pos)
        mapping[old] = new
    cols = [(mapping.get(n, n), t) for n, t in rel.columns]
    renames = {new: old for old, new in mapping.items()}
    return _select_cols(ctx, rel, cols, renames)


def _summarize(ctx: Context, rel: Rel, op: A.Operator) -> Rel:
    assert isinstance(op, A.Summarize)
    inner, scope = wrap(rel, ctx)
    keys: list[tuple[str, Typed]] = []
    taken: set[str] = set()
    counter = 1
    for item in op.by:
        value = translate(item.expr, scope)
        name = item.names[0] if item.names else summarize_key_name(item.expr)
        if name is None:
            while f"Column{counter}" in taken:
                counter += 1
            name = f"Column{counter}"
        name = unique_name(name, taken)
        taken.add(name)
        keys.append((name, value))
    # stage 1: the keys as hidden columns next to the input columns
    key_cols = [f"__k{i}" for i in range(len(keys))]
    stage1 = inner.select(
        *select_all(rel, scope.table),
        *[alias(v.sql, k) for k, (_, v) in zip(key_cols, keys, strict=True)],
        copy=False,
    )
    t1 = ctx.fresh()
    agg_scope = Scope(ctx, rel.types(), t1, row_context=False)
    out_cols: list[tuple[str, str]] = [(n, v.type) for n, v in keys]
    sel: list[exp.Expression] = [alias(col(k, t1), n) for k, (n, _) in zip(key_cols, keys, strict=True)]
    for item in op.aggregates:
        e = item.expr
        if isinstance(e, A.Call) and e.name in ("arg_max", "arg_min") and scope.row_context is not False:
            for n, v in _arg_extreme(e, agg_scope, item.names, taken, rel):
                out_cols.append((n, v.type))
                sel.append(alias(v.sql, n))
            continue
        if isinstance(e, A.Call) and e.name == "percentiles":
            for n, v in percentiles_columns(e, agg_scope, item.names, taken):
                out_cols.append((n, v.type))
                sel.append(alias(v.sql, n))
            continue
        value = translate(e, agg_scope)
        if not value.is_agg:
            raise KqlError("TypeMismatch", "Summarize expressions must contain an aggregate function", *e.pos)
        name = unique_name(item.names[0] if item.names else agg_name(e), taken)
        taken.add(name)
        out_cols.append((name, value.type))
        sel.append(alias(value.sql, name))
    q = exp.select(*sel).from_(stage1.subquery(t1, copy=False), copy=False)
    if keys:
        q = q.group_by(*[col(k, t1) for k in key_cols], copy=False)
    return Rel(q, out_cols)


def _arg_extreme(
    e: A.Call, scope: Scope, names: tuple[str, ...], taken: set[str], rel: Rel
) -> list[tuple[str, Typed]]:
    if len(e.args) < 2:
        raise KqlError("SyntaxError", f"{e.name}() expects an expression and the columns to return", *e.pos)
    row = Scope(scope.ctx, scope.columns, scope.table)
    by = translate(e.args[0], row)
    out: list[tuple[str, Typed]] = []
    first = names[0] if names else (expr_name(e.args[0]) or f"{e.name}_")
    by_agg = exp.Max(this=by.sql) if e.name == "arg_max" else exp.Min(this=by.sql)
    out.append((unique_name(first, taken), Typed(by_agg, by.type, True)))
    taken.add(out[-1][0])
    rest: list[tuple[str, A.Expr]] = []
    for a in e.args[1:]:
        if isinstance(a, A.Star):
            rest.extend((n, A.Name(a.pos, n)) for n, _ in rel.columns if n not in taken)
        else:
            rest.append((expr_name(a) or "Column1", a))
    for n, a in rest:
        if n in taken:
            continue
        v = translate(a, row)
        out.append((n, Typed(scope.ctx.dialect.agg(e.name, [v.sql, by.sql]), v.type, True)))
        taken.add(n)
    return out


def _sort(ctx: Context, rel: Rel, op: A.Operator) -> Rel:
    assert isinstance(op, A.Sort)
    q, scope = wrap(rel, ctx)
    order = [
        exp.Ordered(this=translate(k.expr, scope).sql, desc=k.desc, nulls_first=k.nulls_first)
        for k in op.keys
    ]
    return Rel(q.select(*all_of(scope.table), copy=False).order_by(*order, copy=False), rel.columns, True)


def _limit_value(ctx: Context, e: A.Expr) -> exp.Expression:
    v = translate(e, Scope(ctx, {}))
    return v.sql


def _take(ctx: Context, rel: Rel, op: A.Operator) -> Rel:
    assert isinstance(op, A.Take)
    q, scope = wrap(rel, ctx)
    return Rel(
        q.select(*all_of(scope.table), copy=False).limit(_limit_value(ctx, op.count), copy=False),
        rel.columns,
        rel.serialized,
    )


def _top(ctx: Context, rel: Rel, op: A.Operator) -> Rel:
    assert isinstance(op, A.Top)
    q, scope = wrap(rel, ctx)
    k = op.key
    order = exp.Ordered(this=translate(k.expr, scope).sql, desc=k.desc, nulls_first=k.nulls_first)
    q = (
        q.select(*all_of(scope.table), copy=False)
        .order_by(order, copy=False)
        .limit(_limit_value(ctx, op.count), copy=False)
    )
    return Rel(q, rel.columns, True)


def _count(ctx: Context, rel: Rel, op: A.Operator) -> Rel:
    q, _ = wrap(rel, ctx)
    return Rel(q.select(alias(exp.Count(this=exp.Star()), "Count"), copy=False), [("Count", "long")])


def _distinct(ctx: Context, rel: Rel, op: A.Operator) -> Rel:
    assert isinstance(op, A.Distinct)
    if len(op.items) == 1 and isinstance(op.items[0], A.Star):
        q, scope = wrap(rel, ctx)
        return Rel(q.select(*select_all(rel, scope.table), copy=False).distinct(copy=False), rel.columns)
    projected = _project(ctx, rel, A.Project(op.pos, tuple(A.Assign((), e) for e in op.items)))
    q, scope = wrap(projected, ctx)
    return Rel(
        q.select(*select_all(projected, scope.table), copy=False).distinct(copy=False), projected.columns
    )


def _render(ctx: Context, rel: Rel, op: A.Operator) -> Rel:
    assert isinstance(op, A.Render)
    ctx.render = {"visualization": op.visualization, **dict(op.properties)}
    return rel


def _serialize(ctx: Context, rel: Rel, op: A.Operator) -> Rel:
    assert isinstance(op, A.Serialize)
    if op.items:
        rel = _extend(ctx, rel, A.Extend(op.pos, op.items))
    rel.serialized = True
    return rel


def _as(ctx: Context, rel: Rel, op: A.Operator) -> Rel:
    return rel


def _sample(ctx: Context, rel: Rel, op: A.Operator) -> Rel:
    assert isinstance(op, A.Sample)
    q, scope = wrap(rel, ctx)
    q = (
        q.select(*all_of(scope.table), copy=False)
        .order_by(ctx.dialect.sample_order(), copy=False)
        .limit(_limit_value(ctx, op.count), copy=False)
    )
    return Rel(q, rel.columns)


def _getschema(ctx: Context, rel: Rel, op: A.Operator) -> Rel:
    rows = [
        exp.select(
            alias(lit(n), "ColumnName"),
            alias(lit(i), "ColumnOrdinal"),
            alias(lit(_DATATYPES[t]), "DataType"),
            alias(lit(t), "ColumnType"),
        )
        for i, (n, t) in enumerate(rel.columns)
    ]
    q: exp.Query = rows[0]
    for r in rows[1:]:
        q = exp.union(q, r, distinct=False, copy=False)
    return Rel(
        exp.select("*")
        .from_(q.subquery(ctx.fresh(), copy=False), copy=False)
        .order_by(exp.column("ColumnOrdinal", quoted=True), copy=False),
        [
            ("ColumnName", "string"),
            ("ColumnOrdinal", "long"),
            ("DataType", "string"),
            ("ColumnType", "string"),
        ],
    )


_DATATYPES = {
    "string": "System.String",
    "int": "System.Int32",
    "long": "System.Int64",
    "real": "System.Double",
    "bool": "System.SByte",
    "datetime": "System.DateTime",
    "timespan": "System.TimeSpan",
    "guid": "System.Guid",
    "decimal": "System.Data.SqlTypes.SqlDecimal",
    "dynamic": "System.Object",
}

OPERATORS: dict[type, Callable[[Context, Rel, A.Operator], Rel]] = {
    A.Where: _where,
    A.Extend: _extend,
    A.Project: _project,
    A.ProjectAway: _project_away,
    A.ProjectKeep: _project_keep,
    A.ProjectReorder: _project_reorder,
    A.ProjectRename: _project_rename,
    A.Summarize: _summarize,
    A.Sort: _sort,
    A.Take: _take,
    A.Top: _top,
    A.Count: _count,
    A.Distinct: _distinct,
    A.Render: _render,
    A.Serialize: _serialize,
    A.As: _as,
    A.Sample: _sample,
    A.GetSchema: _getschema,
}

SOURCES: dict[type, Callable[[Context, A.Tabular], Rel]] = {A.Pipe: _pipe}
