"""IPv4 text-match and comparison functions: has_ipv4 (and _any, _prefix), ipv4_compare/is_match,
ipv4_netmask_suffix, format_ipv4 and format_ipv4_mask.

Invariants (Kusto's documented semantics):
- An IPv4 string is four dotted octets 0-255 with an optional `/prefix` of 0-32 (IP-prefix
  notation); anything else fails to convert. Comparisons mask both addresses with the smallest of
  their own prefixes and the optional prefix argument (0-32; another value fails the conversion).
- Conversion failure gives null from ipv4_compare, ipv4_is_match and ipv4_netmask_suffix, and ""
  from format_ipv4 and format_ipv4_mask. format_ipv4* also take a long (0 to 2^32-1, big-endian).
- In text, an address counts only as a whole token: delimited by the string's ends or by a
  non-alphanumeric character ("1.1.1.10" does not hold 1.1.1.1; "a1.1.1.1" neither). A valid
  prefix is a full address or one to three octets each ending with a dot; a prefix matches only an
  address in the text that is valid as a whole ("127.0.0.256" does not hold the prefix "127.0.").
  An invalid address or prefix never matches, and the has_* functions are never null.
- Constant addresses and prefixes become one constant regular expression (RE2 on both engines);
  a non-constant string is checked and escaped in SQL, so user text only ever reaches SQL as a
  literal. A dynamic array of addresses must be constant (a literal or a let-bound literal).
"""

from __future__ import annotations

import json
import re

from sqlglot import exp

from .. import ast as A
from ..binder import Scope, Typed
from ..dialects.base import cast, fn, lit
from ..errors import KqlError
from .base import ScalarFn, agg_flag, args, as_string

OCTET = r"(?:25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])"
ADDRESS = rf"{OCTET}\.{OCTET}\.{OCTET}\.{OCTET}"
PREFIX = rf"(?:{OCTET}\.){{1,3}}"
CIDR = rf"^({OCTET})\.({OCTET})\.({OCTET})\.({OCTET})(?:/([0-9]|[12][0-9]|3[0-2]))?$"
BEFORE = r"(?:^|[^0-9A-Za-z])"
AFTER = r"(?:$|[^0-9A-Za-z])"
NEVER = r"[^\s\S]"  # a pattern no string matches
MAX_IPV4 = 4294967295


def _full(pattern: str) -> str:
    return f"^(?:{pattern})$"


def _text_pattern(value: str, prefix: bool) -> str | None:
    """The regex body matching `value` as an address (or address prefix) token; None if invalid."""
    if re.fullmatch(ADDRESS, value):
        return re.escape(value)
    if prefix and re.fullmatch(PREFIX, value):
        missing = 4 - value.count(".")
        return re.escape(value) + r"\.".join([OCTET] * missing)
    return None


def _sql_text_pattern(value: exp.Expression, prefix: bool, scope: Scope) -> exp.Expression:
    """`_text_pattern` in SQL, for a non-constant address: NEVER when it is not valid."""
    d = scope.ctx.dialect
    escaped = d.replace(value, lit("."), lit("\\."))
    ifs = [exp.If(this=d.regex_match(value, lit(_full(ADDRESS))), true=escaped)]
    if prefix:
        for dots in (3, 2, 1):
            rest = r"\.".join([OCTET] * (4 - dots))
            shape = _full(rf"(?:{OCTET}\.){{{dots}}}")
            ifs.append(exp.If(this=d.regex_match(value, lit(shape)), true=d.concat(escaped, lit(rest))))
    return exp.Case(ifs=ifs, default=lit(NEVER))


def _constant_strings(node: A.Expr, t: Typed) -> list[object] | None:
    """The values of a constant string or dynamic argument, or None when it is not constant."""
    if isinstance(node, A.Literal):
        return [node.value] if isinstance(node.value, str) else None
    if isinstance(node, A.DynamicLiteral):
        v = node.value
        return list(v) if isinstance(v, list) else [v]
    if t.type == "dynamic":  # a let-bound dynamic literal arrives as its JSON text
        inner = t.sql.this if isinstance(t.sql, exp.Cast) else t.sql
        if isinstance(inner, exp.Literal) and inner.is_string:
            v = json.loads(inner.this)
            return list(v) if isinstance(v, list) else [v]
    return None


