"""Conversion, conditional, math and network scalar functions (one registry entry each).

Invariant: conversions never fail a query: a value that does not convert becomes null, like Kusto's
`toint("x")`. Kusto strings are never null, so `isempty` treats null and "" alike.
"""

from __future__ import annotations

from sqlglot import exp

from .. import ast as A
from ..binder import NUMERIC, Scope, Typed
from ..dialects.base import cast, data_type, fn, lit
from ..errors import KqlError
from ..scalars import coerce_pair, promote, widen_int
from .base import ScalarFn, agg_flag, args, as_string


def _convert(to: str) -> ScalarFn:
    def conv(call: A.Call, scope: Scope) -> Typed:
        (a,) = args(call, scope, 1)
        d = scope.ctx.dialect
        if to == "string":
            if a.type == "string":
                return a
            if a.type == "timespan":
                from .datetime import format_timespan_sql

                return Typed(format_timespan_sql(a.sql, scope), "string", a.is_agg)
            # tostring(null) is "" in Kusto
            return Typed(fn("coalesce", d.to_string(a.sql, a.type), lit("")), "string", a.is_agg)
        if to == "dynamic":
            if a.type == "dynamic":
                return a
            if a.type == "string":
                return Typed(
                    exp.TryCast(this=a.sql, to=data_type("JSON"))
                    if d.name == "duckdb"
                    else fn("if", fn("isValidJSON", a.sql), a.sql, exp.Null()),
                    "dynamic",
                    a.is_agg,
                )
            return Typed(d.to_json(a.sql, a.type), "dynamic", a.is_agg)
        if to == "timespan":
            if a.type == "timespan":
                return a
            if a.type in NUMERIC:
                return Typed(cast(a.sql, "BIGINT"), "timespan", a.is_agg)
            if a.type == "string" and isinstance(a.sql, exp.Literal) and a.sql.is_string:
                # a constant string is parsed at compile time ('1.02:03:04.5', '00:10:00'); null if invalid
                from ..values import parse_timespan

                return Typed(lit(parse_timespan(a.sql.this)), "timespan", a.is_agg)
            raise KqlError(
                "UnsupportedFunction", "totimespan() of a non-constant string is not supported", *call.pos
            )
        if a.type == to:
            return a
        if to in ("int", "long", "real", "decimal") and a.type in ("datetime",):
            return Typed(exp.Mul(this=d.epoch_us(a.sql), expression=lit(10)), to, a.is_agg)
        if to in ("int", "long", "real") and a.type == "timespan":
            return Typed(a.sql, to, a.is_agg)
        return Typed(d.try_cast(a.sql, a.type, to), to, a.is_agg)

    return conv


def _iff(call: A.Call, scope: Scope) -> Typed:
    c, t, f = args(call, scope, 3)
    if t.type != f.type:  # a dynamic branch takes the other's type; two dynamic branches stay dynamic
        t, f = coerce_pair(t, f, scope)
    rt = promote(t.type, f.type)
    return Typed(exp.If(this=c.sql, true=t.sql, false=f.sql), rt, agg_flag(c, t, f))


def _case(call: A.Call, scope: Scope) -> Typed:
    if len(call.args) < 3 or len(call.args) % 2 == 0:
        raise KqlError("SyntaxError", "case() expects pairs of predicate, value and an else value", *call.pos)
    vals = args(call, scope, len(call.args))
    ifs = [exp.If(this=vals[i].sql, true=vals[i + 1].sql) for i in range(0, len(vals) - 1, 2)]
    rt = vals[1].type
    for i in range(3, len(vals), 2):
        rt = promote(rt, vals[i].type)
    return Typed(exp.Case(ifs=ifs, default=vals[-1].sql), promote(rt, vals[-1].type), agg_flag(*vals))


def _coalesce(call: A.Call, scope: Scope) -> Typed:
    vals = args(call, scope, 1, 64)
    if vals[0].type == "string":
        vals = [as_string(v, scope) for v in vals]
        parts = [fn("nullif", v.sql, lit("")) for v in vals]
        return Typed(fn("coalesce", *parts, lit("")), "string", agg_flag(*vals))
    rt = vals[0].type
    for v in vals[1:]:
        rt = promote(rt, v.type)
    return Typed(fn("coalesce", *[v.sql for v in vals]), rt, agg_flag(*vals))


