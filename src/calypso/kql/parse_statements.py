"""Script-level parsing: `let`, `set` and `declare` statements, and user function definitions.

Invariant: a script holds at most one tabular expression statement; `set` options are kept as
written (name -> value; `query_now` sets `now()`), `declare query_parameters(...)` binds each
parameter to its default like a scalar `let`, and other `declare` statements are skipped.
"""

from __future__ import annotations

from typing import Any

from . import ast as A
from .errors import KqlError
from .parser import ParserBase
from .tokens import EOF, IDENT, OP


class StatementParser(ParserBase):
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
                    e = self.expr()  # a literal, `datetime(...)`, a word
                    value = e.value if isinstance(e, A.Literal) else e.name if isinstance(e, A.Name) else e
                options[name] = value
            elif (
                self.at_word("declare")
                and self.peek().kind == IDENT
                and self.peek().value == "query_parameters"
            ):
                lets.extend(self.query_parameters())
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

    def query_parameters(self) -> list[A.Let]:
        """`declare query_parameters(name:type [= default], ...)`: each a scalar `let` of its default;
        one without a default (its value would come with the request) is a null of its type."""
        self.advance()
        self.advance()
        self.expect_op("(")
        out: list[A.Let] = []
        while not self.at_op(")"):
            t = self.tok
            name = self.ident()
            self.expect_op(":")
            kusto_type = self.type_name()
            value: A.Expr = A.Literal(self.pos(t), None, kusto_type)
            if self.accept_op("="):
                value = self.expr()
            out.append(A.Let(self.pos(t), name, value))
            if not self.accept_op(","):
                break
        self.expect_op(")")
        return out

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
