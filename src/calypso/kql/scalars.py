"""Scalar expression translation: bound AST expression -> typed sqlglot expression.

Invariant: Kusto semantics, not SQL's: `=~`/`contains`/`has` are case-insensitive, `has` matches
whole terms, int/int division truncates, datetime/timespan arithmetic works in ticks, negated string
operators treat a null string as empty. Node kinds and binary operators dispatch through tables.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable

from sqlglot import exp

from . import ast as A
from .binder import NUMERIC, Scope, Typed
from .dialects.base import cast, fn, lit
from .errors import KqlError
from .values import parse_datetime


def translate(e: A.Expr, scope: Scope) -> Typed:
    handler = NODES.get(type(e))
    if handler is None:
        raise KqlError("UnsupportedOperator", f"Unsupported expression '{type(e).__name__}'", *e.pos)
    return handler(e, scope)


def _literal(e: A.Expr, scope: Scope) -> Typed:
    assert isinstance(e, A.Literal)
    d = scope.ctx.dialect
    if e.type == "datetime":
        if e.value is None or str(e.value).lower() == "null":
            return Typed(d.datetime_literal(None), "datetime")
        value = parse_datetime(str(e.value))
        if value is None:
            raise KqlError("SyntaxError", f"Invalid datetime literal '{e.value}'", *e.pos)
        return Typed(d.datetime_literal(value), "datetime")
    if e.value is None:
        return Typed(exp.Null(), "dynamic" if e.type == "dynamic" else e.type)
    return Typed(lit(e.value), e.type)


def _dynamic(e: A.Expr, scope: Scope) -> Typed:
    assert isinstance(e, A.DynamicLiteral)
    if e.value is None:
        return Typed(exp.Null(), "dynamic")
    return Typed(scope.ctx.dialect.json_literal(json.dumps(e.value, separators=(",", ":"))), "dynamic")


def _name(e: A.Expr, scope: Scope) -> Typed:
    assert isinstance(e, A.Name)
    if e.name in scope.locals or e.name in scope.columns:
        return scope.column(e.name, e.pos)
    lets = scope.ctx.lets
    if e.name in lets and isinstance(lets[e.name], Typed):
        return lets[e.name]
    if e.name in lets and isinstance(lets[e.name], A.Expr):
        from .binder import Scope as S

        value = translate(lets[e.name], S(scope.ctx, {}))
        lets[e.name] = value
        return value
    return scope.column(e.name, e.pos)


def _path(e: A.Expr, scope: Scope) -> tuple[Typed, list[exp.Expression]]:
    if isinstance(e, A.Member):
        if isinstance(e.target, A.Name) and e.target.name in ("$left", "$right") and scope.sides:
            return scope.sides[e.target.name].column(e.name, e.pos), []
        base, path = _path(e.target, scope)
        return base, [*path, lit(e.name)]
    if isinstance(e, A.Index):
        base, path = _path(e.target, scope)
        idx = translate(e.index, scope)
        return base, [*path, idx.sql]
    return translate(e, scope), []


def _member(e: A.Expr, scope: Scope) -> Typed:
    base, path = _path(e, scope)
    if not path:
        return base
    if base.type != "dynamic":
        raise KqlError("TypeMismatch", f"Member access requires a dynamic value, not {base.type}", *e.pos)
    return Typed(scope.ctx.dialect.json_get(base.sql, path), "dynamic")


def _call(e: A.Expr, scope: Scope) -> Typed:
    assert isinstance(e, A.Call)
    from .functions import call_function

    return call_function(e, scope)


def _tabular(e: A.Expr, scope: Scope) -> Typed:
    assert isinstance(e, A.TabularArg)
    ctx = scope.ctx
    assert ctx.plan_tabular is not None
    rel = ctx.plan_tabular(ctx, e.query)
    first, ftype = rel.columns[0]
    q = exp.select(exp.column(first, quoted=True)).from_(
        rel.sql.subquery(ctx.fresh(), copy=False), copy=False
    )
    return Typed(exp.Subquery(this=q.limit(1, copy=False)), ftype)


def _unary(e: A.Expr, scope: Scope) -> Typed:
    assert isinstance(e, A.Unary)
    v = widen_int(translate(e.operand, scope))
    return Typed(exp.Neg(this=v.sql), v.type, v.is_agg)


def widen_int(t: Typed) -> Typed:
    """An `int` value as `long` (BIGINT): Kusto computes on ints in 64 bits."""
    if t.type != "int":
        return t
    return Typed(cast(t.sql, "BIGINT"), "long", t.is_agg)


def _int32_sql(t: Typed) -> bool:
    return t.type == "int" or (
        t.type == "long" and isinstance(t.sql, exp.Literal) and not t.sql.is_string and t.sql.is_int
    )


def promote(a: str, b: str) -> str:
    order = ["int", "long", "decimal", "real"]
    if a in order and b in order:
        return order[max(order.index(a), order.index(b))]
    return a if a != "dynamic" else b


def coerce_pair(a: Typed, b: Typed, scope: Scope) -> tuple[Typed, Typed]:
    """Make a dynamic side comparable with a typed one (Kusto converts dynamic implicitly)."""
    d = scope.ctx.dialect
    if a.type == "dynamic" and b.type != "dynamic":
        return coerce_pair(Typed(_from_dynamic(a.sql, b.type, scope), b.type, a.is_agg), b, scope)
    if b.type == "dynamic" and a.type != "dynamic":
        b2, a2 = coerce_pair(b, a, scope)
        return a2, b2
    if a.type == "dynamic" and b.type == "dynamic":
        return Typed(d.json_to_string(a.sql), "string", a.is_agg), Typed(
            d.json_to_string(b.sql), "string", b.is_agg
        )
    if a.type == "datetime" and b.type == "string":
        return a, Typed(d.parse_datetime(b.sql), "datetime", b.is_agg)
    if b.type == "datetime" and a.type == "string":
        return Typed(d.parse_datetime(a.sql), "datetime", a.is_agg), b
    return a, b


def _from_dynamic(sql: exp.Expression, to: str, scope: Scope) -> exp.Expression:
    d = scope.ctx.dialect
    if to in ("string", "guid"):
        return d.json_to_string(sql)
    if to in NUMERIC or to == "timespan":
        return d.json_to_number(sql)
    return d.try_cast(sql, "dynamic", to)


def _agg(*ts: Typed) -> bool:
    return any(t.is_agg for t in ts)


def _arith(e: A.Binary, a: Typed, b: Typed, scope: Scope) -> Typed:
    d = scope.ctx.dialect
    op, ta, tb = e.op, a.type, b.type
    if ta == "dynamic" or tb == "dynamic":
        a, b = coerce_pair(a, b, scope)
        ta, tb = a.type, b.type
        if ta == "string":
            a, b = Typed(d.json_to_number(a.sql), "real"), Typed(d.json_to_number(b.sql), "real")
            ta = tb = "real"
    ag = _agg(a, b)
    us = d.epoch_us
    if ta == "datetime" and tb == "datetime" and op == "-":
        return Typed(
            exp.Mul(this=exp.Paren(this=exp.Sub(this=us(a.sql), expression=us(b.sql))), expression=lit(10)),
            "timespan",
            ag,
        )
    if ta == "datetime" and tb in ("timespan", *NUMERIC) and op in "+-":
        delta = d.int_div(b.sql, lit(10))
        node = exp.Add if op == "+" else exp.Sub
        return Typed(d.from_epoch_us(node(this=us(a.sql), expression=delta)), "datetime", ag)
    if ta == "timespan" and tb == "datetime" and op == "+":
        return _arith(A.Binary(e.pos, "+", e.right, e.left), b, a, scope)
    if ta == "timespan" and tb == "timespan":
        if op == "/":
            return Typed(exp.Div(this=cast(a.sql, "DOUBLE"), expression=b.sql), "real", ag)
        return Typed(ARITH[op](a.sql, b.sql), "timespan", ag)
    if ta == "timespan" and tb in NUMERIC and op in "*/":
        res = ARITH[op](cast(a.sql, "DOUBLE"), b.sql)
        return Typed(cast(fn("round", res), "BIGINT"), "timespan", ag)
    if tb == "timespan" and ta in NUMERIC and op == "*":
        return Typed(cast(fn("round", exp.Mul(this=a.sql, expression=b.sql)), "BIGINT"), "timespan", ag)
    if (ta in NUMERIC and tb in NUMERIC) or {ta, tb} <= NUMERIC | {"bool"}:
        rt = promote(ta, tb)
        if rt in ("int", "long"):  # int op int is long in Kusto: computed in 64 bits, never overflowing int32
            rt = "long"
            if _int32_sql(a) and _int32_sql(b):
                a = Typed(cast(a.sql, "BIGINT"), "long", a.is_agg)
        if op == "/" and rt in ("int", "long"):
            return Typed(d.int_div(a.sql, b.sql), rt, ag)
        return Typed(ARITH[op](a.sql, b.sql), rt, ag)
    raise KqlError("TypeMismatch", f"Operator '{op}' cannot be applied to {ta} and {tb}", *e.pos)


ARITH: dict[str, Callable[[exp.Expression, exp.Expression], exp.Expression]] = {
    "+": lambda x, y: exp.Add(this=x, expression=y),
    "-": lambda x, y: exp.Sub(this=x, expression=y),
    "*": lambda x, y: exp.Mul(this=x, expression=y),
    "/": lambda x, y: exp.Div(this=x, expression=y),
    "%": lambda x, y: exp.Mod(this=x, expression=y),
}

COMPARE: dict[str, type[exp.Expression]] = {
    "==": exp.EQ,
    "!=": exp.NEQ,
    "<": exp.LT,
    "<=": exp.LTE,
    ">": exp.GT,
    ">=": exp.GTE,
}


def _null_literal(e: exp.Expression) -> bool:
    return isinstance(e, exp.Null) or (isinstance(e, exp.Cast | exp.TryCast) and isinstance(e.this, exp.Null))


def null_aware_equality(op: str, a: exp.Expression, b: exp.Expression) -> exp.Expression:
    """Kusto's ==/!=: null vs a value is false/true; null vs null is null (null-values doc)."""
    node = exp.EQ(this=a, expression=b) if op == "==" else exp.NEQ(this=a, expression=b)
    if isinstance(a, exp.Literal | exp.Boolean) or isinstance(b, exp.Literal | exp.Boolean):
        # against a value: keep `x = 5` plain so engines can push the filter down (a null x gives
        # null, which `where` treats like Kusto's false); `x != 5` must keep null rows.
        if op == "==":
            return node
        col = b if isinstance(a, exp.Literal | exp.Boolean) else a
        return exp.Or(this=node, expression=exp.Is(this=col, expression=exp.Null()))
    a_null, b_null = exp.Is(this=a, expression=exp.Null()), exp.Is(this=b, expression=exp.Null())
    if _null_literal(a) or _null_literal(b):
        other = b_null if _null_literal(a) else a_null
        return exp.If(this=other, true=exp.Null(), false=exp.Boolean(this=op == "!="))
    both = exp.And(this=a_null, expression=b_null)
    return exp.Case(
        ifs=[exp.If(this=both, true=exp.Null())], default=fn("coalesce", node, exp.Boolean(this=op == "!="))
    )


