"""Text functions: extract_json, hash_sha1, isascii, isutf8, regex_quote, strrep, new_guid,
unicode_codepoints_from_string (to_utf8), unicode_codepoints_to_string (make_string), indexof_regex,
parse_version.

Invariants (Kusto's documented semantics):
- extract_json(path, text [, typeof(T)]) is `tostring(parse_json(text)<path>)`, or the conversion to
  T: a missing element or invalid JSON gives "" (or null for other types). The path is a constant
  JSONPath of `$`, `.name`, `['name']` and `[index]` steps; wildcards and filters are refused.
- hash_sha1 hashes the UTF-8 bytes of `tostring(source)` (a datetime with 7 fraction digits, as
  Kusto writes it) to 40 lower-case hex digits.
- isascii/isutf8 are never null (a null string is the empty string, ASCII and UTF-8). Both engines
  store only valid UTF-8 in DuckDB, so there isutf8 is always true.
- regex_quote escapes the RE2 metacharacters \\ . ^ $ | ? * + ( ) [ ] { } with a backslash.
- strrep repeats tostring(value) `multiplier` times (capped at 1024, as documented), joined by
  tostring(delimiter); a multiplier under 1 gives "".
- unicode_codepoints_from_string gives the dynamic array of the string's code points;
  unicode_codepoints_to_string takes up to 64 ints, longs or dynamic arrays of them and gives null
  when one is not a Unicode scalar value (negative, over 0x10FFFF or a surrogate).
- indexof_regex(s, re [, start [, length [, occurrence]]]) is the 0-based index in `s` of the
  occurrence-th non-overlapping match inside the `length` characters from `start` (-1: unlimited),
  -1 when there is none; null when start < 0, occurrence < 0 or length < -1. On ClickHouse the
  regular expression must be a constant.
- parse_version takes 1 to 4 dot-separated parts of 1 to 8 digits (missing parts are trailing
  zeros) and gives sum(part_i * 10^(8*(4-i))) as an exact DECIMAL(38, 0), so versions compare
  exactly; anything else gives null.
"""

from __future__ import annotations

import re

from sqlglot import exp

from .. import ast as A
from ..binder import Scope, Typed
from ..dialects.base import cast, fn, lit
from ..errors import KqlError
from .base import ScalarFn, agg_flag, args, as_string
from .template import render, slot

STEP = re.compile(r"""\.([A-Za-z_][A-Za-z0-9_]*)|\[\s*(?:'([^']*)'|"([^"]*)"|([0-9]+))\s*\]""")
CONVERTERS = {
    "string": "tostring",
    "long": "tolong",
    "int": "toint",
    "real": "toreal",
    "decimal": "todecimal",
    "bool": "tobool",
    "datetime": "todatetime",
    "guid": "toguid",
    "timespan": "totimespan",
}
META = r"([\\.^$|?*+()\[\]{}])"
MAX_REPEAT = 1024


def _json_path(call: A.Call, target: A.Expr) -> A.Expr:
    """`target` followed by the steps of the constant JSONPath in argument 1."""
    node = call.args[0]
    if not (isinstance(node, A.Literal) and isinstance(node.value, str)):
        raise KqlError("UnsupportedFunction", f"{call.name}() needs a constant JSONPath", *node.pos)
    path = node.value.strip()
    if not path.startswith("$"):
        raise KqlError("SyntaxError", f"Invalid JSONPath '{path}': it must start with '$'", *node.pos)
    out, i = target, 1
    while i < len(path):
        m = STEP.match(path, i)
        if m is None:
            raise KqlError("UnsupportedFunction", f"Unsupported JSONPath '{path}'", *node.pos)
        name, quoted1, quoted2, index = m.groups()
        if index is not None:
            out = A.Index(node.pos, out, A.Literal(node.pos, int(index), "long"))
        else:
            out = A.Index(node.pos, out, A.Literal(node.pos, name or quoted1 or quoted2 or "", "string"))
        i = m.end()
    return out


