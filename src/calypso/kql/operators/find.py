"""`find`: the rows of several tables (or every table) that match a predicate, in one result.

Invariant (Kusto semantics): `find [withsource=Name] [in (T1, T2*, ...)] where Predicate [project
Col[:type], ..., pack_all()]` returns first the table-name column (`source_` unless `withsource`
names it), then each projected column (null in tables without it; its type is the declared one or
its type in the first table that has it), then `pack_`, a dynamic bag of every column not
projected, when `pack_all()` is asked for or no `project` is given. A table where the predicate
names a column it lacks is skipped; if every table is skipped, the first error is raised. The
predicate may use the `search` term forms ("term", Col:"term") besides ordinary expressions.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlglot import exp

from .. import ast as A
from ..binder import Context, Rel, alias, col
from ..dialects.base import lit
from ..errors import KqlError
from ..parse_ops import SOURCES as PARSE_SOURCES
from ..parse_ops import Parser
from ..planner import SOURCES, plan, wrap
from ..sources import _typed
from ..tokens import OP
from .search import _filter, _pred_or

PACK_COLUMN = "pack_"


@dataclass(frozen=True)
class FindSource(A.Tabular):
    tables: tuple[str, ...]  # patterns; empty = every table of the catalog
    predicate: A.Expr
    withsource: str
    project: tuple[tuple[str, str | None], ...] | None  # None = default output (pack_ only)
    pack_all: bool


def parse_find(p: Parser, pos: A.Pos) -> A.Tabular:
    withsource = "source_"
    while p.at_ident() and p.peek().kind == OP and p.peek().value == "=":
        key = p.ident().lower()
        p.advance()
        val = p.ident()
        if key == "withsource":
            withsource = val
    tables: tuple[str, ...] = ()
    if p.at_word("in") and p.peek().kind == OP and p.peek().value == "(":
        p.advance()
        p.expect_op("(")
        tables = p.name_patterns()
        p.expect_op(")")
    p.expect_word("where")
    predicate = _pred_or(p)
    project: list[tuple[str, str | None]] | None = None
    pack_all = True
    if p.accept_word("project-smart"):
        pass
    elif p.accept_word("project"):
        project, pack_all = [], False
        while True:
            if p.at_word("pack_all") and p.peek().kind == OP and p.peek().value == "(":
                p.advance()
                p.expect_op("(")
                p.expect_op(")")
                pack_all = True
            else:
                name = p.ident()
                project.append((name, p.type_name() if p.accept_op(":") else None))
            if not p.accept_op(","):
                break
    return FindSource(
        pos, tables, predicate, withsource, tuple(project) if project is not None else None, pack_all
    )


def _table_names(ctx: Context, t: FindSource) -> list[str]:
    import fnmatch

    if not t.tables:
        return sorted(ctx.catalog)
    known = list(ctx.catalog) + [n for n, v in ctx.lets.items() if isinstance(v, A.Tabular | Rel)]
    out: list[str] = []
    for pat in t.tables:
        hits = [n for n in known if fnmatch.fnmatchcase(n, pat)] if "*" in pat else [pat]
        out.extend(h for h in hits if h not in out)
    return out


def _find(ctx: Context, t: A.Tabular) -> Rel:
    assert isinstance(t, FindSource)
    names = _table_names(ctx, t)
    rels: list[tuple[str, Rel]] = []
    first_error: KqlError | None = None
    for name in names:
        try:
            rels.append((name, _filter(ctx, plan(ctx, A.TableRef(t.pos, name)), t.predicate, False)))
        except KqlError as e:
            if e.code != "UnknownColumn":
                raise
            first_error = first_error or e
    if not rels:
        if first_error is not None:
            raise first_error
        raise KqlError("UnknownTable", "find found no table to read", *t.pos)
    projected: list[tuple[str, str]] = []
    for n, declared in t.project or ():
        have = next((dict(r.columns)[n] for _, r in rels if n in dict(r.columns)), None)
        ty = declared or have
        if ty is None:
            raise KqlError("UnknownColumn", f"find: no table has a column named '{n}'", *t.pos)
        projected.append((n, ty))
    out_cols: list[tuple[str, str]] = [(t.withsource, "string"), *projected]
    if t.pack_all:
        out_cols.append((PACK_COLUMN, "dynamic"))
    d = ctx.dialect
    parts: list[exp.Query] = []
    for name, r in rels:
        q, scope = wrap(r, ctx)
        types = r.types()
        sel: list[exp.Expression] = [alias(lit(name), t.withsource)]
        for n, ty in projected:
            if n in types:
                sel.append(alias(_typed(ctx, col(n, scope.table), types[n], ty), n))
            else:
                sel.append(alias(_typed(ctx, exp.Null(), "dynamic", ty), n))
        if t.pack_all:
            taken = {n for n, _ in projected}
            pairs = [(lit(n), d.to_json(col(n, scope.table), ty)) for n, ty in r.columns if n not in taken]
            sel.append(alias(d.json_object(pairs), PACK_COLUMN))
        parts.append(q.select(*sel, copy=False))
    u: exp.Query = parts[0]
    for part in parts[1:]:
        u = exp.union(u, part, distinct=False, copy=False)
    a = ctx.fresh()
    return Rel(
        exp.select(*[col(n, a) for n, _ in out_cols]).from_(u.subquery(a, copy=False), copy=False), out_cols
    )


PARSE_SOURCES["find"] = parse_find
SOURCES[FindSource] = _find
