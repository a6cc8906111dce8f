"""ipv6_compare() and ipv6_is_match(): IPv6 or IPv4 strings with IP-prefix notation, in pure SQL
(DuckDB has no inet type without an extension; ClickHouse's is not needed).

Semantics (Kusto's documentation and its examples):
- An address is IPv6 text (8 groups of 1-4 hex digits, one "::" standing for one or more zero
  groups, optionally ending with a dotted IPv4 quad) or a plain IPv4 address; an IPv4 address, and
  an IPv6 one ending with a dotted quad whose other groups are 0 (::a.b.c.d, ::ffff:a.b.c.d), is
  the IPv4-mapped ::ffff:a.b.c.d, and its /prefix counts IPv4 bits (0-32, so 96 more in IPv6);
  other IPv6 prefixes are 0-128. Both are compared under the smallest of their prefixes and the
  optional prefix argument, which counts IPv4 bits when both strings are plain IPv4 addresses and
  IPv6 bits otherwise (0-128).
- A string that does not convert, or a prefix argument out of range, gives null.

How: each string becomes a list of 9 numbers, its 8 groups and its prefix in IPv6 bits (null when
invalid); the groups are masked and compared from the first. Templates hold only the compiler's text;
the arguments are spliced in at slots (see template.py).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from sqlglot import exp

from .. import ast as A
from ..binder import Scope, Typed
from ..dialects.base import cast
from ..errors import KqlError
from .base import ScalarFn, agg_flag, args, as_string
from .network import ADDRESS, OCTET
from .series_fit import _let
from .template import render, slot
from .xml import _lit

QUAD = rf"({OCTET})\.({OCTET})\.({OCTET})\.({OCTET})$"
HEX_GROUP = r"^[0-9A-Fa-f]{1,4}$"


@dataclass(frozen=True)
class Ip6Ops:
    """Engine spellings the templates need; every argument and result is SQL text."""

    sql_dialect: str
    pos: Callable[[str, str], str]  # 1-based position of a substring, 0 if absent
    re: Callable[[str, str], str]
    group: Callable[[str, str, int], str]
    split: Callable[[str], str]  # split at ':'
    concat2: Callable[[str, str], str]  # two lists
    concat3: Callable[[str, str, str], str]  # three lists
    zeros: Callable[[str], str]  # a list of n '0' strings
    all_hex: Callable[[str], str]
    to_ints: Callable[[str], str]
    hex16: Callable[[str], str]
    at: Callable[[str, str], str]
    length: Callable[[str], str]
    map: Callable[[str, str, str], str]
    empty: str  # an empty list of strings
    to_int: Callable[[str], str]  # a string to BIGINT, null if it is not one (never an error)


DUCKDB = Ip6Ops(
    sql_dialect="duckdb",
    pos=lambda s, sub: f"strpos({s}, {sub})",
    re=lambda s, p: f"regexp_matches({s}, {p})",
    group=lambda s, p, g: f"regexp_extract({s}, {p}, {g})",
    split=lambda s: f"string_split({s}, ':')",
    concat2=lambda a, b: f"list_concat({a}, {b})",
    concat3=lambda a, b, c: f"list_concat(list_concat({a}, {b}), {c})",
    zeros=lambda n: f"list_transform(range(greatest({n}, 0)), lambda _z: '0')",
    all_hex=lambda x: f"len(list_filter({x}, lambda _g: NOT regexp_matches(_g, '{HEX_GROUP}'))) = 0",
    to_ints=lambda x: f"list_transform({x}, lambda _g: TRY_CAST('0x' || _g AS BIGINT))",
    hex16=lambda n: f"hex(CAST({n} AS BIGINT))",
    at=lambda x, i: f"list_extract({x}, {i})",
    length=lambda x: f"len({x})",
    map=lambda v, body, lst: f"list_transform({lst}, lambda {v}: {body})",
    empty="CAST([] AS VARCHAR[])",
    to_int=lambda s: f"TRY_CAST({s} AS BIGINT)",
)
CLICKHOUSE = Ip6Ops(
    sql_dialect="clickhouse",
    pos=lambda s, sub: f"position({s}, {sub})",
    re=lambda s, p: f"match({s}, {p})",
    group=lambda s, p, g: f"regexpExtract({s}, {p}, {g})",
    split=lambda s: f"splitByChar(':', {s})",
    concat2=lambda a, b: f"arrayConcat({a}, {b})",
    concat3=lambda a, b, c: f"arrayConcat({a}, {b}, {c})",
    zeros=lambda n: f"arrayWithConstant(toUInt64(greatest({n}, 0)), '0')",
    all_hex=lambda x: f"arrayAll(_g -> match(_g, '{HEX_GROUP}'), {x})",
    to_ints=lambda x: (
        f"arrayMap(_g -> toInt64(reinterpretAsUInt16(reverse(unhex(leftPad(_g, 4, '0'))))), {x})"
    ),
    hex16=lambda n: f"hex(toUInt16({n}))",
    at=lambda x, i: f"arrayElement({x}, {i})",
    length=lambda x: f"length({x})",
    map=lambda v, body, lst: f"arrayMap({v} -> {body}, {lst})",
    empty="CAST([] AS Array(String))",
    to_int=lambda s: f"toInt64OrNull({s})",
)
OPS: dict[str, Ip6Ops] = {"duckdb": DUCKDB, "clickhouse": CLICKHOUSE}


def _parsed(o: Ip6Ops, s: str, tag: str) -> str:
    """SQL text of [8 groups..., prefix in IPv6 bits] for the string `s`, or null if invalid."""
    L = lambda v: _lit(v, o.sql_dialect)  # noqa: E731
    a, p, h = f"_a{tag}", f"_p{tag}", f"_h{tag}"
    slash = o.pos(s, "'/'")
    addr = f"(CASE WHEN {slash} > 0 THEN substring({s}, 1, {slash} - 1) ELSE {s} END)"
    suffix = f"(CASE WHEN {slash} > 0 THEN substring({s}, {slash} + 1) ELSE '' END)"
    quad = L(QUAD)
    octets = [o.to_int(o.group(a, quad, i)) for i in range(1, 5)]
    v4 = o.re(a, L(f"(^|:){ADDRESS}$"))
    # the dotted quad, if any, as two hex groups; then "::" expanded into zero groups
    hexed = (
        f"(CASE WHEN {v4} THEN concat(substring({a}, 1, length({a}) - length({o.group(a, L(ADDRESS + '$'), 0)})), "
        f"{o.hex16(f'{octets[0]} * 256 + {octets[1]}')}, ':', {o.hex16(f'{octets[2]} * 256 + {octets[3]}')}) "
        f"ELSE {a} END)"
    )
    x = f"_x{tag}"
    dc = o.pos(x, "'::'")
    left = f"substring({x}, 1, {dc} - 1)"
    right = f"substring({x}, {dc} + 2)"
    lg = f"(CASE WHEN {left} = '' THEN {o.empty} ELSE {o.split(left)} END)"
    rg = f"(CASE WHEN {right} = '' THEN {o.empty} ELSE {o.split(right)} END)"
    filled = o.concat3(lg, o.zeros(f"8 - {o.length(lg)} - {o.length(rg)}"), rg)
    groups = f"(CASE WHEN {dc} > 0 THEN {filled} ELSE {o.split(x)} END)"
    plain = o.re(a, L("^" + ADDRESS + "$"))
    twice = o.pos(right, "'::'")
    ok_groups = f"({o.length(h)} = 8 AND {o.all_hex(h)} AND NOT ({dc} > 0 AND {twice} > 0))"
    ints = o.to_ints(h)
    # IPv4 (plain, or ::a.b.c.d / ::ffff:a.b.c.d) becomes ::ffff:a.b.c.d with its prefix in IPv4 bits
    mapped_ok = f"({plain} OR ({v4} AND {o.re(a, L(f'(?i)^(::|::ffff:|0:0:0:0:0:(0|ffff):){ADDRESS}$'))}))"
    mapped = f"[0, 0, 0, 0, 0, 65535, {octets[0]} * 256 + {octets[1]}, {octets[2]} * 256 + {octets[3]}]"
    bits = (
        f"(CASE WHEN {p} = '' THEN 128 "
        f"WHEN NOT {o.re(p, L('^[0-9]{1,3}$'))} THEN NULL "
        f"WHEN {mapped_ok} THEN (CASE WHEN {o.to_int(p)} <= 32 THEN {o.to_int(p)} + 96 END) "
        f"WHEN {o.to_int(p)} <= 128 THEN {o.to_int(p)} END)"
    )
    body = (
        f"(CASE WHEN {bits} IS NULL THEN NULL "
        f"WHEN {mapped_ok} THEN {o.concat2(mapped, f'[{bits}]')} "
        f"WHEN {ok_groups} THEN {o.concat2(ints, f'[{bits}]')} END)"
    )
    with_groups = _let(o, h, groups, body)
    with_x = _let(o, x, hexed, with_groups)
    with_p = _let(o, p, suffix, with_x)
    return _let(o, a, addr, with_p)


def _compare_text(o: Ip6Ops, kind: str, has_arg: bool) -> str:
    """ipv6_compare (kind 'compare') or ipv6_is_match over slot 0, slot 1 and the prefix slot 2."""
    x, y = "_ix", "_iy"
    plain = lambda s: o.re(s, _lit("^" + ADDRESS + r"(/[0-9]{1,3})?$", o.sql_dialect))  # noqa: E731
    bits = f"least({o.at(x, '9')}, {o.at(y, '9')})"
    invalid = f"{x} IS NULL OR {y} IS NULL"
    if has_arg:
        arg = f"CAST({slot(2)} AS BIGINT)"
        both4 = f"({plain(slot(0))} AND {plain(slot(1))})"
        arg_bits = (
            f"(CASE WHEN {both4} THEN (CASE WHEN {arg} BETWEEN 0 AND 32 THEN {arg} + 96 END) "
            f"WHEN {arg} BETWEEN 0 AND 128 THEN {arg} END)"
        )
        bits = f"least({bits}, {arg_bits})"
        invalid += f" OR {arg_bits} IS NULL"  # least() skips nulls on DuckDB
    keep = lambda i: f"least(greatest({bits} - {16 * (i - 1)}, 0), 16)"  # noqa: E731
    masked = lambda v, i: (  # noqa: E731
        f"({o.at(v, str(i))} - {o.at(v, str(i))} % CAST(pow(2, 16 - {keep(i)}) AS BIGINT))"
    )
    cases = " ".join(
        f"WHEN {masked(x, i)} <> {masked(y, i)} THEN (CASE WHEN {masked(x, i)} < {masked(y, i)} THEN -1 ELSE 1 END)"
        for i in range(1, 9)
    )
    sign = f"(CASE {cases} ELSE 0 END)"
    result = f"CAST({sign} AS BIGINT)" if kind == "compare" else f"({sign} = 0)"
    body = f"(CASE WHEN {invalid} THEN NULL ELSE {result} END)"
    inner = _let(o, y, _parsed(o, f"coalesce({slot(1)}, '')", "y"), body)
    return _let(o, x, _parsed(o, f"coalesce({slot(0)}, '')", "x"), inner)


def _ipv6(kind: str) -> ScalarFn:
    def f(call: A.Call, scope: Scope) -> Typed:
        vals = args(call, scope, 2, 3)
        d = scope.ctx.dialect
        o = OPS.get(d.name)
        if o is None:
            raise KqlError("UnsupportedFunction", f"{call.name} is not supported by {d.name}", *call.pos)
        operands: list[exp.Expression] = [as_string(v, scope).sql for v in vals[:2]]
        if len(vals) == 3:
            operands.append(cast(vals[2].sql, "BIGINT"))
        text = _compare_text(o, kind, len(vals) == 3)
        res = render(text, d.sqlglot_dialect, *operands)
        return Typed(res, "long" if kind == "compare" else "bool", agg_flag(*vals))

    return f


IPV6: dict[str, ScalarFn] = {"ipv6_compare": _ipv6("compare"), "ipv6_is_match": _ipv6("match")}