def _isempty(negate: bool) -> ScalarFn:
    def f(call: A.Call, scope: Scope) -> Typed:
        (a,) = args(call, scope, 1)
        s = as_string(a, scope).sql if a.type in ("string", "dynamic", "guid") else a.sql
        if a.type in ("string", "dynamic", "guid"):
            empty: exp.Expression = exp.Or(
                this=exp.Is(this=s, expression=exp.Null()), expression=exp.EQ(this=s, expression=lit(""))
            )
        else:
            empty = exp.Is(this=s, expression=exp.Null())
        return Typed(
            exp.Not(this=exp.Paren(this=empty)) if negate else exp.Paren(this=empty), "bool", a.is_agg
        )

    return f


def _isnull(negate: bool) -> ScalarFn:
    def f(call: A.Call, scope: Scope) -> Typed:
        (a,) = args(call, scope, 1)
        res: exp.Expression = exp.Is(this=a.sql, expression=exp.Null())
        return Typed(exp.Not(this=res) if negate else res, "bool", a.is_agg)

    return f


def _not(call: A.Call, scope: Scope) -> Typed:
    (a,) = args(call, scope, 1)
    return Typed(exp.Not(this=exp.Paren(this=a.sql)), "bool", a.is_agg)


def _extreme(name: str) -> ScalarFn:
    def f(call: A.Call, scope: Scope) -> Typed:
        vals = args(call, scope, 1, 64)
        rt = vals[0].type
        for v in vals[1:]:
            rt = promote(rt, v.type)
        # Kusto ignores nulls in max_of/min_of; greatest/least would return null in ClickHouse.
        node = exp.Max if name == "greatest" else exp.Min
        res: exp.Expression = vals[0].sql
        for v in vals[1:]:
            cmp = exp.GT if node is exp.Max else exp.LT
            res = exp.Case(
                ifs=[
                    exp.If(this=exp.Is(this=res, expression=exp.Null()), true=v.sql),
                    exp.If(this=exp.Is(this=v.sql, expression=exp.Null()), true=res),
                    exp.If(this=cmp(this=res, expression=v.sql), true=res),
                ],
                default=v.sql,
            )
        return Typed(res, rt, agg_flag(*vals))

    return f


def _math(name: str, out: str | None = "real", lo: int = 1, hi: int = 1) -> ScalarFn:
    def f(call: A.Call, scope: Scope) -> Typed:
        vals = args(call, scope, lo, hi)
        return Typed(fn(name, *[v.sql for v in vals]), out or vals[0].type, agg_flag(*vals))

    return f


def _abs(call: A.Call, scope: Scope) -> Typed:
    (a,) = args(call, scope, 1)
    a = widen_int(a)
    return Typed(fn("abs", a.sql), a.type, a.is_agg)


def _round(call: A.Call, scope: Scope) -> Typed:
    vals = args(call, scope, 1, 2)
    digits = vals[1].sql if len(vals) > 1 else lit(0)
    return Typed(
        fn("round", vals[0].sql, digits), "real" if vals[0].type != "long" else "long", agg_flag(*vals)
    )


def _log2(call: A.Call, scope: Scope) -> Typed:
    (a,) = args(call, scope, 1)
    return Typed(exp.Div(this=fn("ln", a.sql), expression=fn("ln", lit(2))), "real", a.is_agg)


def _rand(call: A.Call, scope: Scope) -> Typed:
    vals = args(call, scope, 0, 1)
    r = scope.ctx.dialect.rand()
    if scope.ctx.dialect.name == "clickhouse":
        r = exp.Div(this=r, expression=lit(4294967296.0))
    if vals:
        return Typed(cast(fn("floor", exp.Mul(this=r, expression=vals[0].sql)), "BIGINT"), "long")
    return Typed(r, "real")


def _hash(kind: str) -> ScalarFn:
    def f(call: A.Call, scope: Scope) -> Typed:
        (a,) = args(call, scope, 1)
        d = scope.ctx.dialect
        s = as_string(a, scope).sql
        return Typed(d.hash_md5(s) if kind == "md5" else d.hash_sha256(s), "string", a.is_agg)

    return f


def _ipv4_int(s: exp.Expression, scope: Scope) -> exp.Expression:
    d = scope.ctx.dialect
    pattern = lit(r"^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})(/\d+)?$")
    total: exp.Expression = lit(0)
    for i, mult in enumerate((16777216, 65536, 256, 1), start=1):
        part = d.try_cast(d.regex_extract(s, pattern, i), "string", "long")
        total = exp.Add(this=total, expression=exp.Mul(this=part, expression=lit(mult)))
    return exp.If(this=d.regex_match(s, pattern), true=total, false=exp.Null())


def _parse_ipv4(call: A.Call, scope: Scope) -> Typed:
    (a,) = args(call, scope, 1)
    return Typed(_ipv4_int(as_string(a, scope).sql, scope), "long", a.is_agg)


