"""`evaluate` plugins whose output columns a compiler can know: bag_unpack, pivot, narrow.

Invariant (Kusto semantics): the SQL's columns are fixed before any row is read. `bag_unpack(d
[, prefix])` drops `d` and adds one column per slot, named `prefix + slot`, taken from the output
schema `: ([*,] a:string, b:long)` when given (`*` keeps the input columns), else from the slots a
literal `pack()`/`bag_pack()`/`dynamic({...})`/datatable earlier in the query gives `d` (slots
sorted by name; a slot's type is its literal values' common type, else dynamic); otherwise a
`KqlError` says that the output schema must be given. `pivot(col [, agg [, keys...]]) : (...)`
groups by the keys (default: the schema's columns that are input columns) and adds one column per
remaining schema name, the aggregate over the rows whose `tostring(col)` equals that name (default
`count()`). `narrow()` turns each row into (Row long, Column string, Value string) rows.
Plugins dispatch through `PLUGINS`; an unknown plugin raises `UnsupportedOperator`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlglot import exp

from .. import ast as A
from ..binder import Context, Rel, alias, col
from ..dialects.base import cast, lit
from ..errors import KqlError, did_you_mean, unknown_column
from ..parse_ops import OPERATORS as PARSE_OPERATORS
from ..parse_ops import Parser
from ..planner import OPERATORS, all_of, wrap
from ..scalars import translate

Schema = tuple[tuple[str, str], ...]


@dataclass(frozen=True)
class EvaluateOp(A.Operator):
    plugin: str
    args: tuple[A.Expr, ...]
    schema: Schema | None  # ("*", "") first when the schema starts with `*`
    known_slots: dict[str, Schema] | None  # per dynamic column, the slots literals give it


# ---- parsing --------------------------------------------------------------------------------------
def _output_schema(p: Parser) -> Schema:
    return tuple(p.schema(star=True))


def _json_type(values: list[Any]) -> str:
    kinds = set()
    for v in values:
        if v is None:
            continue
        kinds.add(
            "bool"
            if isinstance(v, bool)
            else "long"
            if isinstance(v, int)
            else "real"
            if isinstance(v, float)
            else "string"
            if isinstance(v, str)
            else "dynamic"
        )
    return kinds.pop() if len(kinds) == 1 else "dynamic"


def _slots_of_bags(bags: list[Any]) -> Schema | None:
    if not bags or not all(isinstance(b, dict) for b in bags):
        return None
    keys = sorted({k for b in bags for k in b})
    return tuple((k, _json_type([b.get(k) for b in bags])) for k in keys)


def _slots_of_expr(e: A.Expr) -> Schema | None:
    if isinstance(e, A.DynamicLiteral):
        return _slots_of_bags([e.value])
    if isinstance(e, A.Call) and e.name in ("pack", "bag_pack", "pack_dictionary") and len(e.args) % 2 == 0:
        out: dict[str, str] = {}
        for k, v in zip(e.args[::2], e.args[1::2], strict=True):
            if not (isinstance(k, A.Literal) and k.type == "string"):
                return None
            out[str(k.value)] = _json_type([v.value]) if isinstance(v, A.Literal) else "dynamic"
        return tuple(sorted(out.items()))
    return None


def _known_slots(src: A.Tabular, name: str) -> Schema | None:
    """The slots of dynamic column `name` as literals earlier in the pipeline define them."""
    t = src
    while True:
        if isinstance(t, A.Pipe):
            op = t.op
            items = op.items if isinstance(op, A.Extend | A.Project) else ()
            for item in reversed(items):
                if item.names == (name,):
                    return _slots_of_expr(item.expr)
            passed = any(not i.names and isinstance(i.expr, A.Name) and i.expr.name == name for i in items)
            if isinstance(op, A.Project) and not passed:
                return None
            if not isinstance(
                op, A.Where | A.Sort | A.Take | A.Top | A.Extend | A.Project | A.Serialize | A.As
            ):
                return None
            t = t.source
        elif isinstance(t, A.DataTable):
            names = [n for n, _ in t.columns]
            if name not in names:
                return None
            i, width = names.index(name), len(names)
            cells = t.values[i::width]
            if not all(isinstance(c, A.DynamicLiteral) for c in cells):
                return None
            return _slots_of_bags([c.value for c in cells if isinstance(c, A.DynamicLiteral)])
        else:
            return None


def parse_evaluate(p: Parser, src: A.Tabular, pos: A.Pos) -> A.Tabular:
    p.skip_hints()
    t = p.tok
    e = p.primary()
    if not isinstance(e, A.Call):
        raise KqlError("SyntaxError", "Expected a plugin call after 'evaluate'", t.line, t.column)
    schema = _output_schema(p) if p.accept_op(":") else None
    known: dict[str, Schema] | None = None
    if e.name == "bag_unpack" and e.args and isinstance(e.args[0], A.Name):
        slots = _known_slots(src, e.args[0].name)
        known = {e.args[0].name: slots} if slots is not None else None
    return A.Pipe(pos, src, EvaluateOp(p.pos(t), e.name, e.args, schema, known))


# ---- planning -------------------------------------------------------------------------------------
def _column_arg(rel: Rel, e: A.Expr, plugin: str) -> str:
    if not isinstance(e, A.Name):
        raise KqlError("SyntaxError", f"{plugin}(): the first argument must be a column name", *e.pos)
    if e.name not in rel.types():
        raise unknown_column(e.name, rel.types(), *e.pos)
    return e.name


def _string_arg(ctx: Context, e: A.Expr) -> str:
    if not (isinstance(e, A.Literal) and e.type == "string"):
        raise KqlError("SyntaxError", "Expected a string literal", *e.pos)
    return str(e.value)


def _bag_unpack(ctx: Context, rel: Rel, op: EvaluateOp) -> Rel:
    if not op.args or len(op.args) > 2:
        raise KqlError("SyntaxError", "bag_unpack() expects a column and an optional prefix", *op.pos)
    name = _column_arg(rel, op.args[0], "bag_unpack")
    prefix = _string_arg(ctx, op.args[1]) if len(op.args) > 1 else ""
    keep = [c for c in rel.columns if c[0] != name]
    if op.schema is not None:
        star = bool(op.schema) and op.schema[0][0] == "*"
        wanted = [c for c in op.schema if c[0] != "*"]
        slots = [(n[len(prefix) :] if n.startswith(prefix) else n, n, ty) for n, ty in wanted]
        base = keep if star else []
        base = [c for c in base if c[0] not in {n for _, n, _ in slots}]
    else:
        known = (op.known_slots or {}).get(name)
        if known is None:
            raise KqlError(
                "UnsupportedOperator",
                f"bag_unpack({name}): the slots of '{name}' are only known when the query runs; give the "
                f"output schema, e.g. `evaluate bag_unpack({name}) : (*, Slot1:string, Slot2:long)`",
                *op.pos,
            )
        slots = [(k, prefix + k, ty) for k, ty in known]
        base = keep
        clash = {n for _, n, _ in slots} & {n for n, _ in base}
        if clash:
            raise KqlError(
                "TypeMismatch", f"bag_unpack: slot columns clash with input columns: {sorted(clash)}", *op.pos
            )
    q, scope = wrap(rel, ctx)
    d = ctx.dialect
    sel: list[exp.Expression] = [col(n, scope.table) for n, _ in base]
    for key, out, ty in slots:
        v = d.json_get(col(name, scope.table), [lit(key)])
        sel.append(alias(v if ty == "dynamic" else d.try_cast(v, "dynamic", ty), out))
    return Rel(q.select(*sel, copy=False), [*base, *[(o, ty) for _, o, ty in slots]], rel.serialized)


def _pivot(ctx: Context, rel: Rel, op: EvaluateOp) -> Rel:
    if not op.args:
        raise KqlError("SyntaxError", "pivot() expects the pivot column", *op.pos)
    name = _column_arg(rel, op.args[0], "pivot")
    agg = op.args[1] if len(op.args) > 1 else A.Call(op.pos, "count", ())
    if not isinstance(agg, A.Call):
        raise KqlError("SyntaxError", "pivot(): the second argument must be an aggregation", *agg.pos)
    if op.schema is None:
        raise KqlError(
            "UnsupportedOperator",
            f"pivot({name}): its columns are the values of '{name}', only known when the query runs; give "
            "the output schema, e.g. `evaluate pivot(Col, count()) : (Key:string, ValueA:long, ValueB:long)`",
            *op.pos,
        )
    types = rel.types()
    wanted = [c for c in op.schema if c[0] != "*"]
    if len(op.args) > 2:
        keys = [_column_arg(rel, a, "pivot") for a in op.args[2:]]
    else:
        keys = [n for n, _ in wanted if n in types and n != name]
    values = [(n, ty) for n, ty in wanted if n not in keys]
    aggs: list[A.Assign] = []
    for value, _ in values:
        pred = A.Binary(
            op.pos,
            "==",
            A.Call(op.pos, "tostring", (A.Name(op.pos, name),)),
            A.Literal(op.pos, value, "string"),
        )
        fname = "countif" if agg.name == "count" else agg.name + "if"
        aggs.append(A.Assign((value,), A.Call(agg.pos, fname, (*agg.args, pred))))
    summarize = OPERATORS[A.Summarize]
    out = summarize(
        ctx, rel, A.Summarize(op.pos, tuple(aggs), tuple(A.Assign((k,), A.Name(op.pos, k)) for k in keys))
    )
    # cast each value column to the schema's type (a count of no rows is 0, other aggregates null)
    q, scope = wrap(out, ctx)
    d = ctx.dialect
    sel: list[exp.Expression] = [col(k, scope.table) for k in keys]
    cols = [(k, types[k]) for k in keys]
    out_types = out.types()
    for value, ty in values:
        v = col(value, scope.table)
        sel.append(alias(v if out_types[value] == ty else d.try_cast(v, out_types[value], ty), value))
        cols.append((value, ty))
    return Rel(q.select(*sel, copy=False), cols)


def _narrow(ctx: Context, rel: Rel, op: EvaluateOp) -> Rel:
    if op.args:
        raise KqlError("SyntaxError", "narrow() takes no arguments", *op.pos)
    q, scope = wrap(rel, ctx)
    row = exp.Sub(this=exp.Window(this=exp.RowNumber()), expression=lit(1))
    numbered = Rel(
        q.select(*all_of(scope.table), alias(row, "__row"), copy=False), [*rel.columns, ("__row", "long")]
    )
    shared = ctx.share(numbered)
    parts: list[exp.Query] = []
    for i, (n, _) in enumerate(rel.columns):
        q2, s2 = wrap(shared, ctx)
        value = translate(A.Call(op.pos, "tostring", (A.Name(op.pos, n),)), s2).sql
        parts.append(
            q2.select(
                alias(cast(col("__row", s2.table), "BIGINT"), "Row"),
                alias(lit(n), "Column"),
                alias(value, "Value"),
                alias(lit(i), "__ord"),
                copy=False,
            )
        )
    if not parts:
        raise KqlError("SyntaxError", "narrow(): the input has no columns", *op.pos)
    u: exp.Query = parts[0]
    for part in parts[1:]:
        u = exp.union(u, part, distinct=False, copy=False)
    t = ctx.fresh()
    final = (
        exp.select(col("Row", t), col("Column", t), col("Value", t))
        .from_(u.subquery(t, copy=False), copy=False)
        .order_by(col("Row", t), col("__ord", t), copy=False)
    )
    return Rel(final, [("Row", "long"), ("Column", "string"), ("Value", "string")], True)


PLUGINS: dict[str, Callable[[Context, Rel, EvaluateOp], Rel]] = {
    "bag_unpack": _bag_unpack,
    "pivot": _pivot,
    "narrow": _narrow,
}


def _evaluate(ctx: Context, rel: Rel, op: A.Operator) -> Rel:
    assert isinstance(op, EvaluateOp)
    plugin = PLUGINS.get(op.plugin)
    if plugin is None:
        raise KqlError(
            "UnsupportedOperator",
            f"The evaluate plugin '{op.plugin}' is not supported{did_you_mean(op.plugin, PLUGINS)}",
            *op.pos,
        )
    return plugin(ctx, rel, op)


PARSE_OPERATORS["evaluate"] = parse_evaluate
OPERATORS[EvaluateOp] = _evaluate
