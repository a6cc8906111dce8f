"""Relational operators: join/lookup (Kusto kinds and column suffixes), mv-expand, parse.

Invariant: `innerunique` (the default join) keeps one left row per distinct key before joining;
right-side columns whose names clash get Kusto's numeric suffix (`Computer1`); semi/anti joins
return only one side's columns.
"""

from __future__ import annotations

import re

from sqlglot import exp

from . import ast as A
from .binder import Context, Rel, Scope, alias, col, unique_name
from .dialects.base import joined, lit
from .errors import KqlError
from .planner import OPERATORS, plan, select_all, wrap
from .scalars import coerce_pair, translate
from .sqlgen import column_items

JOIN_KINDS = {
    "innerunique": "INNER",
    "inner": "INNER",
    "leftouter": "LEFT",
    "rightouter": "RIGHT",
    "fullouter": "FULL",
    "leftanti": "LEFT",
    "leftantisemi": "LEFT",
    "rightanti": "RIGHT",
    "rightantisemi": "RIGHT",
    "leftsemi": "INNER",
    "rightsemi": "INNER",
}


def _key(e: A.Expr, side: str) -> A.Expr:
    if isinstance(e, A.Member) and isinstance(e.target, A.Name) and e.target.name in ("$left", "$right"):
        if e.target.name != side:
            raise KqlError("SyntaxError", f"Join key '{e.target.name}.{e.name}' is on the wrong side", *e.pos)
        return A.Name(e.pos, e.name)
    return e


def _join(ctx: Context, rel: Rel, op: A.Operator) -> Rel:
    assert isinstance(op, A.Join)
    kind = op.kind
    if kind not in JOIN_KINDS:
        raise KqlError("UnsupportedOperator", f"Join kind '{kind}' is not supported", *op.pos)
    right = plan(ctx, op.right)
    left = rel
    lname, rname = ctx.fresh(), ctx.fresh()
    lscope, rscope = Scope(ctx, left.types(), lname), Scope(ctx, right.types(), rname)
    conds: list[exp.Expression] = []
    lkeys: list[exp.Expression] = []
    for lk, rk in op.on:
        if lk is rk and not isinstance(lk, A.Name):
            raise KqlError("SyntaxError", "Join keys must be column names or $left.x == $right.y", *lk.pos)
        lt = translate(_key(lk, "$left"), lscope)
        rt = translate(_key(rk, "$right"), rscope)
        lt, rt = coerce_pair(lt, rt, lscope)
        conds.append(exp.EQ(this=lt.sql, expression=rt.sql))
        lkeys.append(lt.sql)
    left_sql: exp.Query = left.sql
    if kind == "innerunique":
        rn = "__rn"
        inner_name = ctx.fresh()
        part = [
            e.transform(lambda n: col(n.name, inner_name) if isinstance(n, exp.Column) else n) for e in lkeys
        ]
        win = exp.Window(this=exp.RowNumber(), partition_by=part)
        numbered = exp.select(*select_all(left, inner_name), alias(win, rn)).from_(
            left.sql.subquery(inner_name, copy=False), copy=False
        )
        n2 = ctx.fresh()
        left_sql = (
            exp.select(*select_all(left, n2))
            .from_(numbered.subquery(n2, copy=False), copy=False)
            .where(exp.EQ(this=col(rn, n2), expression=lit(1)), copy=False)
        )
    cond = conds[0]
    for c in conds[1:]:
        cond = exp.And(this=cond, expression=c)
    if kind in ("leftanti", "leftantisemi", "rightanti", "rightantisemi", "leftsemi", "rightsemi"):
        keep, keep_name, other, other_name = (
            (left_sql, lname, right.sql, rname)
            if kind.startswith("left")
            else (right.sql, rname, left_sql, lname)
        )
        keep_rel = left if kind.startswith("left") else right
        sub = (
            exp.select(lit(1))
            .from_(other.subquery(other_name, copy=False), copy=False)
            .where(cond, copy=False)
        )
        pred: exp.Expression = exp.Exists(this=sub)
        if "anti" in kind:
            pred = exp.Not(this=pred)
        q = (
            exp.select(*select_all(keep_rel, keep_name))
            .from_(keep.subquery(keep_name, copy=False), copy=False)
            .where(pred, copy=False)
        )
        return Rel(q, list(keep_rel.columns))
    taken = {n for n, _ in left.columns}
    cols = list(left.columns)
    sel: list[tuple[str, str, str]] = [(lname, n, n) for n, _ in left.columns]  # (from, column, as)
    for n, t in right.columns:
        new = unique_name(n, taken)
        taken.add(new)
        cols.append((new, t))
        sel.append((rname, n, new))
    if op.lookup:
        # lookup drops the right side's copies of the key columns
        keys = {k.name for k, _ in op.on if isinstance(k, A.Name)}
        kept = [
            i
            for i, (n, _) in enumerate(cols)
            if i < len(left.columns) or not (n[:-1] in keys and n[-1:].isdigit())
        ]
        cols = [cols[i] for i in kept]
        sel = [sel[i] for i in kept]
    q = joined(
        exp.select(*column_items(list(sel))).from_(left_sql.subquery(lname, copy=False), copy=False),
        right.sql.subquery(rname, copy=False),
        JOIN_KINDS[kind],
        cond,
    )
    return Rel(q, cols)


