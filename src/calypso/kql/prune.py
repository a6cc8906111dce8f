"""Column pruning: each catalog-table scan selects only the columns some later stage can see.

Invariant: before planning, `scan_needs` walks the query from its output back to every table
reference and records, per reference, the columns that any later stage may read or show. A column
is dropped only when no later stage can see it, so output names, types and order never change.
Whatever may see a whole row (`*`, `pack_all()`, project-away/-rename/-reorder with nothing
narrowing after them, evaluate, search, mv-apply, operators not listed here) needs every column.
Names are collected generously (every name an operator mentions), so a scan may keep more columns
than it needs, never fewer. Lets and functions are followed by name: every binding of a name gets
the union of what all references to that name need, whatever scope the planner resolves it in.
Search and find, which may read any let by name, keep every let whole.
A reference not recorded here (synthesised by the planner, a wildcard union) scans every column.
A pruned compile failing with `UnknownColumn` gives the unpruned compile's error: as it is when no
dropped column could change its did-you-mean hint (`hint_unchanged`), else the caller compiles again
unpruned. Pruning never turns a success into an error; a union whose sides disagree on a column's
type fails only if that column is kept (so the caller compiles again after a pruned union fails).
"""

from __future__ import annotations

import dataclasses
import difflib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from . import ast as A
from .binder import HIDDEN_COLUMNS
from .errors import HINT_CUTOFF
from .naming import expr_name

_DIGITS = "0123456789"


@dataclass
class Need:
    """Columns a scan must keep: `names`, and every `base`, `base1`, `base2`, ... of `families`."""

    names: set[str] = field(default_factory=set)
    families: set[str] = field(default_factory=set)  # join suffixes, Kusto's `ColumnN`, `strlen_X1`

    def keeps(self, column: str) -> bool:
        return column in self.names or (bool(self.families) and column.rstrip(_DIGITS) in self.families)

    def union(self, other: Need) -> Need:
        return Need(self.names | other.names, self.families | other.families)

    def covers(self, other: Need) -> bool:
        return other.names <= self.names and other.families <= self.families


Demand = Need | None  # None: every column may be seen
Scans = dict[A.TableRef, Need | None]


def merge(a: Demand, b: Demand) -> Demand:
    return None if a is None or b is None else a.union(b)


def select_columns(columns: list[tuple[str, str]], need: Need) -> list[tuple[str, str]]:
    """The catalog columns `need` keeps, in table order (at least one column, so the scan is valid)."""
    return [c for c in columns if need.keeps(c[0])] or columns[:1]


# operators whose output is their input's columns (in place, in order) plus columns they name
_ROW_KEEPING = (
    A.Where,
    A.Extend,
    A.Sort,
    A.Take,
    A.Top,
    A.Serialize,
    A.Sample,
    A.As,
    A.Render,
    A.Parse,
    A.MvExpand,
)
# operators whose output is built only from the columns they name
_REPLACING = (A.Project, A.Summarize, A.MakeSeries)
# operators that keep input columns not named in them only when a later stage asks for them
_NARROWED = (A.ProjectAway, A.ProjectReorder, A.ProjectRename)
_WHOLE_ROW_CALLS = frozenset({"pack_all", "column_ifexists"})
_IMPLICIT = {"ingestion_time": "TimeGenerated"}  # functions that read a column without naming it


class _WholeRow(Exception):
    pass


