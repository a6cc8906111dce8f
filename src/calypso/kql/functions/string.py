"""String scalar functions (one registry entry each), with Kusto's 0-based indexing.

Invariant: positions are 0-based like Kusto (`substring`, `indexof`), regexes are RE2 on both
engines, and results of string functions are never null for non-null input.
"""

from __future__ import annotations

import re

from sqlglot import exp

from .. import ast as A
from ..binder import Scope, Typed
from ..dialects.base import fn, lit
from ..errors import KqlError
from .base import ScalarFn, agg_flag, args, as_string, literal_int


def _strs(call: A.Call, scope: Scope, lo: int, hi: int | None = None) -> list[Typed]:
    return [as_string(t, scope) if t.type != "string" else t for t in args(call, scope, lo, hi)]


def _simple(name: str, out: str = "string") -> ScalarFn:
    def f(call: A.Call, scope: Scope) -> Typed:
        (a,) = _strs(call, scope, 1)
        return Typed(fn(name, a.sql), out, a.is_agg)

    return f


def _strlen(call: A.Call, scope: Scope) -> Typed:
    (a,) = _strs(call, scope, 1)
    return Typed(scope.ctx.dialect.str_length(a.sql), "long", a.is_agg)


def _strcat(call: A.Call, scope: Scope) -> Typed:
    vals = _strs(call, scope, 1, 64)
    return Typed(
        scope.ctx.dialect.concat(*[fn("coalesce", v.sql, lit("")) for v in vals]), "string", agg_flag(*vals)
    )


def _strcat_delim(call: A.Call, scope: Scope) -> Typed:
    vals = _strs(call, scope, 2, 64)
    parts: list[exp.Expression] = []
    for i, v in enumerate(vals[1:]):
        if i:
            parts.append(vals[0].sql)
        parts.append(fn("coalesce", v.sql, lit("")))
    return Typed(scope.ctx.dialect.concat(*parts), "string", agg_flag(*vals))


def _substring(call: A.Call, scope: Scope) -> Typed:
    vals = args(call, scope, 2, 3)
    s = as_string(vals[0], scope)
    length = vals[2].sql if len(vals) == 3 else None
    start = fn("greatest", vals[1].sql, lit(0))
    return Typed(scope.ctx.dialect.substring(s.sql, start, length), "string", agg_flag(*vals))


def _indexof(call: A.Call, scope: Scope) -> Typed:
    a, b = _strs(call, scope, 2)
    pos = scope.ctx.dialect.strpos(a.sql, b.sql, False)
    return Typed(exp.Sub(this=pos, expression=lit(1)), "long", agg_flag(a, b))


def _split(call: A.Call, scope: Scope) -> Typed:
    vals = args(call, scope, 2, 3)
    a, sep = as_string(vals[0], scope), as_string(vals[1], scope)
    arr = scope.ctx.dialect.split(a.sql, sep.sql)
    if len(vals) == 3:
        return Typed(
            scope.ctx.dialect.json_array([scope.ctx.dialect.json_get(arr, [vals[2].sql])]), "dynamic"
        )
    return Typed(arr, "dynamic", agg_flag(*vals))


def _replace_string(call: A.Call, scope: Scope) -> Typed:
    a, old, new = _strs(call, scope, 3)
    return Typed(scope.ctx.dialect.replace(a.sql, old.sql, new.sql), "string", agg_flag(a, old, new))


def _replace_regex(call: A.Call, scope: Scope) -> Typed:
    a, p, r = _strs(call, scope, 3)
    return Typed(scope.ctx.dialect.regex_replace(a.sql, p.sql, r.sql), "string", agg_flag(a, p, r))


def _replace_legacy(call: A.Call, scope: Scope) -> Typed:
    p, r, a = _strs(call, scope, 3)
    return Typed(scope.ctx.dialect.regex_replace(a.sql, p.sql, r.sql), "string", agg_flag(a, p, r))


def _extract(call: A.Call, scope: Scope) -> Typed:
    if len(call.args) not in (3, 4):
        args(call, scope, 3, 4)  # raises the arity error
    vals = args(A.Call(call.pos, call.name, call.args[:3]), scope, 3)  # the 4th, typeof(T), is read below
    group = literal_int(call, 1)
    p, s = as_string(vals[0], scope), as_string(vals[2], scope)
    d = scope.ctx.dialect
    res = d.regex_extract(s.sql, p.sql, group)
    res = exp.If(this=d.regex_match(s.sql, p.sql), true=res, false=exp.Null())
    if len(call.args) == 4:
        target = call.args[3]
        if isinstance(target, A.Call) and target.name == "typeof" and len(target.args) == 1:
            tname = target.args[0]
            if isinstance(tname, A.Name):
                from ..parser import TYPE_NAMES

                kt = TYPE_NAMES.get(tname.name.lower(), "string")
                return Typed(d.try_cast(res, "string", kt), kt, agg_flag(*vals))
        raise KqlError("SyntaxError", "extract() expects typeof(T) as its 4th argument", *call.pos)
    return Typed(res, "string", agg_flag(*vals))


