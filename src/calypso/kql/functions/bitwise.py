"""Bitwise and power functions: `binary_and/or/xor/not`, `binary_shift_left/right`, `bitset_count_ones`,
`exp2`, `exp10`.

Invariant: the bitwise functions take integers (`int` or `long`, anything else is a type error as in
Kusto) and return `long` computed on 64-bit two's complement like .NET: shifts wrap (`1 << 63` is the
smallest long), `>>` keeps the sign, the shift count is taken modulo 64 and a negative count gives
null; `bitset_count_ones(-1)` is 64. A null argument gives null. `exp2`/`exp10` return `real`.
"""

from __future__ import annotations

from sqlglot import exp

from .. import ast as A
from ..binder import NUMERIC, Scope, Typed
from ..dialects.base import cast, fn, lit
from ..errors import KqlError
from .base import ScalarFn, agg_flag, args

_MASK64 = (1 << 64) - 1


def _ints(call: A.Call, scope: Scope, n: int) -> list[Typed]:
    vals = args(call, scope, n)
    for v, a in zip(vals, call.args, strict=True):
        if v.type not in ("int", "long"):
            raise KqlError("TypeMismatch", f"{call.name}() expects integer arguments, got {v.type}", *a.pos)
    return vals


def _long(e: exp.Expression) -> exp.Expression:
    return cast(e, "BIGINT")


# ClickHouse has no bitwise operators (`^` is not XOR there), only functions
_CLICKHOUSE = {"and": "bitAnd", "or": "bitOr", "xor": "bitXor"}


def _binary(op: str) -> ScalarFn:
    def f(call: A.Call, scope: Scope) -> Typed:
        a, b = _ints(call, scope, 2)
        x, y = _long(a.sql), _long(b.sql)
        if scope.ctx.dialect.name == "clickhouse":
            res: exp.Expression = fn(_CLICKHOUSE[op], x, y)
        elif op == "xor":
            res = fn("xor", x, y)
        elif op == "and":
            res = exp.BitwiseAnd(this=x, expression=y)
        else:
            res = exp.BitwiseOr(this=x, expression=y)
        return Typed(_long(res), "long", agg_flag(a, b))

    return f


def _not(call: A.Call, scope: Scope) -> Typed:
    (a,) = _ints(call, scope, 1)
    x = _long(a.sql)
    res = fn("bitNot", x) if scope.ctx.dialect.name == "clickhouse" else exp.BitwiseNot(this=x)
    return Typed(_long(res), "long", a.is_agg)


def _shift_sql(x: exp.Expression, n: exp.Expression, left: bool, dialect: str) -> exp.Expression:
    if dialect == "clickhouse":
        return fn("bitShiftLeft" if left else "bitShiftRight", x, n)
    if not left:
        return exp.BitwiseRightShift(this=x, expression=n)
    # DuckDB refuses to shift a negative number or past the top bit: shift the unsigned 64-bit
    # pattern in HUGEINT, keep the low 64 bits and read them back as two's complement
    bits = exp.BitwiseAnd(this=cast(x, "HUGEINT"), expression=cast(lit(_MASK64), "HUGEINT"))
    low = exp.BitwiseAnd(
        this=exp.Paren(this=exp.BitwiseLeftShift(this=bits, expression=n)),
        expression=cast(lit(_MASK64), "HUGEINT"),
    )
    return exp.If(
        this=exp.GTE(this=low, expression=lit(1 << 63)),
        true=exp.Sub(this=low.copy(), expression=lit(1 << 64)),
        false=low.copy(),
    )


def _shift(left: bool) -> ScalarFn:
    def f(call: A.Call, scope: Scope) -> Typed:
        v, s = _ints(call, scope, 2)
        count = _long(s.sql)
        n = exp.Mod(this=count, expression=lit(64))
        shifted = _shift_sql(_long(v.sql), n, left, scope.ctx.dialect.name)
        res = exp.If(this=exp.LT(this=count.copy(), expression=lit(0)), true=exp.Null(), false=shifted)
        return Typed(_long(res), "long", agg_flag(v, s))

    return f


def _count_ones(call: A.Call, scope: Scope) -> Typed:
    (a,) = _ints(call, scope, 1)
    name = "bitCount" if scope.ctx.dialect.name == "clickhouse" else "bit_count"
    return Typed(_long(fn(name, _long(a.sql))), "long", a.is_agg)


def _power_of(base: int) -> ScalarFn:
    def f(call: A.Call, scope: Scope) -> Typed:
        (x,) = args(call, scope, 1)
        if x.type not in NUMERIC:
            raise KqlError("TypeMismatch", f"{call.name}() expects a number, got {x.type}", *call.args[0].pos)
        return Typed(exp.Pow(this=lit(float(base)), expression=cast(x.sql, "DOUBLE")), "real", x.is_agg)

    return f


BITWISE: dict[str, ScalarFn] = {
    "binary_and": _binary("and"),
    "binary_or": _binary("or"),
    "binary_xor": _binary("xor"),
    "binary_not": _not,
    "binary_shift_left": _shift(True),
    "binary_shift_right": _shift(False),
    "bitset_count_ones": _count_ones,
    "exp2": _power_of(2),
    "exp10": _power_of(10),
}
