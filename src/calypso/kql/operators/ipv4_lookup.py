"""`evaluate ipv4_lookup(LookupTable, SourceKey, LookupKey [, ExtraKey...] [, return_unmatched])`
and `evaluate ipv6_lookup(LookupTable, SourceKey, LookupKey [, return_unmatched])`.

Invariant (Kusto semantics): a row of T matches a row of LookupTable when T's SourceKey (an IPv4
string, optionally `/prefix`) lies in the lookup row's LookupKey (an IPv4 address or CIDR range),
both compared on the shorter of their two prefixes (no prefix means /32), and every extra key
column, present in both tables, is equal. The output is T's columns, then LookupTable's columns
without the extra keys, a clashing name getting Kusto's numeric suffix (`loc1`), as the lookup
operator names them. Unmatched rows of T are dropped unless `return_unmatched` is true (then kept
with nulls). A key that is not a valid IPv4 string matches nothing. ipv6_lookup matches as
`ipv6_is_match(SourceKey, LookupKey)` does (IPv6 or IPv4 strings, the smaller prefix) and takes no
extra keys, as in Kusto.
"""

from __future__ import annotations

from collections.abc import Callable

from sqlglot import exp

from .. import ast as A
from ..binder import Context, Rel, Scope, alias, unique_name
from ..dialects.base import cast, joined, lit
from ..errors import KqlError, unknown_column
from ..functions.ipv6 import OPS, _compare_text
from ..functions.scalar import _ipv4_int
from ..functions.template import render
from ..planner import plan, select_all
from ..scalars import coerce_pair, translate
from ..sqlgen import column_items
from .evaluate import PLUGINS, EvaluateOp

_PREFIX = r"/(\d{1,9})$"  # a prefix over 32 is kept, so the range is invalid


def _prefix(s: exp.Expression, scope: Scope) -> exp.Expression:
    """The `/n` of an IPv4 string as a number, 32 when it has none."""
    d = scope.ctx.dialect
    bits = d.try_cast(d.regex_extract(s, lit(_PREFIX), 1), "string", "long")
    return exp.Coalesce(this=bits, expressions=[lit(32)])


def _ip_match(src: exp.Expression, net: exp.Expression, sscope: Scope, lscope: Scope) -> exp.Expression:
    bits = exp.Least(this=_prefix(src, sscope), expressions=[_prefix(net, lscope)])
    # dividing by a power of two is exact in a double, so floor() keeps the network part exactly
    block = exp.Pow(this=lit(2), expression=exp.Sub(this=lit(32), expression=bits))

    def network(e: exp.Expression, scope: Scope) -> exp.Expression:
        return exp.Floor(this=exp.Div(this=_ipv4_int(e, scope), expression=block))

    ok = exp.LTE(this=bits, expression=lit(32))
    return exp.And(this=ok, expression=exp.EQ(this=network(src, sscope), expression=network(net, lscope)))


def _ipv6_match(src: exp.Expression, net: exp.Expression, sscope: Scope, lscope: Scope) -> exp.Expression:
    d = sscope.ctx.dialect
    return render(_compare_text(OPS[d.name], "match", False), d.sqlglot_dialect, src, net)


Matcher = Callable[[exp.Expression, exp.Expression, Scope, Scope], exp.Expression]


def _name(rel: Rel, e: A.Expr, what: str, plugin: str) -> str:
    if not isinstance(e, A.Name):
        raise KqlError("SyntaxError", f"{plugin}(): {what} must be a column name", *e.pos)
    if e.name not in rel.types():
        raise unknown_column(e.name, rel.types(), *e.pos)
    return e.name


def _unmatched_flag(args: list[A.Expr], plugin: str) -> bool:
    """Takes a trailing return_unmatched literal off `args` (the parser passes `name = v` as `v`)."""
    last = args[-1] if args else None
    if not isinstance(last, A.Literal):
        return False
    if last.type != "bool":
        raise KqlError("SyntaxError", f"{plugin}(): return_unmatched must be true or false", *last.pos)
    args.pop()
    return bool(last.value)