class _Analysis:
    def __init__(self, catalog: Mapping[str, Sequence[tuple[str, str]]]) -> None:
        self.catalog = catalog
        self.bindings: dict[str, list[Any]] = {}  # every let, parameter and function-local let by name
        self.let_need: dict[str, Demand] = {}
        self.scans: Scans = {}
        self.pending: list[str] = []
        self.expanding: set[str] = set()  # scalar functions whose bodies are being read (recursion)

    # ---- bindings ----------------------------------------------------------------------------
    def bind(self, lets: Sequence[A.Let]) -> None:
        for let in lets:
            self.bindings.setdefault(let.name, []).append(let.value)
            if isinstance(let.value, A.FunctionDef):
                for p in let.value.params:
                    self.bindings.setdefault(p.name, []).append(p)
                self.bind(let.value.lets)

    def need(self, name: str, demand: Demand) -> None:
        old = self.let_need.get(name, Need())
        if name in self.let_need and (old is None or (demand is not None and old.covers(demand))):
            return
        self.let_need[name] = merge(old, demand)
        self.pending.append(name)

    def run(self, script: A.Script) -> Scans:
        self.bind(script.lets)
        for values in list(self.bindings.values()):
            for v in values:  # scalar lets, defaults and scalar bodies are translated whatever is read
                if isinstance(v, A.Call) and (v.name == "materialize" or v.name in self.bindings):
                    if v.name != "materialize":
                        self.scalar(v.args)  # a table-valued call: followed when referenced
                elif isinstance(v, A.Expr) and not isinstance(v, A.Name):
                    self.scalar(v)
                elif isinstance(v, A.Param) and v.default is not None:
                    self.scalar(v.default)
                elif isinstance(v, A.FunctionDef) and isinstance(v.body, A.Expr):
                    self.scalar(v.body)
        self.tabular(script.query, None)
        while self.pending:
            name = self.pending.pop()
            for v in self.bindings.get(name, ()):
                self.binding(v, self.let_need[name])
        return self.scans

    def binding(self, value: Any, demand: Demand) -> None:
        """What a let, function or parameter named by a reference reads, given what is read of it."""
        if isinstance(value, A.FunctionDef):
            body = value.body
            if isinstance(body, A.Tabular):
                self.tabular(body, demand)
            elif isinstance(body, A.Name):  # `{ let x = T | ...; x }`
                self.table_ref(A.TableRef(body.pos, body.name), demand)
        elif isinstance(value, A.Tabular):
            self.tabular(value, demand)
        elif isinstance(value, A.Name):  # `let T2 = T;`
            self.table_ref(A.TableRef(value.pos, value.name), demand)
        elif isinstance(value, A.Call) and value.name == "materialize" and len(value.args) == 1:
            arg = value.args[0]
            if isinstance(arg, A.TabularArg):
                self.tabular(arg.query, demand)
            elif isinstance(arg, A.Name):
                self.table_ref(A.TableRef(arg.pos, arg.name), demand)
        elif isinstance(value, A.Call) and value.name in self.bindings:  # `let T = F(x);`
            self.function_call(A.FunctionCallTable(value.pos, value.name, value.args), demand)

    # ---- tabular expressions -----------------------------------------------------------------
    def table_ref(self, t: A.TableRef, demand: Demand) -> None:
        if t.name in self.bindings:
            self.need(t.name, demand)
        elif "*" not in t.name and t.name in self.catalog:
            self.scans[t] = merge(self.scans[t], demand) if t in self.scans else demand

    def function_call(self, t: A.FunctionCallTable, demand: Demand) -> None:
        self.scalar(t.args)
        if t.name == "table" and len(t.args) == 1:
            arg = t.args[0]
            if isinstance(arg, A.Literal):
                self.table_ref(A.TableRef(t.pos, str(arg.value)), demand)
            elif isinstance(arg, A.Name) and arg.name in self.bindings:
                bound = self.bindings[arg.name]
                if len(bound) == 1 and isinstance(bound[0], A.Literal) and isinstance(bound[0].value, str):
                    self.table_ref(A.TableRef(t.pos, bound[0].value), demand)
        elif t.name in self.bindings:
            self.need(t.name, demand)

    def tabular(self, t: A.Tabular, demand: Demand) -> None:
        if isinstance(t, A.TableRef):
            self.table_ref(t, demand)
        elif isinstance(t, A.Pipe):
            self.tabular(t.source, self.operator(t.op, demand))
        elif isinstance(t, A.FunctionCallTable):
            self.function_call(t, demand)
        elif isinstance(t, A.Materialize):
            self.tabular(t.query, demand)
        elif isinstance(t, A.Union) or type(t).__name__ == "FuzzyUnion":
            leg = _with_name(demand, getattr(t, "withsource", None))
            for s in getattr(t, "sources", ()):
                self.tabular(s, leg)
        else:  # datatable, print, range, search, find, ...: whatever they read, in full
            for name in _fields(t):
                self.scalar(getattr(t, name))
            if not isinstance(t, A.DataTable | A.Print | A.Range):
                for name in list(self.bindings):  # search and find read tables, lets too, by name
                    self.need(name, None)

    # ---- operators: what the input must provide for the output to provide `demand` -----------
    def operator(self, op: A.Operator, demand: Demand) -> Demand:
        if isinstance(op, A.Count):
            return Need()
        if isinstance(op, A.Join):
            return self.join(op, demand)
        if isinstance(op, A.UnionOp) or type(op).__name__ == "FuzzyUnionOp":
            leg = _with_name(demand, getattr(op, "withsource", None))
            for s in getattr(op, "sources", ()):
                self.tabular(s, leg)
            return leg
        if isinstance(op, _ROW_KEEPING) or type(op).__name__ in _ROW_KEEPING_EXTRA:
            named = self.named(op)
            if demand is None or named is None:
                return None
            if isinstance(op, (A.Extend, A.Serialize)):
                named.families.update(_auto_names(op.items))
            if isinstance(op, A.MvExpand) or type(op).__name__ == "MvExpandZip":
                named.families.add("Column")
            return demand.union(named)
        if isinstance(op, _REPLACING) or type(op).__name__ in _REPLACING_EXTRA:
            return self.named(op)
        if isinstance(op, A.Distinct):
            return self.named(op)  # `distinct *` sees the whole row
        if isinstance(op, _NARROWED):
            return None if demand is None else demand.union(Need({*_strings(op)}))
        if isinstance(op, A.ProjectKeep):
            if demand is None or any("*" in p for p in op.patterns):
                return None
            return demand.union(Need(set(op.patterns)))
        self.scalar(op)  # evaluate, search, mv-apply, getschema, ...: may read every column
        return None

    def join(self, op: A.Join, demand: Demand) -> Demand:
        side = self.named(op.on) if demand is not None else None
        if demand is not None and side is not None:
            side = side.union(demand)
            # a right column named like a left one comes out as `name1`, `name2`, ...: keep every
            # column of that family on both sides so the same suffixes are given
            side.families.update(n.rstrip(_DIGITS) for n in demand.names if n[-1:].isdigit())
        else:
            side = None
            self.scalar(op.on)
        self.tabular(op.right, side)
        return side

    def named(self, node: Any) -> Need | None:
        """The names `node` mentions, or None when it may read the whole row."""
        need = Need()
        try:
            self.collect(node, need)
        except _WholeRow:
            self.scalar(node)
            return None
        return need

    def scalar(self, node: Any) -> None:
        """Record what `node` references (tabular arguments, lets) without narrowing anything."""
        self.collect(node, Need(), whole_ok=True)  # with whole_ok, `*` and pack_all() do not raise

    def collect(self, node: Any, need: Need, whole_ok: bool = False) -> None:
        kind = type(node)  # the commonest nodes first, by exact type (this runs for every node)
        if kind is tuple:
            for item in node:
                self.collect(item, need, whole_ok)
        elif kind is A.Name:
            self.name(node.name, need)
        elif kind is A.Literal:
            pass
        elif kind is A.Binary:
            self.collect(node.left, need, whole_ok)
            self.collect(node.right, need, whole_ok)
        elif kind is A.Assign:
            need.names.update(node.names)
            self.collect(node.expr, need, whole_ok)
        elif kind is A.Call:
            self.call(node, need, whole_ok)
        else:
            self.collect_other(node, need, whole_ok)

    def collect_other(self, node: Any, need: Need, whole_ok: bool) -> None:
        if isinstance(node, tuple | list):
            for item in node:
                self.collect(item, need, whole_ok)
        elif isinstance(node, str):
            need.names.add(node)
        elif isinstance(node, A.Name):
            self.name(node.name, need)
        elif isinstance(node, A.Star):
            if not whole_ok:
                raise _WholeRow
        elif isinstance(node, A.Literal | A.DynamicLiteral):
            pass
        elif isinstance(node, A.Call):
            self.call(node, need, whole_ok)
        elif isinstance(node, A.Member):
            need.names.add(node.name)  # `$left.X`, `$right.X` (a JSON key otherwise: harmless)
            self.collect(node.target, need, whole_ok)
        elif isinstance(node, A.TabularArg):
            self.tabular(node.query, None)
        elif isinstance(node, A.Tabular):
            self.tabular(node, None)
        elif dataclasses.is_dataclass(node):
            for name in _fields(node):
                self.collect(getattr(node, name), need, whole_ok)

    def name(self, name: str, need: Need) -> None:
        need.names.add(name)
        stand_in = HIDDEN_COLUMNS.get(name)
        if stand_in is not None:
            need.names.add(stand_in)
        if name in self.bindings:
            self.need(name, None)  # a tabular let read as a scalar (`x in (T)`): its first column

    def call(self, call: A.Call, need: Need, whole_ok: bool) -> None:
        if call.name in _WHOLE_ROW_CALLS and not whole_ok:
            raise _WholeRow
        if call.name in _IMPLICIT:
            need.names.add(_IMPLICIT[call.name])
        if call.name in self.bindings:
            self.need(call.name, None)
            if call.name not in self.expanding:  # a scalar function's body reads the caller's row
                self.expanding.add(call.name)
                try:
                    for v in self.bindings[call.name]:
                        if isinstance(v, A.FunctionDef) and isinstance(v.body, A.Expr):
                            self.collect((v.lets, v.body), need, whole_ok)
                finally:
                    self.expanding.discard(call.name)
        self.collect(call.args, need, whole_ok)


