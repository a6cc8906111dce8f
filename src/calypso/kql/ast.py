"""KQL abstract syntax tree: frozen dataclasses, each carrying the source position it came from.

Invariant: nodes are immutable and hold only parsed facts (names, literals, children, positions);
no types and no SQL. `pos` is the (line, column) of the node's first token.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

Pos = tuple[int, int]


# ---- scalar expressions -------------------------------------------------------------------------
@dataclass(frozen=True)
class Expr:
    pos: Pos


@dataclass(frozen=True)
class Literal(Expr):
    value: Any
    type: str  # kusto type of the literal; value None means a typed null


@dataclass(frozen=True)
class DynamicLiteral(Expr):
    value: Any  # parsed JSON-compatible value


@dataclass(frozen=True)
class Name(Expr):
    name: str


@dataclass(frozen=True)
class Star(Expr):
    pass


@dataclass(frozen=True)
class Member(Expr):
    target: Expr
    name: str


@dataclass(frozen=True)
class Index(Expr):
    target: Expr
    index: Expr


@dataclass(frozen=True)
class Call(Expr):
    name: str
    args: tuple[Expr, ...]


@dataclass(frozen=True)
class Binary(Expr):
    op: str
    left: Expr
    right: Expr


@dataclass(frozen=True)
class Unary(Expr):
    op: str
    operand: Expr


@dataclass(frozen=True)
class InList(Expr):
    op: str  # in, !in, in~, !in~, has_any, has_all
    left: Expr
    items: tuple[Expr, ...]


@dataclass(frozen=True)
class Between(Expr):
    negated: bool
    left: Expr
    low: Expr
    high: Expr


@dataclass(frozen=True)
class TabularArg(Expr):
    """A tabular expression used where a scalar is expected: `toscalar(T)`, `x in (T)`."""

    query: Tabular


@dataclass(frozen=True)
class Assign:
    """`name = expr` or a bare `expr`; `names` has several entries for `(a, b) = f(x)`."""

    names: tuple[str, ...]
    expr: Expr


# ---- tabular expressions ------------------------------------------------------------------------
@dataclass(frozen=True)
class Tabular:
    pos: Pos


@dataclass(frozen=True)
class TableRef(Tabular):
    name: str


@dataclass(frozen=True)
class Pipe(Tabular):
    source: Tabular
    op: Operator


@dataclass(frozen=True)
class DataTable(Tabular):
    columns: tuple[tuple[str, str], ...]
    values: tuple[Expr, ...]


@dataclass(frozen=True)
class Print(Tabular):
    items: tuple[Assign, ...]


@dataclass(frozen=True)
class Range(Tabular):
    name: str
    start: Expr
    stop: Expr
    step: Expr


@dataclass(frozen=True)
class Union(Tabular):
    sources: tuple[Tabular, ...]
    kind: str
    withsource: str | None


@dataclass(frozen=True)
class FunctionCallTable(Tabular):
    name: str
    args: tuple[Expr, ...]


@dataclass(frozen=True)
class Materialize(Tabular):
    query: Tabular


# ---- operators ----------------------------------------------------------------------------------
@dataclass(frozen=True)
class Operator:
    pos: Pos


@dataclass(frozen=True)
class Where(Operator):
    predicate: Expr


@dataclass(frozen=True)
class Project(Operator):
    items: tuple[Assign, ...]


@dataclass(frozen=True)
class ProjectAway(Operator):
    patterns: tuple[str, ...]


@dataclass(frozen=True)
class ProjectKeep(Operator):
    patterns: tuple[str, ...]


@dataclass(frozen=True)
class ProjectRename(Operator):
    pairs: tuple[tuple[str, str], ...]  # (new, old)


@dataclass(frozen=True)
class ProjectReorder(Operator):
    patterns: tuple[str, ...]


@dataclass(frozen=True)
class Extend(Operator):
    items: tuple[Assign, ...]


@dataclass(frozen=True)
class Summarize(Operator):
    aggregates: tuple[Assign, ...]
    by: tuple[Assign, ...]


@dataclass(frozen=True)
class SortKey:
    expr: Expr
    desc: bool
    nulls_first: bool


@dataclass(frozen=True)
class Sort(Operator):
    keys: tuple[SortKey, ...]


@dataclass(frozen=True)
class Take(Operator):
    count: Expr


@dataclass(frozen=True)
class Top(Operator):
    count: Expr
    key: SortKey


@dataclass(frozen=True)
class Count(Operator):
    pass


@dataclass(frozen=True)
class Distinct(Operator):
    items: tuple[Expr, ...]  # Star for `distinct *`


@dataclass(frozen=True)
class Join(Operator):
    kind: str
    right: Tabular
    on: tuple[tuple[Expr, Expr], ...]  # (left key, right key)
    lookup: bool = False


@dataclass(frozen=True)
class UnionOp(Operator):
    sources: tuple[Tabular, ...]
    kind: str
    withsource: str | None


@dataclass(frozen=True)
class MvExpand(Operator):
    items: tuple[tuple[str, Expr, str | None], ...]  # (name, expr, to typeof)
    limit: Expr | None


@dataclass(frozen=True)
class MvApply(Operator):
    items: tuple[tuple[str, Expr, str | None], ...]
    body: Tabular  # applied to the expanded rows of one input row; source is TableRef("$mvapply")


@dataclass(frozen=True)
class Parse(Operator):
    source: Expr
    kind: str  # simple | regex | relaxed
    parts: tuple[tuple[str, Any], ...]  # ("text", str) | ("col", (name, type))
    flags: str = ""


@dataclass(frozen=True)
class MakeSeries(Operator):
    aggregates: tuple[tuple[str | None, Expr, Expr | None], ...]  # (name, agg, default)
    on: Expr
    start: Expr | None
    stop: Expr | None
    step: Expr
    by: tuple[Assign, ...]


@dataclass(frozen=True)
class Render(Operator):
    visualization: str
    properties: tuple[tuple[str, Any], ...]


@dataclass(frozen=True)
class Serialize(Operator):
    items: tuple[Assign, ...]


@dataclass(frozen=True)
class GetSchema(Operator):
    pass


@dataclass(frozen=True)
class Sample(Operator):
    count: Expr


@dataclass(frozen=True)
class As(Operator):
    name: str


@dataclass(frozen=True)
class Evaluate(Operator):
    plugin: str
    args: tuple[Expr, ...]


@dataclass(frozen=True)
class TopNested(Operator):
    levels: tuple[tuple[Expr | None, Assign, Assign | None, bool], ...]  # (n, of, by, desc)


# ---- statements ---------------------------------------------------------------------------------
@dataclass(frozen=True)
class Param:
    name: str
    type: str  # kusto scalar type, or "table" for tabular parameters
    default: Expr | None = None


@dataclass(frozen=True)
class FunctionDef:
    params: tuple[Param, ...]
    lets: tuple[Let, ...]
    body: Tabular | Expr


@dataclass(frozen=True)
class Let:
    pos: Pos
    name: str
    value: Expr | Tabular | FunctionDef


@dataclass(frozen=True)
class Script:
    lets: tuple[Let, ...]
    query: Tabular
    options: dict[str, Any] = field(default_factory=dict, hash=False, compare=False)