def _extract_json(call: A.Call, scope: Scope) -> Typed:
    from ..parser import TYPE_NAMES
    from ..scalars import translate

    if not 2 <= len(call.args) <= 3:
        args(call, scope, 2, 3)  # raises the arity error
    pos = call.pos
    value = _json_path(call, A.Call(pos, "parse_json", (call.args[1],)))
    kind = "string"
    if len(call.args) == 3:
        t = call.args[2]
        if not (
            isinstance(t, A.Call)
            and t.name == "typeof"
            and len(t.args) == 1
            and isinstance(t.args[0], A.Name)
        ):
            raise KqlError("SyntaxError", f"{call.name}() expects typeof(T) as its 3rd argument", *t.pos)
        kind = TYPE_NAMES.get(t.args[0].name.lower(), "")
        if kind == "dynamic":
            return translate(value, scope)
        if kind not in CONVERTERS:
            raise KqlError("SyntaxError", f"Unknown type '{t.args[0].name}'", *t.pos)
    return translate(A.Call(pos, CONVERTERS[kind], (value,)), scope)


def _tostring(call: A.Call, i: int, scope: Scope) -> Typed:
    from ..scalars import translate

    return translate(A.Call(call.pos, "tostring", (call.args[i],)), scope)


def _hash_sha1(call: A.Call, scope: Scope) -> Typed:
    (a,) = args(call, scope, 1)
    s = _tostring(call, 0, scope)
    if a.type == "datetime":  # Kusto's text has 7 fraction digits (ticks), ours 6 (microseconds)
        d = scope.ctx.dialect
        whole = d.substring(s.sql, lit(0), exp.Sub(this=d.str_length(s.sql.copy()), expression=lit(1)))
        s = Typed(d.concat(whole, lit("0Z")), "string", s.is_agg)
    if scope.ctx.dialect.name == "clickhouse":
        return Typed(fn("lower", fn("hex", fn("SHA1", s.sql))), "string", s.is_agg)
    return Typed(fn("sha1", s.sql), "string", s.is_agg)


def _isascii(call: A.Call, scope: Scope) -> Typed:
    (a,) = args(call, scope, 1)
    s = fn("coalesce", as_string(a, scope).sql, lit(""))
    return Typed(scope.ctx.dialect.regex_match(s, lit(r"^[\x00-\x7F]*$")), "bool", a.is_agg)


def _isutf8(call: A.Call, scope: Scope) -> Typed:
    (a,) = args(call, scope, 1)
    s = as_string(a, scope).sql
    if scope.ctx.dialect.name == "clickhouse":
        ok: exp.Expression = exp.EQ(this=fn("isValidUTF8", fn("coalesce", s, lit(""))), expression=lit(1))
        return Typed(ok, "bool", a.is_agg)
    return Typed(exp.true(), "bool", a.is_agg)  # a DuckDB VARCHAR is valid UTF-8 by construction


def _regex_quote(call: A.Call, scope: Scope) -> Typed:
    (a,) = args(call, scope, 1)
    s = as_string(a, scope).sql
    return Typed(scope.ctx.dialect.regex_replace(s, lit(META), lit(r"\\\1")), "string", a.is_agg)


def _strrep(call: A.Call, scope: Scope) -> Typed:
    vals = args(call, scope, 2, 3)
    if vals[1].type not in ("int", "long"):
        raise KqlError("TypeMismatch", "strrep() expects an integer multiplier", *call.args[1].pos)
    d = scope.ctx.dialect
    value = fn("coalesce", _tostring(call, 0, scope).sql, lit(""))
    delim = fn("coalesce", _tostring(call, 2, scope).sql, lit("")) if len(vals) == 3 else lit("")
    n = fn("greatest", fn("least", cast(vals[1].sql, "BIGINT"), lit(MAX_REPEAT)), lit(0))
    unit = d.concat(value, delim)
    size = exp.Sub(this=exp.Mul(this=d.str_length(unit), expression=n), expression=d.str_length(delim.copy()))
    res = d.substring(fn("repeat", unit.copy(), n.copy()), lit(0), fn("greatest", size, lit(0)))
    return Typed(res, "string", agg_flag(*vals))


def _new_guid(call: A.Call, scope: Scope) -> Typed:
    args(call, scope, 0)
    if scope.ctx.dialect.name == "clickhouse":
        return Typed(fn("toString", fn("generateUUIDv4")), "guid")
    return Typed(cast(fn("gen_random_uuid"), "VARCHAR"), "guid")