def term_regex(needle: str, ci: bool, prefix: bool = True, suffix: bool = True) -> str:
    body = re.escape(needle)
    left = "(^|[^0-9A-Za-z])" if prefix else ""
    right = "($|[^0-9A-Za-z])" if suffix else ""
    return ("(?i)" if ci else "") + left + body + right


def string_predicate(op: str, a: exp.Expression, b: Typed, scope: Scope, pos: A.Pos) -> exp.Expression:
    """The positive form of a string operator (`has`, `contains_cs`, `startswith`, ...)."""
    d = scope.ctx.dialect
    ci = not op.endswith("_cs")
    base = op.removesuffix("_cs")
    if base in ("has", "hasprefix", "hassuffix"):
        if isinstance(b.sql, exp.Literal) and b.sql.is_string:
            needle = str(b.sql.this)
            if needle == "":
                return exp.true()
            pattern = term_regex(needle, ci, base != "hassuffix", base != "hasprefix")
            quick = exp.GT(this=d.strpos(a, b.sql, ci), expression=lit(0))
            return exp.And(this=quick, expression=d.regex_match(a, lit(pattern)))
        return exp.GT(this=d.strpos(a, b.sql, ci), expression=lit(0))
    if base == "contains":
        return exp.GT(this=d.strpos(a, b.sql, ci), expression=lit(0))
    if base == "startswith":
        return exp.EQ(this=d.strpos(a, b.sql, ci), expression=lit(1))
    if base == "endswith":
        return exp.EQ(this=d.strpos(d.reverse(a), d.reverse(b.sql), ci), expression=lit(1))
    raise KqlError("UnsupportedOperator", f"The '{op}' operator is not supported", *pos)