def _has(any_: bool, prefix: bool) -> ScalarFn:
    def f(call: A.Call, scope: Scope) -> Typed:
        vals = args(call, scope, 2, 64 if any_ else 2)
        d = scope.ctx.dialect
        src = as_string(vals[0], scope).sql
        bodies: list[exp.Expression] = []
        constant: list[str] = []
        for node, t in zip(call.args[1:], vals[1:], strict=True):
            values = _constant_strings(node, t)
            if values is not None:
                constant += [p for v in values if isinstance(v, str) and (p := _text_pattern(v, prefix))]
            elif t.type == "dynamic":
                raise KqlError(
                    "UnsupportedFunction", f"{call.name}() needs constant arrays of addresses", *node.pos
                )
            else:
                bodies.append(_sql_text_pattern(as_string(t, scope).sql, prefix, scope))
        tests: list[exp.Expression] = []
        if constant:
            tests.append(d.regex_match(src, lit(f"{BEFORE}(?:{'|'.join(constant)}){AFTER}")))
        for body in bodies:
            tests.append(d.regex_match(src, d.concat(lit(BEFORE + "(?:"), body, lit(")" + AFTER))))
        if not tests:
            return Typed(exp.false(), "bool", agg_flag(*vals))
        res = tests[0]
        for t2 in tests[1:]:
            res = exp.Or(this=res, expression=t2)
        return Typed(fn("coalesce", res, exp.false()), "bool", agg_flag(*vals))

    return f


class _Ip:
    """A parsed IPv4 string: whether it converted, its 32-bit value and its prefix length."""

    def __init__(self, s: exp.Expression, scope: Scope) -> None:
        d = scope.ctx.dialect
        pattern = lit(CIDR)
        self.ok: exp.Expression = fn("coalesce", d.regex_match(s, pattern), exp.false())
        value: exp.Expression = lit(0)
        for i, mult in enumerate((16777216, 65536, 256, 1), start=1):
            part = d.try_cast(d.regex_extract(s, pattern, i), "string", "long")
            value = exp.Add(this=value, expression=exp.Mul(this=part, expression=lit(mult)))
        self.value = exp.Paren(this=value)
        suffix = d.try_cast(d.regex_extract(s, pattern, 5), "string", "long")
        self.prefix: exp.Expression = fn("coalesce", suffix, lit(32))


def _number_ip(v: exp.Expression) -> tuple[exp.Expression, exp.Expression, exp.Expression]:
    v = cast(v, "BIGINT")  # ClickHouse types a literal such as 3232236031 UInt32, which wraps below
    ok = exp.And(
        this=exp.GTE(this=v, expression=lit(0)), expression=exp.LTE(this=v, expression=lit(MAX_IPV4))
    )
    return fn("coalesce", ok, exp.false()), v, lit(32)


def _least(a: exp.Expression, b: exp.Expression) -> exp.Expression:
    return exp.If(this=exp.LT(this=a, expression=b), true=a, false=b)


def _valid_prefix(p: exp.Expression) -> exp.Expression:
    return exp.And(this=exp.GTE(this=p, expression=lit(0)), expression=exp.LTE(this=p, expression=lit(32)))


def _masked(v: exp.Expression, bits: exp.Expression, scope: Scope) -> exp.Expression:
    """`v` with all but its `bits` most-significant bits (of 32) cleared."""
    block = cast(fn("pow", lit(2), exp.Sub(this=lit(32), expression=bits)), "BIGINT")
    return exp.Mul(this=scope.ctx.dialect.int_div(v, block), expression=block.copy())


