"""`externaldata`: a table whose rows are fetched from URLs when the query runs.

    externaldata (Domain:string, Rank:long) [@"https://feeds.example/top.csv"] with (format="csv")

The compiler never fetches anything. Each `externaldata` becomes a read of a table named in
`CompiledQuery.externals`, whose columns are all strings: whoever runs the SQL fetches the URLs,
registers that table and runs the query (the workspace does so only for URL prefixes its operator
allowed). The declared types are applied in SQL by the same conversions as `tolong()`,
`todatetime()`, `todynamic()`, ..., so a value that does not convert is null, as in Kusto.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from sqlglot import exp

from . import ast as A
from .binder import Context, Rel, Scope, alias
from .errors import KqlError
from .scalars import translate

if TYPE_CHECKING:
    from .parse_ops import Parser

# The conversion applied to each declared type (a string column stays as it is).
_CONVERT = {
    "int": "toint",
    "long": "tolong",
    "real": "toreal",
    "decimal": "todecimal",
    "bool": "tobool",
    "datetime": "todatetime",
    "timespan": "totimespan",
    "guid": "toguid",
    "dynamic": "todynamic",
}


@dataclass(frozen=True, slots=True)
class External:
    """One `externaldata` of a compiled query: what to fetch, and the table the SQL reads it from."""

    table: str  # to register before running the SQL: one string column per declared column
    columns: tuple[tuple[str, str], ...]  # as declared: name and Kusto type
    urls: tuple[str, ...]
    properties: tuple[tuple[str, str], ...]  # `with (...)`: name (lower case) and value as text

    def property(self, name: str, default: str = "") -> str:
        return next((v for k, v in self.properties if k == name.lower()), default)


@dataclass(frozen=True)
class ExternalData(A.Tabular):
    columns: tuple[tuple[str, str], ...]
    urls: tuple[str, ...]
    properties: tuple[tuple[str, str], ...]


def parse(parser: Parser, p: A.Pos) -> A.Tabular:
    """`externaldata (Name:type, ...) [url, ...] [with (name = value, ...)]` (the word already read)."""
    columns = parser.schema()
    if not columns:
        raise KqlError("SyntaxError", "externaldata needs at least one column: (Name:type, ...)", *p)
    parser.expect_op("[")
    urls: list[str] = []
    while not parser.at_op("]"):
        urls.append(_text(parser.expr(), "an externaldata URL"))
        if not parser.accept_op(","):
            break
    parser.expect_op("]")
    if not urls:
        raise KqlError("SyntaxError", "externaldata needs at least one URL in [...]", *p)
    properties: list[tuple[str, str]] = []
    if parser.at_ident() and str(parser.tok.value).lower() == "with":
        parser.advance()
        parser.expect_op("(")
        while not parser.at_op(")"):
            key = parser.ident()
            parser.expect_op("=")
            properties.append((key.lower(), _text(parser.expr(), f"the value of {key}")))
            if not parser.accept_op(","):
                break
        parser.expect_op(")")
    return ExternalData(p, tuple(columns), tuple(urls), tuple(properties))


def _text(e: A.Expr, what: str) -> str:
    """A literal's value as text (`true` -> "true"; a bare word as itself)."""
    if isinstance(e, A.Literal) and e.value is not None:
        return str(e.value).lower() if isinstance(e.value, bool) else str(e.value)
    if isinstance(e, A.Name):
        return e.name
    raise KqlError("SyntaxError", f"Expected a literal for {what}", *e.pos)


def plan(ctx: Context, t: A.Tabular) -> Rel:
    assert isinstance(t, ExternalData)
    table = f"_calypso_external_{len(ctx.externals)}"
    ctx.externals.append(External(table, t.columns, t.urls, t.properties))
    scope = Scope(ctx, {name: "string" for name, _ in t.columns}, table)
    items = []
    for name, kusto_type in t.columns:
        ref: A.Expr = A.Name(t.pos, name)
        convert = _CONVERT.get(kusto_type)
        value = translate(A.Call(t.pos, convert, (ref,)) if convert else ref, scope)
        items.append(alias(value.sql, name))
    q = exp.select(*items).from_(exp.table_(table, quoted=True), copy=False)
    return Rel(q, list(t.columns))