def _lookup(plugin: str, match: Matcher, extra_keys: bool) -> Callable[[Context, Rel, EvaluateOp], Rel]:
    def run(ctx: Context, rel: Rel, op: EvaluateOp) -> Rel:
        return _plan(ctx, rel, op, plugin, match, extra_keys)

    return run


def _plan(ctx: Context, rel: Rel, op: EvaluateOp, plugin: str, match: Matcher, extra_keys: bool) -> Rel:
    args = list(op.args)
    unmatched = _unmatched_flag(args, plugin)
    extras = " [, ExtraKey...]" if extra_keys else ""
    if len(args) < 3 or (len(args) > 3 and not extra_keys):
        raise KqlError(
            "SyntaxError",
            f"{plugin}() expects (LookupTable, SourceKey, LookupKey{extras} [, return_unmatched])",
            *op.pos,
        )
    table = args[0]
    if not isinstance(table, A.Name):
        raise KqlError("SyntaxError", f"{plugin}(): the lookup table must be a table or let name", *table.pos)
    lookup = plan(ctx, A.TableRef(table.pos, table.name))
    src_key = _name(rel, args[1], "the source key", plugin)
    net_key = _name(lookup, args[2], "the lookup key", plugin)
    extra = [_name(rel, e, "an extra key", plugin) for e in args[3:]]
    for e in args[3:]:
        _name(lookup, e, "an extra key", plugin)

    if unmatched:
        # shared, as the unmatched rows read both tables a second time
        rel, lookup = ctx.share(rel), ctx.share(lookup)

    def on(lname: str, rname: str) -> exp.Expression:
        lscope, rscope = Scope(ctx, rel.types(), lname), Scope(ctx, lookup.types(), rname)
        src = translate(A.Call(op.pos, "tostring", (A.Name(op.pos, src_key),)), lscope).sql
        net = translate(A.Call(op.pos, "tostring", (A.Name(op.pos, net_key),)), rscope).sql
        cond = match(src, net, lscope, rscope)
        for k in extra:
            lt = translate(A.Name(op.pos, k), lscope)
            lt, rt = coerce_pair(lt, translate(A.Name(op.pos, k), rscope), lscope)
            cond = exp.And(this=cond, expression=exp.EQ(this=lt.sql, expression=rt.sql))
        return cond

    lname, rname = ctx.fresh(), ctx.fresh()
    taken = {n for n, _ in rel.columns}
    cols = list(rel.columns)
    sel: list[tuple[str, str, str]] = [(lname, n, n) for n, _ in rel.columns]  # (from, column, as)
    added: list[tuple[str, str]] = []
    for n, t in lookup.columns:
        if n in extra:
            continue
        new = unique_name(n, taken)
        taken.add(new)
        added.append((new, t))
        sel.append((rname, n, new))
    q: exp.Query = joined(
        exp.select(*column_items(sel)).from_(rel.sql.subquery(lname, copy=False), copy=False),
        lookup.sql.subquery(rname, copy=False),
        "INNER",
        on(lname, rname),
    )
    if unmatched:
        # T's rows no lookup row matches, padded with nulls: a UNION, as ClickHouse's LEFT JOIN
        # needs an equality key and the IP condition is a range
        l2, r2 = ctx.fresh(), ctx.fresh()
        d = ctx.dialect
        nulls = [alias(cast(exp.Null(), d.storage_type(t), d.sqlglot_dialect), n) for n, t in added]
        miss = exp.select(lit(1)).from_(lookup.sql.subquery(r2), copy=False).where(on(l2, r2), copy=False)
        rest = (
            exp.select(*select_all(rel, l2), *nulls)
            .from_(rel.sql.subquery(l2), copy=False)
            .where(exp.Not(this=exp.Exists(this=miss)), copy=False)
        )
        q = exp.union(q, rest, distinct=False, copy=False)
    return Rel(q, [*cols, *added])


PLUGINS["ipv4_lookup"] = _lookup("ipv4_lookup", _ip_match, extra_keys=True)
PLUGINS["ipv6_lookup"] = _lookup("ipv6_lookup", _ipv6_match, extra_keys=False)
