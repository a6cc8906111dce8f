"""Parsing of the tabular operators whose syntax holds other tabular expressions: `join` and
`lookup` (the right side), `union` (its tables) and `mv-apply` (its subquery), with `mv-expand`,
which shares mv-apply's item list.

Invariant: as in `parse_table_ops`, each `op_*` method is entered after its operator name and
returns `A.Pipe(pos, input, <operator node>)`; `parse_ops.OPERATORS` maps names to these methods.
"""

from __future__ import annotations

from . import ast as A
from .errors import KqlError
from .parse_table_ops import TableOperators
from .tokens import IDENT, OP


class SubqueryOperators(TableOperators):
    # Declared for the type checker: `parse_ops.Parser` defines them, next to the registries.
    def source(self) -> A.Tabular:
        raise NotImplementedError

    def operator(self, source: A.Tabular) -> A.Tabular:
        raise NotImplementedError

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