def _as_string(t: Typed, scope: Scope) -> exp.Expression:
    return t.sql if t.type == "string" else scope.ctx.dialect.to_string(t.sql, t.type)


def _binary(e: A.Expr, scope: Scope) -> Typed:
    assert isinstance(e, A.Binary)
    op = e.op
    if op in ("and", "or"):
        a, b = _bool(translate(e.left, scope), scope), _bool(translate(e.right, scope), scope)
        node = exp.And if op == "and" else exp.Or
        return Typed(node(this=exp.Paren(this=a.sql), expression=exp.Paren(this=b.sql)), "bool", _agg(a, b))
    a, b = translate(e.left, scope), translate(e.right, scope)
    ag = _agg(a, b)
    if op in ARITH:
        return _arith(e, a, b, scope)
    if op in COMPARE:
        a, b = coerce_pair(a, b, scope)
        if op in ("==", "!="):
            return Typed(null_aware_equality(op, a.sql, b.sql), "bool", ag)
        return Typed(COMPARE[op](this=a.sql, expression=b.sql), "bool", ag)
    d = scope.ctx.dialect
    if op in ("=~", "!~"):
        eq = exp.EQ(this=fn("lower", _as_string(a, scope)), expression=fn("lower", _as_string(b, scope)))
        return Typed(eq if op == "=~" else exp.Not(this=fn("coalesce", eq, exp.false())), "bool", ag)
    if op == "matches regex":
        return Typed(d.regex_match(_as_string(a, scope), _as_string(b, scope)), "bool", ag)
    negated = op.startswith("!")
    positive = string_predicate(
        op.lstrip("!"), _as_string(a, scope), Typed(_as_string(b, scope), "string"), scope, e.pos
    )
    if negated:
        return Typed(exp.Not(this=fn("coalesce", positive, exp.false())), "bool", ag)
    return Typed(positive, "bool", ag)


