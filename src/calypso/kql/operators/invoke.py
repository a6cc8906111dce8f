"""`T | invoke f(a, ...)`: the user function `f` (a `let` with a tabular first parameter) called with
the piped table as that first argument, exactly as `f(T, a, ...)` would be."""

from __future__ import annotations

from .. import ast as A
from ..parse_ops import OPERATORS as PARSE_OPERATORS
from ..parse_ops import Parser


def parse_invoke(p: Parser, src: A.Tabular, pos: A.Pos) -> A.Tabular:
    name = p.ident()
    p.expect_op("(")
    args = p.expr_list_or_tabular(")")
    p.expect_op(")")
    return A.FunctionCallTable(pos, name, (A.TabularArg(pos, src), *args))


PARSE_OPERATORS["invoke"] = parse_invoke
