"""Parsing of the tabular operators that reshape their one input table (where, project, extend,
summarize, sort, top, parse, make-series, render, evaluate, ...), and the clauses they share.

Invariant: each `op_*` method is entered after its operator name and returns
`A.Pipe(pos, input, <operator node>)` or raises `KqlError`; `parse_ops.OPERATORS` maps operator
names to these methods.
"""

from __future__ import annotations

from typing import Any

from . import ast as A
from .errors import KqlError
from .parser import ParserBase
from .tokens import EOF, IDENT, OP, STRING


class TableOperators(ParserBase):
    # ---- clauses shared by several operators (and `print`) ----------------------------------
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

    # ---- operators ---------------------------------------------------------------------------
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
        if self.at_word("as"):  # `count as N`: the count in a column named N
            self.advance()
            name = self.ident()
            return A.Pipe(p, src, A.Summarize(p, (A.Assign((name,), A.Call(p, "count", ())),), ()))
        return A.Pipe(p, src, A.Count(p))

    def op_distinct(self, src: A.Tabular, p: A.Pos) -> A.Tabular:
        self.skip_hints()
        if self.accept_op("*"):
            return A.Pipe(p, src, A.Distinct(p, (A.Star(p),)))
        items = [self.expr()]
        while self.accept_op(","):
            items.append(self.expr())
        return A.Pipe(p, src, A.Distinct(p, tuple(items)))

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

    def op_sample_distinct(self, src: A.Tabular, p: A.Pos) -> A.Tabular:
        """`sample-distinct N of Column`: up to N distinct values of Column (which ones is unspecified)."""
        self.skip_hints()
        count = self.expr()
        self.expect_word("of")
        column = self.expr()
        distinct = A.Pipe(p, src, A.Summarize(p, (), (A.Assign((), column),)))
        return A.Pipe(p, distinct, A.Take(p, count))

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