def _in_range(ip: exp.Expression, net: str, scope: Scope) -> exp.Expression:
    base, _, bits_s = net.partition("/")
    bits = int(bits_s) if bits_s else 32
    parts = [int(x) for x in base.split(".")]
    start = (parts[0] << 24) | (parts[1] << 16) | (parts[2] << 8) | parts[3]
    size = 1 << (32 - bits)
    start -= start % size
    v = _ipv4_int(ip, scope)
    return exp.And(
        this=exp.GTE(this=v, expression=lit(start)), expression=exp.LT(this=v, expression=lit(start + size))
    )


def _ipv4_is_private(call: A.Call, scope: Scope) -> Typed:
    (a,) = args(call, scope, 1)
    s = as_string(a, scope).sql
    nets = ("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16")
    res: exp.Expression = _in_range(s, nets[0], scope)
    for n in nets[1:]:
        res = exp.Or(this=res, expression=_in_range(s, n, scope))
    return Typed(res, "bool", a.is_agg)


def _ipv4_is_in_range(call: A.Call, scope: Scope) -> Typed:
    a, _ = args(call, scope, 2)
    net = call.args[1]
    if not (isinstance(net, A.Literal) and isinstance(net.value, str)):
        raise KqlError("UnsupportedFunction", "ipv4_is_in_range needs a literal range", *call.pos)
    try:
        return Typed(_in_range(as_string(a, scope).sql, net.value, scope), "bool", a.is_agg)
    except (ValueError, IndexError):
        raise KqlError("TypeMismatch", f"Invalid IPv4 range '{net.value}'", *net.pos) from None


def _typeof_name(call: A.Call, scope: Scope) -> Typed:
    (a,) = args(call, scope, 1)
    if a.type == "dynamic":
        return Typed(scope.ctx.dialect.json_type(a.sql), "string", a.is_agg)
    return Typed(lit(a.type), "string")


def _toscalar(call: A.Call, scope: Scope) -> Typed:
    from ..scalars import toscalar

    return toscalar(call, scope)


def _tohex(call: A.Call, scope: Scope) -> Typed:
    vals = args(call, scope, 1, 2)
    v = vals[0]
    if v.type not in ("int", "long"):
        raise KqlError("TypeMismatch", "tohex() expects an int or long", *call.args[0].pos)
    out = scope.ctx.dialect.to_hex(v.sql)
    if len(vals) > 1:
        width = vals[1].sql
        out = exp.If(
            this=exp.GT(this=width, expression=fn("length", out)),
            true=fn("lpad", out, width, lit("0")),
            false=out,
        )
    return Typed(out, "string", v.is_agg)


SCALAR: dict[str, ScalarFn] = {
    "toscalar": _toscalar,
    "tohex": _tohex,
    "tostring": _convert("string"),
    "toint": _convert("int"),
    "tolong": _convert("long"),
    "toreal": _convert("real"),
    "todouble": _convert("real"),
    "todecimal": _convert("decimal"),
    "tobool": _convert("bool"),
    "toboolean": _convert("bool"),
    "todatetime": _convert("datetime"),
    "totimespan": _convert("timespan"),
    "totime": _convert("timespan"),
    "toguid": _convert("guid"),
    "todynamic": _convert("dynamic"),
    "toobject": _convert("dynamic"),
    "parse_json": _convert("dynamic"),
    "parsejson": _convert("dynamic"),
    "iff": _iff,
    "iif": _iff,
    "case": _case,
    "coalesce": _coalesce,
    "isempty": _isempty(False),
    "isnotempty": _isempty(True),
    "notempty": _isempty(True),
    "isnull": _isnull(False),
    "isnotnull": _isnull(True),
    "notnull": _isnull(True),
    "not": _not,
    "max_of": _extreme("greatest"),
    "min_of": _extreme("least"),
    "abs": _abs,
    "sqrt": _math("sqrt"),
    "exp": _math("exp"),
    "log": _math("ln"),
    "log10": _math("log10"),
    "log2": _log2,
    "pow": _math("pow", "real", 2, 2),
    "ceiling": _math("ceil", None),
    "sign": _math("sign", None),
    "round": _round,
    "rand": _rand,
    "hash_md5": _hash("md5"),
    "hash_sha256": _hash("sha256"),
    "parse_ipv4": _parse_ipv4,
    "ipv4_is_private": _ipv4_is_private,
    "ipv4_is_in_range": _ipv4_is_in_range,
    "gettype": _typeof_name,
}