def _mv_expand(ctx: Context, rel: Rel, op: A.Operator) -> Rel:
    assert isinstance(op, A.MvExpand)
    if len(op.items) != 1:
        raise KqlError(
            "UnsupportedOperator", "mv-expand of several columns at once is not supported", *op.pos
        )
    name, e, to_type = op.items[0]
    q, scope = wrap(rel, ctx)
    v = translate(e, scope)
    if v.type != "dynamic":
        raise KqlError("TypeMismatch", "mv-expand expects a dynamic array", *e.pos)
    name = name or (e.name if isinstance(e, A.Name) else "Column1")
    d = ctx.dialect
    element: exp.Expression = d.json_unnest(v.sql)
    out_type = "dynamic"
    assert scope.table is not None
    cols = [(n, t) for n, t in rel.columns if n != name]
    # expand in an inner select, convert in the outer one (engines forbid wrapping the unnest)
    inner = q.select(
        *column_items([(scope.table, n, None) for n, _ in cols]), alias(element, name), copy=False
    )
    if op.limit is not None:
        pass
    t2 = ctx.fresh()
    outer_items: list[tuple[str, str, str | None] | exp.Expression] = [(t2, n, None) for n, _ in cols]
    value: exp.Expression = col(name, t2)
    if to_type is not None and to_type != "dynamic":
        value = (
            d.try_cast(value, "dynamic", to_type)
            if to_type not in ("string", "guid")
            else d.json_to_string(value)
        )
        out_type = to_type
    position = [n for n, _ in rel.columns].index(name) if name in rel.types() else len(cols)
    outer_items.insert(position, alias(value, name))
    cols.insert(position, (name, out_type))
    outer = exp.select(*column_items(outer_items))
    return Rel(outer.from_(inner.subquery(t2, copy=False), copy=False), cols)


def _parse(ctx: Context, rel: Rel, op: A.Operator) -> Rel:
    assert isinstance(op, A.Parse)
    kind = op.kind.removesuffix("-where")
    if kind not in ("simple", "regex", "relaxed"):
        raise KqlError("UnsupportedOperator", f"parse kind '{kind}' is not supported", *op.pos)
    q, scope = wrap(rel, ctx)
    src = translate(op.source, scope)
    d = ctx.dialect
    s = d.to_string(src.sql, src.type) if src.type != "string" else src.sql
    pattern_parts: list[str] = []
    captures: list[tuple[str, str]] = []
    parts = list(op.parts)
    for i, (k, v) in enumerate(parts):
        if k == "text":
            pattern_parts.append(str(v) if kind == "regex" else re.escape(str(v)))
        elif k == "star":
            pattern_parts.append("(?:.*?)" if i + 1 < len(parts) else "(?:.*)")
        else:
            cname, ctype = v
            captures.append((cname, ctype))
            last = i + 1 == len(parts)
            if kind == "regex":
                pattern_parts.append("(.*?)" if not last else "(.*)")
            elif ctype in ("int", "long"):
                pattern_parts.append(r"(-?\d+)")
            elif ctype == "real":
                pattern_parts.append(r"(-?\d+(?:\.\d+)?(?:[eE][-+]?\d+)?)")
            else:
                pattern_parts.append("(.*?)" if not last else "(.*)")
    flags = "(?s)" if "s" in op.flags else ""
    if "i" in op.flags:
        flags += "(?i)"
    regex = (
        flags + ("" if kind == "regex" else "^") + "".join(pattern_parts) + ("" if kind == "regex" else "$")
    )
    if kind != "regex":
        regex = regex.removesuffix("$") if parts and parts[-1][0] == "text" else regex
    pattern = lit(regex)
    matched = d.regex_match(s, pattern)
    types = rel.types()
    new_cols = list(rel.columns)
    assert scope.table is not None
    replaced = {c for c, _ in captures}
    sel = column_items([(scope.table, n, None) for n, _ in rel.columns if n not in replaced])
    out_cols = [(n, t) for n, t in rel.columns if n not in replaced]
    for gi, (cname, ctype) in enumerate(captures, start=1):
        raw = exp.If(this=matched, true=d.regex_extract(s, pattern, gi), false=exp.Null())
        val = raw if ctype == "string" else d.try_cast(raw, "string", ctype)
        sel.append(alias(val, cname))
        out_cols.append((cname, ctype))
    del types, new_cols
    q = q.select(*sel, copy=False)
    if op.kind.endswith("-where"):
        q = q.where(matched, copy=False)
    return Rel(q, out_cols)


OPERATORS.update({A.Join: _join, A.MvExpand: _mv_expand, A.Parse: _parse})