def _extract_all(call: A.Call, scope: Scope) -> Typed:
    """extract_all(regex, [captureGroups,] source): a flat array of matches for one group, an array
    per match for several (all of the regex's by default); null when nothing matches."""
    vals = args(call, scope, 2, 3)
    p, s = as_string(vals[0], scope), as_string(vals[-1], scope)
    groups = _capture_groups(call)
    regex = call.args[0]
    if isinstance(regex, A.Literal) and isinstance(regex.value, str):  # RE2 names groups (?P<name>...)
        p = Typed(lit(_python_groups(regex.value)), "string")
    d = scope.ctx.dialect
    if len(groups) > 1:
        res = d.regex_extract_groups(s.sql, p.sql, groups)
    else:
        res = d.regex_extract_all(s.sql, p.sql, groups[0] if groups else 0)
    return Typed(fn("nullif", res, lit("[]")), "dynamic", agg_flag(*vals))  # no match: null


def _python_groups(regex: str) -> str:
    """Kusto's named groups `(?<name>...)` spelled `(?P<name>...)`, as Python and RE2 read them."""
    return re.sub(r"\(\?<(?=[A-Za-z_])", "(?P<", regex)


def _capture_groups(call: A.Call) -> list[int]:
    """The 1-based groups extract_all returns: its captureGroups (numbers or names), else all the
    regex's (none: the whole match). Known only for a literal regex; otherwise group 1."""
    regex = call.args[0]
    if not (isinstance(regex, A.Literal) and isinstance(regex.value, str)):
        return [1]
    try:
        compiled = re.compile(_python_groups(regex.value))
    except re.error:
        return [1]
    if len(call.args) == 3:
        chosen = call.args[1]
        items = chosen.value if isinstance(chosen, A.DynamicLiteral) else None
        if not isinstance(items, list) or not items:
            raise KqlError(
                "SyntaxError", "extract_all's captureGroups must be a literal dynamic array", *chosen.pos
            )
        out = []
        for item in items:
            index = compiled.groupindex.get(item) if isinstance(item, str) else item
            if not isinstance(index, int) or not 1 <= index <= compiled.groups:
                raise KqlError(
                    "SyntaxError", f"extract_all: no capture group {item!r} in the regex", *chosen.pos
                )
            out.append(index)
        return out
    return list(range(1, compiled.groups + 1))


def _trim(kind: str) -> ScalarFn:
    def f(call: A.Call, scope: Scope) -> Typed:
        p, s = _strs(call, scope, 2)
        d = scope.ctx.dialect
        res = s.sql
        if kind in ("both", "start"):
            res = d.regex_replace(res, d.concat(lit("^(?:"), p.sql, lit(")+")), lit(""))
        if kind in ("both", "end"):
            res = d.regex_replace(res, d.concat(lit("(?:"), p.sql, lit(")+$")), lit(""))
        return Typed(res, "string", agg_flag(p, s))

    return f


def _countof(call: A.Call, scope: Scope) -> Typed:
    vals = _strs(call, scope, 2, 3)
    s, sub = vals[0], vals[1]
    d = scope.ctx.dialect
    diff = exp.Sub(this=d.str_length(s.sql), expression=d.str_length(d.replace(s.sql, sub.sql, lit(""))))
    return Typed(d.int_div(diff, fn("greatest", d.str_length(sub.sql), lit(1))), "long", agg_flag(*vals))


def _reverse(call: A.Call, scope: Scope) -> Typed:
    (a,) = _strs(call, scope, 1)
    return Typed(scope.ctx.dialect.reverse(a.sql), "string", a.is_agg)


def _dialect1(method: str) -> ScalarFn:
    def f(call: A.Call, scope: Scope) -> Typed:
        (a,) = _strs(call, scope, 1)
        return Typed(getattr(scope.ctx.dialect, method)(a.sql), "string", a.is_agg)

    return f


def _strcmp(call: A.Call, scope: Scope) -> Typed:
    a, b = _strs(call, scope, 2)
    res = exp.Case(
        ifs=[
            exp.If(this=exp.LT(this=a.sql, expression=b.sql), true=lit(-1)),
            exp.If(this=exp.GT(this=a.sql, expression=b.sql), true=lit(1)),
        ],
        default=lit(0),
    )
    return Typed(res, "int", agg_flag(a, b))


STRING: dict[str, ScalarFn] = {
    "strlen": _strlen,
    "string_size": _strlen,
    "strcat": _strcat,
    "strcat_delim": _strcat_delim,
    "substring": _substring,
    "indexof": _indexof,
    "split": _split,
    "replace_string": _replace_string,
    "replace_regex": _replace_regex,
    "replace": _replace_legacy,
    "extract": _extract,
    "extract_all": _extract_all,
    "trim": _trim("both"),
    "trim_start": _trim("start"),
    "trim_end": _trim("end"),
    "tolower": _simple("lower"),
    "toupper": _simple("upper"),
    "reverse": _reverse,
    "countof": _countof,
    "base64_encode_tostring": _dialect1("base64_encode"),
    "base64_encodestring": _dialect1("base64_encode"),
    "base64_decode_tostring": _dialect1("base64_decode"),
    "base64_decodestring": _dialect1("base64_decode"),
    "url_decode": _dialect1("url_decode"),
    "url_encode": _dialect1("url_encode"),
    "url_encode_component": _dialect1("url_encode"),
    "strcmp": _strcmp,
}
