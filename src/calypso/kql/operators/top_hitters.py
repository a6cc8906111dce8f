"""`T | top-hitters k of Column [by Weight]`: the k values of `Column` seen most often (or with the
largest sum of `Weight`). Kusto approximates; Calypso counts exactly, so this is a summarize and a
top, with Kusto's column names (`approximate_count_<Column>`, `approximate_sum_<Weight>`)."""

from __future__ import annotations

from .. import ast as A
from ..errors import KqlError
from ..parse_ops import OPERATORS as PARSE_OPERATORS
from ..parse_ops import Parser


def parse_top_hitters(p: Parser, src: A.Tabular, pos: A.Pos) -> A.Tabular:
    count = p.expr()
    p.expect_word("of")
    column = _column(p.expr())
    agg: A.Expr = A.Call(pos, "count", ())
    name = f"approximate_count_{column.name}"
    if p.at_word("by"):
        p.advance()
        weight = _column(p.expr())
        agg, name = A.Call(pos, "sum", (weight,)), f"approximate_sum_{weight.name}"
    grouped = A.Pipe(pos, src, A.Summarize(pos, (A.Assign((name,), agg),), (A.Assign((), column),)))
    return A.Pipe(pos, grouped, A.Top(pos, count, A.SortKey(A.Name(pos, name), True, False)))


def _column(e: A.Expr) -> A.Name:
    if not isinstance(e, A.Name):
        raise KqlError("SyntaxError", "top-hitters takes column names after 'of' and 'by'", *e.pos)
    return e


PARSE_OPERATORS["top-hitters"] = parse_top_hitters
