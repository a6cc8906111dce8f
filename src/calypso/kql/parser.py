"""Recursive-descent KQL parser: tokens -> `ast.Script`.

Invariant: the parser only builds AST nodes from tokens; it never consults schemas. Any token it
cannot place raises `KqlError("SyntaxError")` at that token's position. Tabular operators dispatch
through `parse_ops.OPERATORS` (one entry per operator name).
"""

from __future__ import annotations

import json
from typing import Any

from . import ast as A
from .errors import KqlError
from .tokens import EOF, IDENT, NUMBER, OP, STRING, TIMESPAN, Token, tokenize

COMPARISON_OPS = frozenset(
    {"==", "!=", "<>", "<", "<=", ">", ">=", "=~", "!~"}
    | {
        w
        for base in (
            "has",
            "has_cs",
            "hasprefix",
            "hasprefix_cs",
            "hassuffix",
            "hassuffix_cs",
            "contains",
            "contains_cs",
            "startswith",
            "startswith_cs",
            "endswith",
            "endswith_cs",
        )
        for w in (base, "!" + base)
    }
)
LIST_OPS = frozenset({"in", "!in", "in~", "!in~", "has_any", "has_all", "!has_any", "!has_all"})
TYPE_NAMES = {
    "string": "string",
    "int": "int",
    "int32": "int",
    "long": "long",
    "int64": "long",
    "real": "real",
    "double": "real",
    "bool": "bool",
    "boolean": "bool",
    "datetime": "datetime",
    "date": "datetime",
    "timespan": "timespan",
    "time": "timespan",
    "guid": "guid",
    "uniqueid": "guid",
    "decimal": "decimal",
    "dynamic": "dynamic",
}
TABULAR_STARTS = frozenset(
    {"datatable", "print", "range", "union", "materialize", "view", "search", "find", "externaldata"}
)


_OP_COMPARISONS = COMPARISON_OPS | LIST_OPS | {"!between", "!matches"}