def _bool(t: Typed, scope: Scope) -> Typed:
    if t.type == "dynamic":
        return Typed(scope.ctx.dialect.try_cast(t.sql, "dynamic", "bool"), "bool", t.is_agg)
    return t


def _inlist(e: A.Expr, scope: Scope) -> Typed:
    assert isinstance(e, A.InList)
    d = scope.ctx.dialect
    left = translate(e.left, scope)
    base = e.op.lstrip("!")
    ci = base.endswith("~")
    values: list[Typed] = []
    subqueries: list[exp.Select] = []
    dyn_arrays: list[Typed] = []
    for item in e.items:
        if isinstance(item, A.DynamicLiteral) and isinstance(item.value, list):
            values.extend(_literal(A.Literal(item.pos, v, "string"), scope) for v in item.value)
            continue
        if isinstance(item, A.Name) and item.name not in scope.columns and _is_tabular_let(scope, item.name):
            item = A.TabularArg(item.pos, A.TableRef(item.pos, item.name))
        if isinstance(item, A.TabularArg):
            assert scope.ctx.plan_tabular is not None
            rel = scope.ctx.plan_tabular(scope.ctx, item.query)
            q = exp.select(exp.column(rel.columns[0][0], quoted=True)).from_(
                rel.sql.subquery(scope.ctx.fresh(), copy=False), copy=False
            )
            subqueries.append(q)
            continue
        t = translate(item, scope)
        if t.type == "dynamic":
            dyn_arrays.append(t)
        else:
            values.append(t)
    if base in ("has_any", "has_all"):
        preds = [string_predicate("has", _as_string(left, scope), v, scope, e.pos) for v in values]
        preds += [d.json_array_contains(a.sql, _as_string(left, scope)) for a in dyn_arrays]
        if not preds:
            res: exp.Expression = exp.false()
        else:
            res = preds[0]
            for p in preds[1:]:
                res = (exp.Or if base == "has_any" else exp.And)(this=res, expression=p)
        return Typed(exp.Not(this=fn("coalesce", res, exp.false())) if e.op.startswith("!") else res, "bool")
    lhs = left.sql
    if left.type == "dynamic":
        lhs = d.json_to_string(lhs)
    if ci:
        lhs = fn("lower", _as_string(Typed(lhs, left.type), scope))
    parts: list[exp.Expression] = []
    if values:
        items = []
        for v in values:
            vs = v.sql
            if left.type in ("string", "dynamic") and v.type != "string":
                vs = _as_string(v, scope)
            items.append(fn("lower", vs) if ci else vs)
        parts.append(exp.In(this=lhs, expressions=items))
    for sub in subqueries:
        parts.append(exp.In(this=lhs, query=sub.subquery(copy=False)))
    for arr in dyn_arrays:
        parts.append(d.json_array_contains(arr.sql, _as_string(Typed(lhs, left.type), scope)))
    if not parts:
        res = exp.false()
    else:
        res = parts[0]
        for p in parts[1:]:
            res = exp.Or(this=res, expression=p)
    if e.op.startswith("!"):
        res = exp.Not(this=fn("coalesce", res, exp.false()))
    return Typed(res, "bool", left.is_agg)


