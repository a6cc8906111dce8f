"""The KQL parser's entry point: tabular expressions, their sources and operators, dispatched
through the `SOURCES` and `OPERATORS` registries below.

`Parser` combines the parsing of statements (`parse_statements`) with the operators that hold
other tabular expressions (`parse_subquery_ops`), which build on the operators that reshape one
table and the clauses they share (`parse_table_ops`), all over the expression parser
(`parser.ParserBase`). Adding an operator is one `op_*` method plus one `OPERATORS` entry (modules
in `operators/` add their own entries).

Invariant: each tabular operator name maps to one parse method in `OPERATORS`; an operator name
not in the table raises `KqlError("UnsupportedOperator")` at the operator's position.
"""

from __future__ import annotations

from collections.abc import Callable

from . import ast as A
from . import externaldata
from .errors import KqlError, did_you_mean
from .parse_statements import StatementParser
from .parse_subquery_ops import SubqueryOperators
from .parser import TYPE_NAMES
from .tokens import IDENT, OP


class Parser(StatementParser, SubqueryOperators):
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
        cols = self.schema()
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
    "sample-distinct": Parser.op_sample_distinct,
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