def _codepoints(call: A.Call, scope: Scope) -> Typed:
    (a,) = args(call, scope, 1)
    s = fn("coalesce", as_string(a, scope).sql, lit(""))
    if scope.ctx.dialect.name == "clickhouse":
        # code points from the UTF-32 (big-endian) bytes of the string, 4 bytes each
        utf32 = fn("convertCharset", s, lit("UTF-8"), lit("UTF-32BE"))
        starts = fn("range", lit(1), exp.Add(this=fn("length", utf32), expression=lit(1)), lit(4))
        word = fn("substring", utf32.copy(), exp.Column(this=exp.to_identifier("_cp")), lit(4))
        point = fn("reinterpretAsUInt32", fn("reverse", word))
        lam = exp.Lambda(this=point, expressions=[exp.to_identifier("_cp")])
        return Typed(fn("toJSONString", fn("arrayMap", lam, starts)), "dynamic", a.is_agg)
    chars = fn("string_split", s, lit(""))
    lam = exp.Lambda(
        this=fn("unicode", exp.Column(this=exp.to_identifier("_cp"))), expressions=[exp.to_identifier("_cp")]
    )
    return Typed(fn("to_json", fn("list_transform", chars, lam)), "dynamic", a.is_agg)


_INVALID_POINT = "_c IS NULL OR _c < 0 OR _c > 1114111 OR (_c >= 55296 AND _c <= 57343)"
# (valid, text) of a list of code points (slot 0); ClickHouse goes through UTF-32 like _codepoints
FROM_POINTS = {
    "duckdb": (
        f"len(list_filter({slot(0)}, lambda _c: {_INVALID_POINT})) = 0",
        f"array_to_string(list_transform({slot(0)}, lambda _c: chr(CAST(_c AS INTEGER))), '')",
    ),
    "clickhouse": (
        f"arrayCount(_c -> {_INVALID_POINT}, {slot(0)}) = 0",
        "convertCharset(arrayStringConcat(arrayMap(_c -> char(intDiv(assumeNotNull(_c), 16777216) % 256, "
        "intDiv(assumeNotNull(_c), 65536) % 256, intDiv(assumeNotNull(_c), 256) % 256, "
        f"assumeNotNull(_c) % 256), {slot(0)})), 'UTF-32BE', 'UTF-8')",
    ),
}


def _points_list(t: Typed, node: A.Expr, scope: Scope) -> exp.Expression:
    """A SQL list of BIGINT code points from an int/long or a dynamic array argument."""
    if t.type in ("int", "long"):
        return exp.Array(expressions=[cast(t.sql, "BIGINT")])
    if t.type != "dynamic":
        raise KqlError("TypeMismatch", "Code points must be int, long or a dynamic array", *node.pos)
    if scope.ctx.dialect.name == "clickhouse":
        return fn("JSONExtract", fn("ifNull", t.sql, lit("[]")), lit("Array(Nullable(Int64))"))
    strings = fn("json_extract_string", cast(t.sql, "JSON"), lit("$[*]"))
    return exp.TryCast(this=strings, to=exp.DataType.build("BIGINT[]", dialect="duckdb"))


def _from_codepoints(call: A.Call, scope: Scope) -> Typed:
    vals = args(call, scope, 1, 64)
    d = scope.ctx.dialect
    lists = [_points_list(t, node, scope) for t, node in zip(vals, call.args, strict=True)]
    points = lists[0]
    for more in lists[1:]:
        points = fn("arrayConcat" if d.name == "clickhouse" else "list_concat", points, more)
    if d.name not in FROM_POINTS:
        raise KqlError("UnsupportedFunction", f"{call.name} is not supported by {d.name}", *call.pos)
    valid, text = (render(t, d.sqlglot_dialect, points) for t in FROM_POINTS[d.name])
    res = exp.Case(ifs=[exp.If(this=valid, true=text)], default=exp.Null())
    return Typed(res, "string", agg_flag(*vals))