# operator classes defined outside `ast` (registered by the operators package), by name
_ROW_KEEPING_EXTRA = frozenset({"MvExpandZip", "PerRowLimit", "ParseKvOp"})
_REPLACING_EXTRA = frozenset({"TopNestedOp"})


_FIELD_NAMES: dict[type, tuple[str, ...]] = {}


def _fields(node: Any) -> tuple[str, ...]:
    """A dataclass node's field names but `pos` (read once per class)."""
    names = _FIELD_NAMES.get(type(node))
    if names is None:
        names = _FIELD_NAMES[type(node)] = tuple(f.name for f in dataclasses.fields(node) if f.name != "pos")
    return names


def _with_name(demand: Demand, name: str | None) -> Demand:
    return demand if demand is None or name is None else demand.union(Need({name}))


def _auto_names(items: tuple[A.Assign, ...]) -> set[str]:
    """Name families an unnamed extend item may take, given the input's columns (`strlen_X1`, `Column2`)."""
    out: set[str] = set()
    for item in items:
        if not item.names:
            out.add("Column")
            base = expr_name(item.expr)
            if base is not None:
                out.add(base.rstrip(_DIGITS))
    return out


def _strings(node: Any) -> list[str]:
    if isinstance(node, str):
        return [node]
    if isinstance(node, tuple | list):
        return [s for item in node for s in _strings(item)]
    if dataclasses.is_dataclass(node):
        return [s for name in _fields(node) for s in _strings(getattr(node, name))]
    return []


