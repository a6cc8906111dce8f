"""`search`: free-text row filter over one input, the named tables, or every table of the catalog.

Invariant (Kusto semantics): a bare `"term"` means "some string column `has` term" (`term*` is
hasprefix, `*term` hassuffix, `*term*` contains, `a*b` a whole-term regex `\\ba.*b\\b`), `Col:"term"`
is `Col has "term"`, `*` matches every row, other predicates (`Col == 1`) are ordinary expressions,
terms combine with and/or/not and parentheses; `kind=case_sensitive` uses the `_cs` operators. The
source form (`search in (T1, T2) ...` or `search ...` over all tables) returns `$table` first, then the
union of the tables' columns; a column whose type differs between tables becomes `Name_type`.
Only string and dynamic columns are searched by a bare term (numbers and datetimes are not).
"""

from __future__ import annotations

import fnmatch
import re
from dataclasses import dataclass

from sqlglot import exp

from .. import ast as A
from ..binder import Context, Rel, alias, col
from ..errors import KqlError
from ..parse_ops import OPERATORS as PARSE_OPERATORS
from ..parse_ops import SOURCES as PARSE_SOURCES
from ..parse_ops import Parser
from ..planner import OPERATORS, SOURCES, plan, wrap
from ..sources import _typed
from ..tokens import IDENT, OP, STRING

TABLE_COLUMN = "$table"


@dataclass(frozen=True)
class SearchTerm(A.Expr):
    column: str | None
    text: str


@dataclass(frozen=True)
class Search(A.Operator):
    predicate: A.Expr
    case_sensitive: bool


@dataclass(frozen=True)
class SearchSource(A.Tabular):
    tables: tuple[str, ...]  # patterns; empty = every table of the catalog
    predicate: A.Expr
    case_sensitive: bool


# ---- parsing --------------------------------------------------------------------------------------
def _pred_or(p: Parser) -> A.Expr:
    left = _pred_and(p)
    while p.at_word("or"):
        t = p.advance()
        left = A.Binary(p.pos(t), "or", left, _pred_and(p))
    return left


def _pred_and(p: Parser) -> A.Expr:
    left = _pred_unary(p)
    while p.at_word("and"):
        t = p.advance()
        left = A.Binary(p.pos(t), "and", left, _pred_unary(p))
    return left


def _pred_unary(p: Parser) -> A.Expr:
    t = p.tok
    if p.at_word("not"):
        p.advance()
        return A.Call(p.pos(t), "not", (_pred_unary(p),))
    if p.at_op("("):
        p.advance()
        inner = _pred_or(p)
        p.expect_op(")")
        return inner
    if t.kind == STRING:
        return SearchTerm(p.pos(t), None, str(p.advance().value))
    if p.at_op("*"):
        p.advance()
        return A.Literal(p.pos(t), True, "bool")
    if t.kind == IDENT and p.peek().kind == OP and p.peek().value == ":":
        name = p.ident()
        p.advance()
        v = p.tok
        if v.kind != STRING:
            raise p.error("Expected a string after ':' in search")
        p.advance()
        return SearchTerm(p.pos(t), name, str(v.value))
    return p.cmp_expr()


def _options(p: Parser) -> bool:
    case_sensitive = False
    while p.at_word("kind") and p.peek().kind == OP and p.peek().value == "=":
        p.advance()
        p.advance()
        case_sensitive = p.ident().lower() == "case_sensitive"
    return case_sensitive


def parse_search_op(p: Parser, src: A.Tabular, pos: A.Pos) -> A.Tabular:
    cs = _options(p)
    return A.Pipe(pos, src, Search(pos, _pred_or(p), cs))


def parse_search_source(p: Parser, pos: A.Pos) -> A.Tabular:
    cs = _options(p)
    tables: tuple[str, ...] = ()
    if p.at_word("in") and p.peek().kind == OP and p.peek().value == "(":
        p.advance()
        p.expect_op("(")
        tables = p.name_patterns()
        p.expect_op(")")
    return SearchSource(pos, tables, _pred_or(p), cs)