class ParserBase:
    def __init__(self, text: str) -> None:
        self.text = text
        self.toks = tokenize(text)
        self.i = 0

    # ---- token helpers -----------------------------------------------------------------------
    @property
    def tok(self) -> Token:
        return self.toks[self.i]

    def peek(self, k: int = 1) -> Token:
        return self.toks[min(self.i + k, len(self.toks) - 1)]

    def advance(self) -> Token:
        t = self.toks[self.i]
        if t.kind != EOF:
            self.i += 1
        return t

    def error(self, message: str, tok: Token | None = None) -> KqlError:
        t = tok or self.tok
        return KqlError("SyntaxError", message, t.line, t.column)

    def at_op(self, *ops: str) -> bool:
        t = self.toks[self.i]  # not `self.tok`: the parser's most called helper
        return t.kind == OP and t.value in ops

    def at_word(self, *words: str) -> bool:
        t = self.toks[self.i]
        return t.kind == IDENT and str(t.value).lower() in words

    def accept_op(self, op: str) -> bool:
        if self.at_op(op):
            self.advance()
            return True
        return False

    def accept_word(self, word: str) -> bool:
        if self.at_word(word):
            self.advance()
            return True
        return False

    def expect_op(self, op: str) -> Token:
        if not self.at_op(op):
            raise self.error(f"Expected '{op}' but found '{self.tok.text or 'end of query'}'")
        return self.advance()

    def expect_word(self, word: str) -> Token:
        if not self.at_word(word):
            raise self.error(f"Expected '{word}' but found '{self.tok.text or 'end of query'}'")
        return self.advance()

    def pos(self, tok: Token | None = None) -> A.Pos:
        t = tok or self.tok
        return (t.line, t.column)

    def ident(self) -> str:
        """An identifier: a word, or the bracketed form `['name']` / `["name"]`."""
        t = self.tok
        if t.kind == IDENT:
            self.advance()
            return str(t.value)
        if (
            self.at_op("[")
            and self.peek().kind == STRING
            and self.peek(2).kind == OP
            and self.peek(2).value == "]"
        ):
            self.advance()
            name = str(self.advance().value)
            self.advance()
            return name
        raise self.error(f"Expected a name but found '{t.text or 'end of query'}'")

    def at_ident(self) -> bool:
        return self.tok.kind == IDENT or (
            self.at_op("[")
            and self.peek().kind == STRING
            and self.peek(2).kind == OP
            and self.peek(2).value == "]"
        )

    def ident_len(self) -> int:
        return 1 if self.tok.kind == IDENT else 3

    def raw_parens(self) -> str:
        """Text between `(` and its matching `)`, consumed verbatim (for datetime(...) and friends)."""
        open_tok = self.expect_op("(")
        depth = 1
        while depth:
            t = self.advance()
            if t.kind == EOF:
                raise self.error("Unbalanced parentheses", open_tok)
            if t.kind == OP and t.value == "(":
                depth += 1
            elif t.kind == OP and t.value == ")":
                depth -= 1
                if depth == 0:
                    return self.text[open_tok.offset + 1 : t.offset].strip()
        raise self.error("Unbalanced parentheses", open_tok)  # pragma: no cover

    def type_name(self) -> str:
        t = self.tok
        name = self.ident().lower()
        if name not in TYPE_NAMES:
            raise KqlError("SyntaxError", f"Unknown type '{name}'", t.line, t.column)
        return TYPE_NAMES[name]

    def schema(self, star: bool = False) -> list[tuple[str, str]]:
        """`(Name:type, ...)` as (name, Kusto type) pairs; with `star`, `*` stands as ("*", "")."""
        self.expect_op("(")
        cols: list[tuple[str, str]] = []
        while not self.at_op(")"):
            if star and self.accept_op("*"):
                cols.append(("*", ""))
            else:
                name = self.ident()
                self.expect_op(":")
                cols.append((name, self.type_name()))
            if not self.accept_op(","):
                break
        self.expect_op(")")
        return cols

    # ---- expressions -------------------------------------------------------------------------
    def expr(self) -> A.Expr:
        return self.or_expr()

    def or_expr(self) -> A.Expr:
        left = self.and_expr()
        while self.at_word("or"):
            t = self.advance()
            left = A.Binary(self.pos(t), "or", left, self.and_expr())
        return left

    def and_expr(self) -> A.Expr:
        left = self.cmp_expr()
        while self.at_word("and"):
            t = self.advance()
            left = A.Binary(self.pos(t), "and", left, self.cmp_expr())
        return left

    def cmp_op(self) -> str | None:
        t = self.tok
        if t.kind == OP and t.value in _OP_COMPARISONS:
            return str(t.value)
        if t.kind == IDENT:
            w = str(t.value)
            if w in COMPARISON_OPS or w in LIST_OPS or w in ("between", "matches"):
                return w
        return None

    def cmp_expr(self) -> A.Expr:
        left = self.add_expr()
        while (op := self.cmp_op()) is not None:
            t = self.advance()
            p = self.pos(t)
            if op in ("matches", "!matches"):
                self.expect_word("regex")
                left = A.Binary(p, "matches regex", left, self.add_expr())
            elif op in ("between", "!between"):
                self.expect_op("(")
                low = self.add_expr()
                self.expect_op("..")
                high = self.add_expr()
                self.expect_op(")")
                left = A.Between(p, op == "!between", left, low, high)
            elif op in LIST_OPS:
                self.expect_op("(")
                items = self.expr_list_or_tabular(")")
                self.expect_op(")")
                left = A.InList(p, op, left, tuple(items))
            else:
                left = A.Binary(p, "!=" if op == "<>" else op, left, self.add_expr())
        return left

    def expr_list_or_tabular(self, closer: str) -> list[A.Expr]:
        items: list[A.Expr] = []
        if self.at_op(closer):
            return items
        while True:
            items.append(self.expr_or_tabular())
            if not self.accept_op(","):
                return items

    def at_tabular_start(self) -> bool:
        """A word that begins a tabular expression here: `range(1, 5)` is the scalar function, while
        `range x from ...` is the table; `materialize(...)` is read as a call."""
        t = self.tok
        if t.kind != IDENT or str(t.value) not in TABULAR_STARTS or t.value == "materialize":
            return False
        return not (t.value == "range" and self.peek().kind == OP and self.peek().value == "(")

    def expr_or_tabular(self) -> A.Expr:
        start = self.tok
        if self.at_tabular_start():
            return A.TabularArg(self.pos(start), self.tabular())
        e = self.expr()
        if self.at_op("|"):
            return A.TabularArg(self.pos(start), self.continue_pipes(self.as_tabular(e)))
        return e

    def as_tabular(self, e: A.Expr) -> A.Tabular:
        if isinstance(e, A.Name):
            return A.TableRef(e.pos, e.name)
        if isinstance(e, A.Call):
            if e.name == "materialize" and len(e.args) == 1:
                return A.Materialize(e.pos, self.as_tabular(e.args[0]))
            return A.FunctionCallTable(e.pos, e.name, e.args)
        if isinstance(e, A.TabularArg):
            return e.query
        raise KqlError("SyntaxError", "Expected a tabular expression", *e.pos)

    def add_expr(self) -> A.Expr:
        left = self.mul_expr()
        while self.at_op("+", "-"):
            t = self.advance()
            left = A.Binary(self.pos(t), str(t.value), left, self.mul_expr())
        return left

    def mul_expr(self) -> A.Expr:
        left = self.unary_expr()
        while self.at_op("*", "/", "%"):
            t = self.advance()
            left = A.Binary(self.pos(t), str(t.value), left, self.unary_expr())
        return left

    def unary_expr(self) -> A.Expr:
        if self.at_op("-", "+"):
            t = self.advance()
            operand = self.unary_expr()
            if t.value == "+":
                return operand
            if (
                isinstance(operand, A.Literal)
                and operand.type in ("int", "long", "real", "timespan")
                and isinstance(operand.value, int | float)
            ):
                return A.Literal(self.pos(t), -operand.value, operand.type)
            return A.Unary(self.pos(t), "-", operand)
        return self.postfix_expr()

    def postfix_expr(self) -> A.Expr:
        e = self.primary()
        while True:
            if self.toks[self.i].kind != OP:  # most operands are followed by a word or an operator
                return e
            if self.at_op(".") and (
                self.peek().kind == IDENT or (self.peek().kind == OP and self.peek().value == "[")
            ):
                t = self.advance()
                if self.tok.kind == IDENT:
                    e = A.Member(self.pos(t), e, self.ident())
                else:
                    self.expect_op("[")
                    idx = self.expr()
                    self.expect_op("]")
                    e = A.Index(self.pos(t), e, idx)
            elif self.at_op("["):
                t = self.advance()
                idx = self.expr()
                self.expect_op("]")
                e = A.Index(self.pos(t), e, idx)
            else:
                return e

    def primary(self) -> A.Expr:
        t = self.toks[self.i]
        p = (t.line, t.column)
        if t.kind == IDENT:  # the commonest operand first: a name, a call, true/false/null
            self.i += 1
            name = str(t.value)
            nxt = self.toks[self.i]
            if nxt.kind == OP and nxt.value == "(":
                return self.call_or_typed(name, p)
            low = name.lower()
            if low in ("true", "false"):
                return A.Literal(p, low == "true", "bool")
            if low == "null":
                return A.Literal(p, None, "dynamic")
            return A.Name(p, name)
        if t.kind == NUMBER:
            self.advance()
            v = t.value
            if isinstance(v, float):
                return A.Literal(p, v, "real")
            assert isinstance(v, int)
            return A.Literal(p, v, "long")  # Kusto integer literals are long
        if t.kind == TIMESPAN:
            self.advance()
            return A.Literal(p, t.value, "timespan")
        if t.kind == STRING:
            parts = []
            while self.tok.kind == STRING:
                parts.append(str(self.advance().value))
            return A.Literal(p, "".join(parts), "string")
        if self.at_op("("):
            self.advance()
            if self.at_tabular_start():
                inner: A.Expr = A.TabularArg(p, self.tabular())
            else:
                inner = self.expr_or_tabular()
            self.expect_op(")")
            return inner
        if self.at_op("*"):
            self.advance()
            return A.Star(p)
        if self.at_op("[") and not self.at_ident():
            raise self.error("Unexpected '['")
        if self.at_ident():
            bracketed = self.tok.kind != IDENT
            name = self.ident()
            low = name.lower()
            if not bracketed:
                if low in ("true", "false") and not self.at_op("("):
                    return A.Literal(p, low == "true", "bool")
                if low == "null" and not self.at_op("("):
                    return A.Literal(p, None, "dynamic")
                if self.at_op("("):
                    return self.call_or_typed(name, p)
            return A.Name(p, name)
        raise self.error(f"Unexpected '{t.text or 'end of query'}'")

    def call_or_typed(self, name: str, p: A.Pos) -> A.Expr:
        low = name.lower()
        if low in ("datetime", "date", "todatetime_literal"):
            return A.Literal(p, self.raw_parens(), "datetime")
        if low in ("time", "timespan"):
            return self.timespan_literal(p)
        if low == "dynamic":
            self.expect_op("(")
            value = self.json_value()
            self.expect_op(")")
            return A.DynamicLiteral(p, value)
        if low in ("guid", "uniqueid"):
            raw = self.raw_parens()
            return A.Literal(p, None if raw == "null" else raw, "guid")
        if low in TYPE_NAMES and low not in ("string",):
            raw = self.raw_parens()
            kt = TYPE_NAMES[low]
            return A.Literal(p, self.typed_value(raw, kt, p), kt)
        self.expect_op("(")
        args: list[A.Expr] = []
        if not self.at_op(")"):
            while True:
                if (
                    self.at_ident()
                    and self.peek(self.ident_len()).kind == OP
                    and self.peek(self.ident_len()).value == "="
                ):
                    self.ident()  # named argument: keep the value, positional order
                    self.advance()
                args.append(self.expr_or_tabular())
                if not self.accept_op(","):
                    break
        self.expect_op(")")
        return A.Call(p, name, tuple(args))

    def typed_value(self, raw: str, kt: str, p: A.Pos) -> Any:
        if raw.lower() == "null" or raw == "":
            return None
        try:
            if kt in ("int", "long"):
                return int(raw, 0)
            if kt in ("real", "decimal"):
                low = raw.lower()
                if low in ("nan", "+inf", "-inf", "inf"):
                    return float(low)
                return float(raw)
            if kt == "bool":
                return {"true": True, "false": False, "1": True, "0": False}[raw.lower()]
        except (ValueError, KeyError):
            pass
        raise KqlError("SyntaxError", f"Invalid {kt} literal '{raw}'", *p)

    def timespan_literal(self, p: A.Pos) -> A.Literal:
        from .values import parse_timespan

        raw = self.raw_parens()
        if raw.lower() == "null":
            return A.Literal(p, None, "timespan")
        ticks = parse_timespan(raw)
        if ticks is None:
            raise KqlError("SyntaxError", f"Invalid timespan literal '{raw}'", *p)
        return A.Literal(p, ticks, "timespan")

    def json_value(self) -> Any:
        t = self.tok
        if self.accept_op("["):
            items = []
            while not self.at_op("]"):
                items.append(self.json_value())
                if not self.accept_op(","):
                    break
            self.expect_op("]")
            return items
        if self.accept_op("{"):
            obj: dict[str, Any] = {}
            while not self.at_op("}"):
                kt = self.tok
                if kt.kind not in (STRING, IDENT):
                    raise self.error("Expected a property name in dynamic literal")
                self.advance()
                self.expect_op(":")
                obj[str(kt.value)] = self.json_value()
                if not self.accept_op(","):
                    break
            self.expect_op("}")
            return obj
        neg = self.accept_op("-")
        if t.kind in (NUMBER, TIMESPAN) or (neg and self.tok.kind in (NUMBER, TIMESPAN)):
            v = self.advance().value
            assert isinstance(v, int | float)
            return -v if neg else v
        if self.tok.kind == STRING:
            parts = []
            while self.tok.kind == STRING:
                parts.append(str(self.advance().value))
            return "".join(parts)
        if self.at_word("true", "false", "null"):
            return json.loads(str(self.advance().value).lower())
        if self.tok.kind == IDENT and self.peek().kind == OP and self.peek().value == "(":
            e = self.primary()
            if isinstance(e, A.Literal):
                return e.value
        raise self.error(f"Unexpected '{self.tok.text}' in dynamic literal")

    # ---- tabular -----------------------------------------------------------------------------
    def tabular(self) -> A.Tabular:
        raise NotImplementedError

    def continue_pipes(self, source: A.Tabular) -> A.Tabular:
        raise NotImplementedError
