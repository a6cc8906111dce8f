"""Statement and tabular-operator parsing (the second half of the parser).

Invariant: each tabular operator name maps to one parse method in `OPERATORS`; an operator name
not in the table raises `KqlError("UnsupportedOperator")` at the operator's position.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from . import ast as A
from . import externaldata
from .errors import KqlError, did_you_mean
from .parser import TYPE_NAMES, ParserBase
from .tokens import EOF, IDENT, OP, STRING


class Parser(ParserBase):
    # ---- script ------------------------------------------------------------------------------
    def script(self) -> A.Script:
        lets: list[A.Let] = []
        options: dict[str, Any] = {}
        query: A.Tabular | None = None
        while self.tok.kind != EOF:
            if self.accept_op(";"):
                continue
            if self.at_word("let") and self.peek().kind == IDENT:
                lets.append(self.let())
            elif self.at_word("set") and self.peek().kind == IDENT:
                self.advance()
                name = self.ident()
                while self.accept_op("."):
                    name += "." + self.ident()
                value: Any = True
                if self.accept_op("="):
                    value = self.advance().value
                options[name] = value
            elif self.at_word("declare"):
                while self.tok.kind != EOF and not self.at_op(";"):
                    self.advance()
            else:
                if query is not None:
                    raise self.error("Only one tabular expression statement is supported per query")
                query = self.tabular()
                if not (self.at_op(";") or self.tok.kind == EOF):
                    raise self.error(f"Unexpected '{self.tok.text}'")
        if query is None:
            raise KqlError("SyntaxError", "The query has no tabular expression statement", *self.pos())
        return A.Script(tuple(lets), query, options)

    def let(self) -> A.Let:
        t = self.expect_word("let")
        name = self.ident()
        self.expect_op("=")
        if self.at_op("(") and self.is_function_def():
            return A.Let(self.pos(t), name, self.function_def())
        if self.at_word("view") and self.peek().kind == OP and self.peek().value == "(":
            self.advance()
            return A.Let(self.pos(t), name, self.function_def())
        return A.Let(self.pos(t), name, self.value_expr())

    def value_expr(self) -> A.Expr | A.Tabular:
        e = self.expr_or_tabular()
        if isinstance(e, A.TabularArg):
            return e.query
        return e

    def is_function_def(self) -> bool:
        nxt, after = self.peek(), self.peek(2)
        if nxt.kind == OP and nxt.value == ")":
            return after.kind == OP and after.value == "{"
        return nxt.kind == IDENT and after.kind == OP and after.value == ":"

    def function_def(self) -> A.FunctionDef:
        self.expect_op("(")
        params: list[A.Param] = []
        while not self.at_op(")"):
            pname = self.ident()
            self.expect_op(":")
            if self.accept_op("("):
                depth = 1
                while depth:
                    t = self.advance()
                    if t.kind == EOF:
                        raise self.error("Unbalanced parentheses")
                    depth += 1 if t.value == "(" else -1 if t.value == ")" else 0
                params.append(A.Param(pname, "table"))
            else:
                ptype = self.type_name()
                default = self.expr() if self.accept_op("=") else None
                params.append(A.Param(pname, ptype, default))
            if not self.accept_op(","):
                break
        self.expect_op(")")
        self.expect_op("{")
        lets: list[A.Let] = []
        body: A.Tabular | A.Expr | None = None
        while not self.at_op("}"):
            if self.accept_op(";"):
                continue
            if self.at_word("let"):
                lets.append(self.let())
            else:
                body = self.value_expr()
        self.expect_op("}")
        if body is None:
            raise self.error("Function body has no expression")
        return A.FunctionDef(tuple(params), tuple(lets), body)

    # ---- tabular expressions -----------------------------------------------------------------
    def tabular(self) -> A.Tabular:
        return self.continue_pipes(self.source())

    def continue_pipes(self, source: A.Tabular) -> A.Tabular:
        while self.at_op("|"):
            self.advance()
            source = self.operator(source)
        return source

    def source(self) -> A.Tabular:
        t = self.tok
        p = self.pos(t)
        if self.accept_op("("):
            inner = self.tabular()
            self.expect_op(")")
            return inner
        if t.kind == IDENT:
            word = str(t.value)
            handler = SOURCES.get(word)
            if handler is not None and not (self.peek().kind == OP and self.peek().value in ("|", ";")):
                self.advance()
                return handler(self, p)
        e = self.postfix_expr()
        if isinstance(e, A.Name | A.Call | A.TabularArg):
            return self.as_tabular(e)
        raise KqlError("SyntaxError", "Expected a table name or tabular expression", *p)

    def src_datatable(self, p: A.Pos) -> A.Tabular:
        self.expect_op("(")
        cols: list[tuple[str, str]] = []
        while not self.at_op(")"):
            name = self.ident()
            self.expect_op(":")
            cols.append((name, self.type_name()))
            if not self.accept_op(","):
                break
        self.expect_op(")")
        self.expect_op("[")
        values = self.expr_list_or_tabular("]")
        self.accept_op(",")
        self.expect_op("]")
        return A.DataTable(p, tuple(cols), tuple(values))

    def src_print(self, p: A.Pos) -> A.Tabular:
        return A.Print(p, tuple(self.assign_list()))

    def src_range(self, p: A.Pos) -> A.Tabular:
        name = self.ident()
        self.expect_word("from")
        start = self.expr()
        self.expect_word("to")
        stop = self.expr()
        self.expect_word("step")
        return A.Range(p, name, start, stop, self.expr())

    def union_args(self) -> tuple[str, str | None, list[A.Tabular]]:
        kind, withsource = "outer", None
        while self.at_ident() and self.peek().kind == OP and self.peek().value == "=":
            key = self.ident().lower()
            self.advance()
            val = self.ident()
            if key == "kind":
                kind = val.lower()
            elif key == "withsource":
                withsource = val
        sources: list[A.Tabular] = []
        while True:
            t = self.tok
            if self.at_op("("):
                sources.append(self.source())
            else:
                name = self.ident()
                while self.at_op("*") or (self.tok.kind == IDENT and self.toks[self.i - 1].value == "*"):
                    name += str(self.advance().text)
                if self.at_op("("):
                    self.i -= 1
                    e = self.postfix_expr()
                    sources.append(self.as_tabular(e))
                else:
                    sources.append(A.TableRef(self.pos(t), name))
            if not self.accept_op(","):
                return kind, withsource, sources

    def src_union(self, p: A.Pos) -> A.Tabular:
        kind, withsource, sources = self.union_args()
        return A.Union(p, tuple(sources), kind, withsource)

    def src_unsupported(self, p: A.Pos) -> A.Tabular:
        word = self.toks[self.i - 1].text
        raise KqlError("UnsupportedOperator", f"The '{word}' operator is not supported", *p)

    # ---- operators ---------------------------------------------------------------------------
    def operator(self, source: A.Tabular) -> A.Tabular:
        t = self.tok
        if t.kind != IDENT:
            raise self.error(f"Expected an operator after '|' but found '{t.text or 'end of query'}'")
        name = str(t.value).lower()
        handler = OPERATORS.get(name)
        if handler is None:
            hint = did_you_mean(str(t.value), OPERATORS)
            raise KqlError("UnsupportedOperator", f"Unknown operator '{t.value}'{hint}", t.line, t.column)
        self.advance()
        return handler(self, source, self.pos(t))

    def skip_hints(self) -> None:
        while self.at_word("hint") and self.peek().kind == OP and self.peek().value == ".":
            self.advance()
            self.advance()
            self.ident()
            self.expect_op("=")
            self.advance()

    def assign(self) -> A.Assign:
        if self.at_ident():
            n = self.ident_len()
            nxt = self.peek(n)
            if nxt.kind == OP and nxt.value == "=":
                name = self.ident()
                self.advance()
                return A.Assign((name,), self.expr())
        if (
            self.at_op("(")
            and self.peek().kind == IDENT
            and self.peek(2).kind == OP
            and self.peek(2).value in (",", ")")
        ):
            save = self.i
            self.advance()
            names = [self.ident()]
            while self.accept_op(","):
                names.append(self.ident())
            if self.accept_op(")") and self.accept_op("="):
                return A.Assign(tuple(names), self.expr())
            self.i = save
        return A.Assign((), self.expr())

    def assign_list(self) -> list[A.Assign]:
        items = [self.assign()]
        while self.accept_op(","):
            items.append(self.assign())
        return items

    def op_where(self, src: A.Tabular, p: A.Pos) -> A.Tabular:
        return A.Pipe(p, src, A.Where(p, self.expr()))

    def op_project(self, src: A.Tabular, p: A.Pos) -> A.Tabular:
        return A.Pipe(p, src, A.Project(p, tuple(self.assign_list())))

    def op_extend(self, src: A.Tabular, p: A.Pos) -> A.Tabular:
        return A.Pipe(p, src, A.Extend(p, tuple(self.assign_list())))

    def name_patterns(self) -> tuple[str, ...]:
        pats: list[str] = []
        while True:
            name = ""
            while self.at_op("*") or self.at_ident():
                name += "*" if self.accept_op("*") else self.ident()
                if self.tok.offset != self.toks[self.i - 1].offset + len(self.toks[self.i - 1].text):
                    break
            if not name:
                raise self.error("Expected a column name")
            if self.at_word("asc", "desc", "granny-asc", "granny-desc"):
                self.advance()
            pats.append(name)
            if not self.accept_op(","):
                return tuple(pats)

    def op_project_away(self, src: A.Tabular, p: A.Pos) -> A.Tabular:
        return A.Pipe(p, src, A.ProjectAway(p, self.name_patterns()))

    def op_project_keep(self, src: A.Tabular, p: A.Pos) -> A.Tabular:
        return A.Pipe(p, src, A.ProjectKeep(p, self.name_patterns()))

    def op_project_reorder(self, src: A.Tabular, p: A.Pos) -> A.Tabular:
        return A.Pipe(p, src, A.ProjectReorder(p, self.name_patterns()))

    def op_project_rename(self, src: A.Tabular, p: A.Pos) -> A.Tabular:
        pairs: list[tuple[str, str]] = []
        while True:
            at = self.tok
            new = self.ident()
            if not self.at_op("="):  # Kusto: "Column rename assignment expected", at the name
                raise self.error(f"Column rename assignment expected: write NewName = {new}", at)
            self.advance()
            pairs.append((new, self.ident()))
            if not self.accept_op(","):
                return A.Pipe(p, src, A.ProjectRename(p, tuple(pairs)))

    def op_summarize(self, src: A.Tabular, p: A.Pos) -> A.Tabular:
        self.skip_hints()
        aggs: list[A.Assign] = []
        if not self.at_word("by"):
            aggs = self.assign_list()
        by: list[A.Assign] = []
        if self.accept_word("by"):
            by = self.assign_list()
        return A.Pipe(p, src, A.Summarize(p, tuple(aggs), tuple(by)))

    def sort_key(self) -> A.SortKey:
        e = self.expr()
        desc = True
        if self.accept_word("asc"):
            desc = False
        else:
            self.accept_word("desc")
        nulls_first = not desc
        if self.accept_word("nulls"):
            if self.accept_word("first"):
                nulls_first = True
            else:
                self.expect_word("last")
                nulls_first = False
        return A.SortKey(e, desc, nulls_first)

    def op_sort(self, src: A.Tabular, p: A.Pos) -> A.Tabular:
        self.skip_hints()
        self.expect_word("by")
        keys = [self.sort_key()]
        while self.accept_op(","):
            keys.append(self.sort_key())
        return A.Pipe(p, src, A.Sort(p, tuple(keys)))

    def op_take(self, src: A.Tabular, p: A.Pos) -> A.Tabular:
        return A.Pipe(p, src, A.Take(p, self.expr()))

    def op_top(self, src: A.Tabular, p: A.Pos) -> A.Tabular:
        n = self.expr()
        self.expect_word("by")
        return A.Pipe(p, src, A.Top(p, n, self.sort_key()))

    def op_count(self, src: A.Tabular, p: A.Pos) -> A.Tabular:
        return A.Pipe(p, src, A.Count(p))

    def op_distinct(self, src: A.Tabular, p: A.Pos) -> A.Tabular:
        self.skip_hints()
        if self.accept_op("*"):
            return A.Pipe(p, src, A.Distinct(p, (A.Star(p),)))
        items = [self.expr()]
        while self.accept_op(","):
            items.append(self.expr())
        return A.Pipe(p, src, A.Distinct(p, tuple(items)))

    def join_keys(self) -> tuple[tuple[A.Expr, A.Expr], ...]:
        keys: list[tuple[A.Expr, A.Expr]] = []
        while True:
            e = self.cmp_expr()
            if isinstance(e, A.Binary) and e.op == "==":
                keys.append((e.left, e.right))
            else:
                keys.append((e, e))
            if not (self.accept_op(",") or self.accept_word("and")):
                return tuple(keys)

    def op_join(self, src: A.Tabular, p: A.Pos, lookup: bool = False) -> A.Tabular:
        kind = "leftouter" if lookup else "innerunique"
        while (
            self.at_ident()
            and self.peek(self.ident_len()).kind == OP
            and self.peek(self.ident_len()).value in ("=", ".")
        ):
            if self.at_word("hint"):
                self.skip_hints()
                continue
            key = self.ident().lower()
            self.expect_op("=")
            val = self.ident().lower()
            if key == "kind":
                kind = val
        right = self.source()
        right = self.continue_pipes(right) if self.at_op("|") else right
        self.expect_word("on")
        return A.Pipe(p, src, A.Join(p, kind, right, self.join_keys(), lookup))

    def op_lookup(self, src: A.Tabular, p: A.Pos) -> A.Tabular:
        return self.op_join(src, p, lookup=True)

    def op_union(self, src: A.Tabular, p: A.Pos) -> A.Tabular:
        kind, withsource, sources = self.union_args()
        return A.Pipe(p, src, A.UnionOp(p, tuple(sources), kind, withsource))

    def expand_items(self) -> list[tuple[str, A.Expr, str | None]]:
        items: list[tuple[str, A.Expr, str | None]] = []
        while True:
            a = self.assign()
            to_type = None
            if self.accept_word("to"):
                self.expect_word("typeof")
                self.expect_op("(")
                to_type = self.type_name()
                self.expect_op(")")
            name = a.names[0] if a.names else ""
            items.append((name, a.expr, to_type))
            if not self.accept_op(","):
                return items

    def expand_options(self) -> None:
        while (
            self.at_word("bagexpansion", "with_itemindex", "kind", "itemindex") and self.peek().value == "="
        ):
            t = self.tok
            if self.at_word("with_itemindex"):
                raise KqlError(
                    "UnsupportedOperator", "mv-expand with_itemindex is not supported", t.line, t.column
                )
            self.advance()
            self.advance()
            self.ident()

    def op_mv_expand(self, src: A.Tabular, p: A.Pos) -> A.Tabular:
        self.expand_options()
        items = self.expand_items()
        limit = self.expr() if self.accept_word("limit") else None
        return A.Pipe(p, src, A.MvExpand(p, tuple(items), limit))

    def op_mv_apply(self, src: A.Tabular, p: A.Pos) -> A.Tabular:
        self.expand_options()
        items = self.expand_items()
        self.expect_word("on")
        self.expect_op("(")
        body: A.Tabular = A.TableRef(p, "$mvapply")
        while self.accept_op("|"):
            body = self.operator(body)
        if not isinstance(body, A.Pipe):
            body = self.operator(body)
            body = self.continue_pipes(body)
        self.expect_op(")")
        return A.Pipe(p, src, A.MvApply(p, tuple(items), body))

    def op_parse(self, src: A.Tabular, p: A.Pos, where: bool = False) -> A.Tabular:
        kind, flags = "simple", ""
        while self.at_word("kind", "flags") and self.peek().kind == OP and self.peek().value == "=":
            key = str(self.advance().value).lower()
            self.advance()
            val = str(self.advance().text)
            if key == "kind":
                kind = val.lower()
            else:
                flags = val
        source = self.expr()
        self.expect_word("with")
        parts: list[tuple[str, Any]] = []
        while True:
            if self.tok.kind == STRING:
                parts.append(("text", self.advance().value))
            elif self.accept_op("*"):
                parts.append(("star", None))
            elif self.at_ident() and not self.at_op("|"):
                name = self.ident()
                ctype = "string"
                if self.accept_op(":"):
                    ctype = self.type_name()
                parts.append(("col", (name, ctype)))
            else:
                break
            if self.at_op("|", ")", ";") or self.tok.kind == EOF:
                break
        op = A.Parse(p, source, kind + ("-where" if where else ""), tuple(parts), flags)
        return A.Pipe(p, src, op)

    def op_parse_where(self, src: A.Tabular, p: A.Pos) -> A.Tabular:
        return self.op_parse(src, p, where=True)

    def op_make_series(self, src: A.Tabular, p: A.Pos) -> A.Tabular:
        self.skip_hints()
        aggs: list[tuple[str | None, A.Expr, A.Expr | None]] = []
        while True:
            a = self.assign()
            default = None
            if self.accept_word("default"):
                self.expect_op("=")
                default = self.expr()
            aggs.append((a.names[0] if a.names else None, a.expr, default))
            if not self.accept_op(","):
                break
        self.expect_word("on")
        on = self.add_expr()
        start = stop = step = None
        if self.accept_word("in"):
            self.expect_word("range")
            self.expect_op("(")
            start = self.expr()
            self.expect_op(",")
            stop = self.expr()
            self.expect_op(",")
            step = self.expr()
            self.expect_op(")")
        else:
            if self.accept_word("from"):
                start = self.expr()
            if self.accept_word("to"):
                stop = self.expr()
            self.expect_word("step")
            step = self.expr()
        by = self.assign_list() if self.accept_word("by") else []
        return A.Pipe(p, src, A.MakeSeries(p, tuple(aggs), on, start, stop, step, tuple(by)))

    def op_render(self, src: A.Tabular, p: A.Pos) -> A.Tabular:
        viz = self.ident()
        props: list[tuple[str, Any]] = []
        bare = self.tok.kind == IDENT and self.peek().kind == OP and self.peek().value == "="
        if bare or self.accept_word("with"):
            if not bare:
                self.expect_op("(")
            while not self.at_op(")") and not (bare and self.at_op("|", ";")) and self.tok.kind != EOF:
                key = self.ident()
                self.expect_op("=")
                if self.tok.kind == IDENT:
                    names = [self.ident()]
                    while self.accept_op(","):
                        if self.tok.kind == IDENT and self.peek().kind == OP and self.peek().value == "=":
                            self.i -= 1
                            break
                        names.append(self.ident())
                    props.append((key, names[0] if len(names) == 1 else names))
                else:
                    value = self.primary()
                    props.append((key, value.value if isinstance(value, A.Literal) else None))
                if not self.accept_op(",") and not (bare and self.tok.kind == IDENT):
                    break
            if not bare:
                self.expect_op(")")
        return A.Pipe(p, src, A.Render(p, viz, tuple(props)))

    def op_serialize(self, src: A.Tabular, p: A.Pos) -> A.Tabular:
        items = self.assign_list() if not (self.at_op("|", ")", ";") or self.tok.kind == EOF) else []
        return A.Pipe(p, src, A.Serialize(p, tuple(items)))

    def op_getschema(self, src: A.Tabular, p: A.Pos) -> A.Tabular:
        return A.Pipe(p, src, A.GetSchema(p))

    def op_sample(self, src: A.Tabular, p: A.Pos) -> A.Tabular:
        return A.Pipe(p, src, A.Sample(p, self.expr()))

    def op_as(self, src: A.Tabular, p: A.Pos) -> A.Tabular:
        self.skip_hints()
        return A.Pipe(p, src, A.As(p, self.ident()))

    def op_evaluate(self, src: A.Tabular, p: A.Pos) -> A.Tabular:
        self.skip_hints()
        t = self.tok
        e = self.primary()
        if not isinstance(e, A.Call):
            raise KqlError("SyntaxError", "Expected a plugin call after 'evaluate'", t.line, t.column)
        return A.Pipe(p, src, A.Evaluate(self.pos(t), e.name, e.args))

    def op_unsupported(self, src: A.Tabular, p: A.Pos) -> A.Tabular:
        word = self.toks[self.i - 1].text
        raise KqlError("UnsupportedOperator", f"The '{word}' operator is not supported", *p)


_Op = Callable[[Parser, A.Tabular, A.Pos], A.Tabular]
OPERATORS: dict[str, _Op] = {
    "where": Parser.op_where,
    "filter": Parser.op_where,
    "project": Parser.op_project,
    "project-away": Parser.op_project_away,
    "project-keep": Parser.op_project_keep,
    "project-rename": Parser.op_project_rename,
    "project-reorder": Parser.op_project_reorder,
    "extend": Parser.op_extend,
    "summarize": Parser.op_summarize,
    "sort": Parser.op_sort,
    "order": Parser.op_sort,
    "take": Parser.op_take,
    "limit": Parser.op_take,
    "top": Parser.op_top,
    "count": Parser.op_count,
    "distinct": Parser.op_distinct,
    "join": Parser.op_join,
    "lookup": Parser.op_lookup,
    "union": Parser.op_union,
    "mv-expand": Parser.op_mv_expand,
    "mvexpand": Parser.op_mv_expand,
    "mv-apply": Parser.op_mv_apply,
    "parse": Parser.op_parse,
    "parse-where": Parser.op_parse_where,
    "make-series": Parser.op_make_series,
    "render": Parser.op_render,
    "serialize": Parser.op_serialize,
    "getschema": Parser.op_getschema,
    "sample": Parser.op_sample,
    "as": Parser.op_as,
    "evaluate": Parser.op_evaluate,
    "top-nested": Parser.op_unsupported,
    "top-hitters": Parser.op_unsupported,
    "parse-kv": Parser.op_unsupported,
    "search": Parser.op_unsupported,
    "invoke": Parser.op_unsupported,
    "fork": Parser.op_unsupported,
    "facet": Parser.op_unsupported,
    "scan": Parser.op_unsupported,
    "reduce": Parser.op_unsupported,
}

SOURCES: dict[str, Callable[[Parser, A.Pos], A.Tabular]] = {
    "datatable": Parser.src_datatable,
    "print": Parser.src_print,
    "range": Parser.src_range,
    "union": Parser.src_union,
    "search": Parser.src_unsupported,
    "find": Parser.src_unsupported,
    "externaldata": externaldata.parse,
    "external_table": Parser.src_unsupported,
    "cluster": Parser.src_unsupported,
    "database": Parser.src_unsupported,
}


def parse(text: str) -> A.Script:
    """Parse a whole KQL query text (lets, set options and one tabular expression)."""
    return Parser(text).script()


__all__ = ["TYPE_NAMES", "Parser", "parse"]