# ---- planning -------------------------------------------------------------------------------------
def _term_expr(term: SearchTerm, columns: list[tuple[str, str]], cs: bool) -> A.Expr:
    suffix = "_cs" if cs else ""
    text = term.text
    if text in ("", "*"):
        return A.Literal(term.pos, True, "bool")
    inner = text.strip("*")
    if "*" in inner:
        parts = [re.escape(x) for x in inner.split("*")]
        pattern = ("" if cs else "(?i)") + r"\b" + ".*".join(parts) + r"\b"
        op, value = "matches regex", pattern
    elif text.startswith("*") and text.endswith("*"):
        op, value = "contains" + suffix, inner
    elif text.endswith("*"):
        op, value = "hasprefix" + suffix, inner
    elif text.startswith("*"):
        op, value = "hassuffix" + suffix, inner
    else:
        op, value = "has" + suffix, inner
    types = dict(columns)
    if term.column is not None:
        if term.column not in types:
            return A.Literal(term.pos, False, "bool")
        names = [term.column]
    else:
        names = [n for n, t in columns if t in ("string", "dynamic")]
    tests: list[A.Expr] = []
    for n in names:
        target: A.Expr = A.Name(term.pos, n)
        if types[n] != "string":
            target = A.Call(term.pos, "tostring", (target,))
        tests.append(A.Binary(term.pos, op, target, A.Literal(term.pos, value, "string")))
    return _any(tests, term.pos) if tests else A.Literal(term.pos, False, "bool")


def _any(tests: list[A.Expr], pos: A.Pos) -> A.Expr:
    """`tests` joined by `or` as a balanced tree: a table of 200 string columns (SecurityEvent) made
    a chain too deep to compile ("The query is nested too deeply" for a bare `search "x"`)."""
    if len(tests) == 1:
        return tests[0]
    half = len(tests) // 2
    return A.Binary(pos, "or", _any(tests[:half], pos), _any(tests[half:], pos))


def _bind(e: A.Expr, columns: list[tuple[str, str]], cs: bool) -> A.Expr:
    if isinstance(e, SearchTerm):
        return _term_expr(e, columns, cs)
    if isinstance(e, A.Binary) and e.op in ("and", "or"):
        return A.Binary(e.pos, e.op, _bind(e.left, columns, cs), _bind(e.right, columns, cs))
    if isinstance(e, A.Call) and e.name == "not":
        return A.Call(e.pos, "not", tuple(_bind(a, columns, cs) for a in e.args))
    return e


def _filter(ctx: Context, rel: Rel, pred: A.Expr, cs: bool) -> Rel:
    where = OPERATORS[A.Where]
    return where(ctx, rel, A.Where(pred.pos, _bind(pred, rel.columns, cs)))


def _search(ctx: Context, rel: Rel, op: A.Operator) -> Rel:
    assert isinstance(op, Search)
    return _filter(ctx, rel, op.predicate, op.case_sensitive)


def _table_names(ctx: Context, t: SearchSource) -> list[str]:
    known = list(ctx.catalog) + [n for n, v in ctx.lets.items() if isinstance(v, A.Tabular | Rel)]
    if not t.tables:
        return sorted(ctx.catalog)
    out: list[str] = []
    for pat in t.tables:
        hits = [n for n in known if fnmatch.fnmatchcase(n, pat)] if "*" in pat else [pat]
        out.extend(h for h in hits if h not in out)
    return out


def _search_source(ctx: Context, t: A.Tabular) -> Rel:
    assert isinstance(t, SearchSource)
    names = _table_names(ctx, t)
    if not names:
        raise KqlError("UnknownTable", "search found no table to read", *t.pos)
    rels = [_filter(ctx, plan(ctx, A.TableRef(t.pos, n)), t.predicate, t.case_sensitive) for n in names]
    # the union's columns: first appearance wins the name, a clash of types gets `Name_type`
    kinds: dict[str, set[str]] = {}
    for r in rels:
        for n, ty in r.columns:
            kinds.setdefault(n, set()).add(ty)
    cols: list[tuple[str, str]] = [(TABLE_COLUMN, "string")]
    for r in rels:
        for n, ty in r.columns:
            out = n if len(kinds[n]) == 1 else f"{n}_{ty}"
            if (out, ty) not in cols:
                cols.append((out, ty))
    parts: list[exp.Query] = []
    for r, name in zip(rels, names, strict=True):
        q, scope = wrap(r, ctx)
        have = {(n if len(kinds[n]) == 1 else f"{n}_{ty}"): n for n, ty in r.columns}
        sel: list[exp.Expression] = [alias(exp.Literal.string(name), TABLE_COLUMN)]
        for out, ty in cols[1:]:
            src = have.get(out)
            sel.append(alias(col(src, scope.table) if src else _typed(ctx, exp.Null(), "dynamic", ty), out))
        parts.append(q.select(*sel, copy=False))
    u: exp.Query = parts[0]
    for part in parts[1:]:
        u = exp.union(u, part, distinct=False, copy=False)
    alias_name = ctx.fresh()
    return Rel(
        exp.select(*[col(n, alias_name) for n, _ in cols]).from_(
            u.subquery(alias_name, copy=False), copy=False
        ),
        cols,
    )


PARSE_OPERATORS["search"] = parse_search_op
PARSE_SOURCES["search"] = parse_search_source
OPERATORS[Search] = _search
SOURCES[SearchSource] = _search_source