def _is_tabular_let(scope: Scope, name: str) -> bool:
    from .binder import Rel

    v = scope.ctx.lets.get(name)
    return isinstance(v, A.Tabular | Rel) or name in scope.ctx.catalog


def toscalar(call: A.Call, scope: Scope) -> Typed:
    if len(call.args) != 1:
        raise KqlError("SyntaxError", "toscalar() expects one tabular argument", *call.pos)
    arg = call.args[0]
    if isinstance(arg, A.Name) and _is_tabular_let(scope, arg.name):
        arg = A.TabularArg(arg.pos, A.TableRef(arg.pos, arg.name))
    if not isinstance(arg, A.TabularArg):
        return translate(arg, scope)
    return _tabular(arg, scope)


def _between(e: A.Expr, scope: Scope) -> Typed:
    assert isinstance(e, A.Between)
    v, lo, hi = translate(e.left, scope), translate(e.low, scope), translate(e.high, scope)
    if v.type == "datetime" and hi.type == "timespan":
        hi = _arith(A.Binary(e.pos, "+", e.low, e.high), lo, hi, scope)
    v, lo = coerce_pair(v, lo, scope)
    v, hi = coerce_pair(v, hi, scope)
    res: exp.Expression = exp.Between(this=v.sql, low=lo.sql, high=hi.sql)
    if e.negated:
        res = exp.Not(this=res)
    return Typed(res, "bool", v.is_agg)


def _star(e: A.Expr, scope: Scope) -> Typed:
    raise KqlError("SyntaxError", "'*' is not allowed here", *e.pos)


NODES: dict[type, Callable[[A.Expr, Scope], Typed]] = {
    A.Literal: _literal,
    A.DynamicLiteral: _dynamic,
    A.Name: _name,
    A.Member: _member,
    A.Index: _member,
    A.Call: _call,
    A.Binary: _binary,
    A.Unary: _unary,
    A.InList: _inlist,
    A.Between: _between,
    A.TabularArg: _tabular,
    A.Star: _star,
}