def scan_needs(script: A.Script, catalog: Mapping[str, Sequence[tuple[str, str]]]) -> Scans:
    """For each catalog-table reference of `script`, the columns it must scan (None: every column)."""
    return _Analysis(catalog).run(script)


def hint_unchanged(name: str, scans: Scans, catalog: Mapping[str, Sequence[tuple[str, str]]]) -> bool:
    """Whether an `UnknownColumn` hint for `name` is the same in the pruned and the unpruned compile.

    Unpruned, a scope holds the same columns plus some that scans dropped, each as it is or numbered
    by a join (`X1`, `X2`, ...). For a `name` without digits, a digit appended to a candidate matches
    nothing in it, so `X<digits>` is never closer to `name` than `X` is (difflib's similarity ratio
    only falls), nor equal to it but for case unless `X` is. So when no dropped column is equal to
    `name` but for case or reaches the hint's cutoff, the hint can only come from the pruned columns.
    """
    if any(c in _DIGITS for c in name):
        return False
    dropped = {
        column
        for ref, need in scans.items()
        if need is not None
        for column, _ in catalog.get(ref.name, ())
        if not need.keeps(column)
    }
    lowered = name.lower()
    if any(column.lower() == lowered for column in dropped):
        return False
    return not difflib.get_close_matches(name, dropped, n=1, cutoff=HINT_CUTOFF)
