"""Binding state: typed SQL values, relations with Kusto schemas, scopes, and Kusto column naming.

Invariant: a `Rel` always knows its exact ordered output columns and their Kusto types, and its
SQL selects exactly those columns under those (quoted) names. Name lookups are case-sensitive like
Kusto's; a miss raises `KqlError("UnknownColumn")` with a did-you-mean hint.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlglot import exp

from . import ast as A
from .errors import unknown_column
from .naming import agg_name as agg_name
from .naming import expr_name as expr_name
from .sqlgen import ColumnList

if TYPE_CHECKING:
    from .dialects.base import Dialect

NUMERIC = frozenset({"int", "long", "real", "decimal"})


@dataclass(frozen=True)
class Typed:
    sql: exp.Expression
    type: str
    is_agg: bool = False


@dataclass
class Rel:
    sql: exp.Query
    columns: list[tuple[str, str]]
    serialized: bool = False

    def types(self) -> dict[str, str]:
        return dict(self.columns)


def col(name: str, table: str | None = None) -> exp.Column:
    # built directly: `exp.column` parses and normalises its parts, the hottest call of a compile
    if table is None:
        return exp.Column(this=exp.Identifier(this=name, quoted=True))
    return exp.Column(
        this=exp.Identifier(this=name, quoted=True), table=exp.Identifier(this=table, quoted=True)
    )


def alias(e: exp.Expression, name: str) -> exp.Expression:
    out = exp.alias_(e, name, quoted=True, copy=False)
    assert isinstance(out, exp.Expression)
    return out


@dataclass
class Context:
    """Per-compilation state shared by the planner and scalar translation."""

    dialect: Dialect
    catalog: Mapping[str, list[tuple[str, str]]]
    now: datetime
    timespan: tuple[datetime, datetime] | None
    lets: dict[str, Any] = field(default_factory=dict)
    counter: int = 0
    render: dict[str, Any] | None = None
    plan_tabular: Callable[[Context, A.Tabular], Rel] | None = None
    ctes: list[tuple[str, exp.Query]] = field(default_factory=list)
    # catalog-table references -> the columns to scan (see `prune`); a reference not here scans all
    scans: dict[A.TableRef, Any] = field(default_factory=dict)
    planned_union: bool = False  # a union was planned (its sides' types checked)
    externals: list[Any] = field(default_factory=list)  # `externaldata` tables to fetch (in order)

    def fresh(self, prefix: str = "_t") -> str:
        self.counter += 1
        return f"{prefix}{self.counter}"

    def share(self, rel: Rel) -> Rel:
        """`rel` as a common table expression, so each reference costs one name, not a copy."""
        name = self.fresh("_let")
        self.ctes.append((name, rel.sql))
        names = ColumnList(names=tuple(n for n, _ in rel.columns))
        q = exp.select(names).from_(exp.table_(name, quoted=True), copy=False)
        return Rel(q, list(rel.columns), rel.serialized)


# Kusto's hidden columns that the workspace does not store, mapped to the stored column standing in
# for them: no separate ingestion time is kept, so `_TimeReceived` reads `TimeGenerated`.
HIDDEN_COLUMNS: dict[str, str] = {"_TimeReceived": "TimeGenerated"}


@dataclass
class Scope:
    """Columns visible to a scalar expression (and, inside join keys, the two sides)."""

    ctx: Context
    columns: dict[str, str]
    table: str | None = None
    sides: dict[str, Scope] | None = None
    row_context: bool = True
    locals: dict[str, Typed] = field(default_factory=dict)

    def column(self, name: str, pos: A.Pos) -> Typed:
        if name in self.locals:
            return self.locals[name]
        if name in self.columns:
            return Typed(col(name, self.table), self.columns[name])
        stand_in = HIDDEN_COLUMNS.get(name)
        if stand_in is not None and stand_in in self.columns:
            return Typed(col(stand_in, self.table), self.columns[stand_in])
        raise unknown_column(name, self.columns, *pos)


def unique_name(name: str, taken: set[str]) -> str:
    """Kusto's de-duplication: `x`, then `x1`, `x2`, ..."""
    if name not in taken:
        return name
    i = 1
    while f"{name}{i}" in taken:
        i += 1
    return f"{name}{i}"


# Kusto's names for unnamed columns live in `naming` (one table of per-function rules).
summarize_key_name = expr_name