# 0-based index of the k-th (slot 2) non-overlapping match of slot 1 in slot 0, -1 if fewer matches:
# the lengths of the k pieces between matches plus those of the k-1 matches before it
NTH_MATCH = {
    "duckdb": (
        f"(CASE WHEN len(regexp_extract_all({slot(0)}, {slot(1)})) < {slot(2)} THEN -1 ELSE "
        f"coalesce(list_sum(list_transform(list_slice(regexp_split_to_array({slot(0)}, {slot(1)}), 1, {slot(2)}), "
        "lambda _x: length(_x))), 0) + "
        f"coalesce(list_sum(list_transform(list_slice(regexp_extract_all({slot(0)}, {slot(1)}), 1, {slot(2)} - 1), "
        "lambda _x: length(_x))), 0) END)"
    ),
    "clickhouse": (
        f"(CASE WHEN length(extractAll({slot(0)}, {slot(1)})) < {slot(2)} THEN -1 ELSE "
        f"arraySum(arrayMap(_x -> lengthUTF8(_x), arraySlice(splitByRegexp({slot(1)}, {slot(0)}), 1, {slot(2)}))) + "
        f"arraySum(arrayMap(_x -> lengthUTF8(_x), arraySlice(extractAll({slot(0)}, {slot(1)}), 1, {slot(2)} - 1))) END)"
    ),
}


def _indexof_regex(call: A.Call, scope: Scope) -> Typed:
    vals = args(call, scope, 2, 5)
    d = scope.ctx.dialect
    if d.name not in NTH_MATCH:
        raise KqlError("UnsupportedFunction", f"{call.name} is not supported by {d.name}", *call.pos)
    s = fn("coalesce", as_string(vals[0], scope).sql, lit(""))
    pattern = as_string(vals[1], scope).sql
    start = cast(vals[2].sql, "BIGINT") if len(vals) > 2 else lit(0)
    length = cast(vals[3].sql, "BIGINT") if len(vals) > 3 else lit(-1)
    nth = cast(vals[4].sql, "BIGINT") if len(vals) > 4 else lit(1)
    region = exp.Case(
        ifs=[exp.If(this=exp.EQ(this=length, expression=lit(-1)), true=d.substring(s, start, None))],
        default=d.substring(s.copy(), start.copy(), length.copy()),
    )
    pos = render(NTH_MATCH[d.name], d.sqlglot_dialect, region, pattern, nth)
    invalid = exp.Or(
        this=exp.Or(
            this=exp.LT(this=start.copy(), expression=lit(0)),
            expression=exp.LT(this=nth.copy(), expression=lit(0)),
        ),
        expression=exp.LT(this=length.copy(), expression=lit(-1)),
    )
    res = exp.Case(
        ifs=[
            exp.If(this=invalid, true=exp.Null()),
            exp.If(this=exp.EQ(this=nth.copy(), expression=lit(0)), true=lit(-1)),
            exp.If(this=exp.LT(this=pos, expression=lit(0)), true=lit(-1)),
        ],
        default=exp.Add(this=start.copy(), expression=pos.copy()),
    )
    return Typed(cast(res, "BIGINT"), "long", agg_flag(*vals))


VERSION = r"^([0-9]{1,8})(?:\.([0-9]{1,8}))?(?:\.([0-9]{1,8}))?(?:\.([0-9]{1,8}))?$"


def _parse_version(call: A.Call, scope: Scope) -> Typed:
    (a,) = args(call, scope, 1)
    d = scope.ctx.dialect
    s = as_string(a, scope).sql
    exact = exp.DataType.build("DECIMAL(38, 0)")  # a double cannot tell 1.2.3.4 from 1.2.3.5
    total: exp.Expression | None = None
    for i in range(1, 5):
        part = fn("coalesce", d.try_cast(d.regex_extract(s, lit(VERSION), i), "string", "long"), lit(0))
        term = exp.Mul(this=cast(part, exact), expression=cast(lit(str(10 ** (8 * (4 - i)))), exact))
        total = term if total is None else exp.Add(this=total, expression=term)
    assert total is not None
    res = exp.Case(ifs=[exp.If(this=d.regex_match(s.copy(), lit(VERSION)), true=total)], default=exp.Null())
    return Typed(res, "decimal", a.is_agg)


TEXT: dict[str, ScalarFn] = {
    "extract_json": _extract_json,
    "extractjson": _extract_json,
    "hash_sha1": _hash_sha1,
    "isascii": _isascii,
    "isutf8": _isutf8,
    "regex_quote": _regex_quote,
    "strrep": _strrep,
    "new_guid": _new_guid,
    "unicode_codepoints_from_string": _codepoints,
    "to_utf8": _codepoints,
    "unicode_codepoints_to_string": _from_codepoints,
    "make_string": _from_codepoints,
    "indexof_regex": _indexof_regex,
    "parse_version": _parse_version,
}