def _pair(call: A.Call, scope: Scope) -> tuple[exp.Expression, exp.Expression, exp.Expression, bool]:
    """(conversion ok, masked ip1, masked ip2, is_agg) for ipv4_compare and ipv4_is_match."""
    vals = args(call, scope, 2, 3)
    a, b = (_Ip(as_string(v, scope).sql, scope) for v in vals[:2])
    bits = _least(a.prefix, b.prefix)
    ok: exp.Expression = exp.And(this=a.ok, expression=b.ok)
    if len(vals) == 3:
        p = vals[2].sql
        ok = exp.And(this=ok, expression=fn("coalesce", _valid_prefix(p), exp.false()))
        bits = _least(bits, p)
    return ok, _masked(a.value, bits, scope), _masked(b.value, bits, scope), agg_flag(*vals)


def _ipv4_compare(call: A.Call, scope: Scope) -> Typed:
    ok, x, y, agg = _pair(call, scope)
    sign = exp.Case(
        ifs=[
            exp.If(this=exp.LT(this=x, expression=y), true=lit(-1)),
            exp.If(this=exp.GT(this=x, expression=y), true=lit(1)),
        ],
        default=lit(0),
    )
    res = exp.Case(ifs=[exp.If(this=ok, true=cast(sign, "BIGINT"))], default=exp.Null())
    return Typed(res, "long", agg)


def _ipv4_is_match(call: A.Call, scope: Scope) -> Typed:
    ok, x, y, agg = _pair(call, scope)
    res = exp.Case(ifs=[exp.If(this=ok, true=exp.EQ(this=x, expression=y))], default=exp.Null())
    return Typed(res, "bool", agg)


def _ipv4_netmask_suffix(call: A.Call, scope: Scope) -> Typed:
    (a,) = args(call, scope, 1)
    ip = _Ip(as_string(a, scope).sql, scope)
    res = exp.Case(ifs=[exp.If(this=ip.ok, true=cast(ip.prefix, "BIGINT"))], default=exp.Null())
    return Typed(res, "long", a.is_agg)


def _dotted(v: exp.Expression, scope: Scope) -> exp.Expression:
    d = scope.ctx.dialect
    parts: list[exp.Expression] = []
    for i, div in enumerate((16777216, 65536, 256, 1)):
        if i:
            parts.append(lit("."))
        octet = exp.Mod(this=exp.Paren(this=d.int_div(v, lit(div))), expression=lit(256))
        parts.append(d.to_string(octet, "long"))
    return d.concat(*parts)


def _format_ipv4(with_mask: bool) -> ScalarFn:
    def f(call: A.Call, scope: Scope) -> Typed:
        vals = args(call, scope, 1, 2)
        d = scope.ctx.dialect
        a = vals[0]
        if a.type in ("int", "long"):
            ok, value, bits = _number_ip(a.sql)
        else:
            ip = _Ip(as_string(a, scope).sql, scope)
            ok, value, bits = ip.ok, ip.value, ip.prefix
        if len(vals) == 2:
            p = vals[1].sql
            ok = exp.And(this=ok, expression=fn("coalesce", _valid_prefix(p), exp.false()))
            bits = _least(bits, p)
        text = _dotted(_masked(value, bits, scope), scope)
        if with_mask:
            text = d.concat(text, lit("/"), d.to_string(bits, "long"))
        return Typed(exp.Case(ifs=[exp.If(this=ok, true=text)], default=lit("")), "string", agg_flag(*vals))

    return f


NETWORK: dict[str, ScalarFn] = {
    "has_ipv4": _has(any_=False, prefix=False),
    "has_any_ipv4": _has(any_=True, prefix=False),
    "has_ipv4_prefix": _has(any_=False, prefix=True),
    "has_any_ipv4_prefix": _has(any_=True, prefix=True),
    "ipv4_compare": _ipv4_compare,
    "ipv4_is_match": _ipv4_is_match,
    "ipv4_netmask_suffix": _ipv4_netmask_suffix,
    "format_ipv4": _format_ipv4(with_mask=False),
    "format_ipv4_mask": _format_ipv4(with_mask=True),
}
