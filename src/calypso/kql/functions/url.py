"""parse_url() and parse_urlquery(): URL text -> a dynamic object, in SQL on DuckDB and ClickHouse.

Kusto's result keys, spelled exactly: parse_url gives {"Scheme", "Host", "Port", "Path", "Username",
"Password", "Query Parameters", "Fragment"}, every part a string ("" when absent; Port is a string
such as "1234"; Path keeps its leading slash) except "Query Parameters", an object. parse_urlquery
gives {"Query Parameters": {...}} for the query part alone (without its "?").

Query parameters: the query is split at "&", empty pieces are skipped, each piece is split at its
first "="; a key without "=" gets "", and when a key repeats the last value wins (as Kusto does).
Keys and values are kept as written (no URL-decoding). A string that is not an absolute URL
(scheme "://" authority) gives every part "" and no parameters; so does a null string.

How: one RE2 expression splits the URL into its parts; the parameters are built as JSON text from
the lists of keys and values. Templates only ever hold the compiler's own text; the argument is
spliced in at a slot (see template.py).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from .. import ast as A
from ..binder import Scope, Typed
from ..errors import KqlError
from .base import ScalarFn, args, as_string
from .series_fit import _let
from .template import render, slot
from .xml import _lit

URL = (
    r"^([A-Za-z][A-Za-z0-9+.\-]*)://"  # 1 scheme
    r"(?:([^:@/?#]*)(?::([^@/?#]*))?@)?"  # 2 username, 3 password
    r"(\[[^\]]*\]|[^:/?#]*)"  # 4 host
    r"(?::([0-9]*))?"  # 5 port
    r"([^?#]*)"  # 6 path
    r"(?:\?([^#]*))?"  # 7 query
    r"(?:#(.*))?$"  # 8 fragment
)
PARTS = (("Scheme", 1), ("Host", 4), ("Port", 5), ("Path", 6), ("Username", 2), ("Password", 3))


@dataclass(frozen=True)
class UrlOps:
    """Engine spellings the templates need; every argument and result is SQL text."""

    sql_dialect: str
    group: Callable[[str, str, int], str]  # (string, pattern literal, group)
    split: Callable[[str], str]  # split at '&'
    map: Callable[[str, str, str], str]  # (var, body, list)
    filter: Callable[[str, str, str], str]  # (var, condition, list)
    at: Callable[[str, str], str]  # 1-based
    length: Callable[[str], str]
    tail_has: Callable[[str, str, str], str]  # (list, 1-based index, value): value in list after index
    join: Callable[[str], str]  # comma-joined
    json_str: Callable[[str], str]  # a string as a JSON string literal
    to_dynamic: Callable[[str], str]


DUCKDB = UrlOps(
    sql_dialect="duckdb",
    group=lambda s, p, g: f"regexp_extract({s}, {p}, {g})",
    split=lambda s: f"string_split({s}, '&')",
    map=lambda v, body, lst: f"list_transform({lst}, lambda {v}: {body})",
    filter=lambda v, cond, lst: f"list_filter({lst}, lambda {v}: {cond})",
    at=lambda x, i: f"list_extract({x}, {i})",
    length=lambda x: f"len({x})",
    tail_has=lambda x, i, v: f"list_contains(list_slice({x}, {i} + 1, len({x})), {v})",
    join=lambda x: f"array_to_string({x}, ',')",
    json_str=lambda s: f"CAST(to_json({s}) AS VARCHAR)",
    to_dynamic=lambda s: f"CAST({s} AS JSON)",
)
CLICKHOUSE = UrlOps(
    sql_dialect="clickhouse",
    group=lambda s, p, g: f"regexpExtract({s}, {p}, {g})",
    split=lambda s: f"splitByChar('&', {s})",
    map=lambda v, body, lst: f"arrayMap({v} -> {body}, {lst})",
    filter=lambda v, cond, lst: f"arrayFilter({v} -> {cond}, {lst})",
    at=lambda x, i: f"arrayElement({x}, {i})",
    length=lambda x: f"length({x})",
    tail_has=lambda x, i, v: f"has(arraySlice({x}, {i} + 1), {v})",
    join=lambda x: f"arrayStringConcat({x}, ',')",
    json_str=lambda s: f"toJSONString({s})",
    to_dynamic=lambda s: s,
)
OPS: dict[str, UrlOps] = {"duckdb": DUCKDB, "clickhouse": CLICKHOUSE}


def _parameters(o: UrlOps, q: str) -> str:
    """JSON object text of the query string `q` (SQL text of a non-null string)."""
    pieces = o.filter("_up", "_up <> ''", o.split(q))
    first_eq = "position('=' IN _up)"
    keys = o.map(
        "_up", f"(CASE WHEN {first_eq} > 0 THEN substring(_up, 1, {first_eq} - 1) ELSE _up END)", "_uq"
    )
    values = o.map(
        "_up", f"(CASE WHEN {first_eq} > 0 THEN substring(_up, {first_eq} + 1) ELSE '' END)", "_uq"
    )
    last = o.filter(
        "_ui", f"NOT {o.tail_has('_uk', '_ui', o.at('_uk', '_ui'))}", f"range(1, {o.length('_uk')} + 1)"
    )
    member = f"concat({o.json_str(o.at('_uk', '_ui'))}, ':', {o.json_str(o.at('_uv', '_ui'))})"
    body = f"concat('{{', {o.join(o.map('_ui', member, last))}, '}}')"
    with_values = _let(o, "_uv", values, body)
    with_keys = _let(o, "_uk", keys, with_values)
    return _let(o, "_uq", pieces, with_keys)


def _parse_url_text(o: UrlOps, s: str) -> str:
    pattern = _lit(URL, o.sql_dialect)
    members = [f"'\"{name}\":', {o.json_str(o.group('_us', pattern, g))}" for name, g in PARTS]
    query = _parameters(o, o.group("_us", pattern, 7))
    fragment = o.json_str(o.group("_us", pattern, 8))
    body = (
        "concat('{', "
        + ", ',', ".join(members)
        + f", ',\"Query Parameters\":', {query}, ',\"Fragment\":', {fragment}, '}}')"
    )
    return o.to_dynamic(_let(o, "_us", f"coalesce({s}, '')", body))


def _ops(call: A.Call, scope: Scope) -> UrlOps:
    o = OPS.get(scope.ctx.dialect.name)
    if o is None:
        raise KqlError("UnsupportedFunction", f"{call.name} is not supported by {scope.ctx.dialect.name}")
    return o


def _parse_url(call: A.Call, scope: Scope) -> Typed:
    (a,) = args(call, scope, 1)
    o = _ops(call, scope)
    text = _parse_url_text(o, f"({slot(0)})")
    return Typed(
        render(text, scope.ctx.dialect.sqlglot_dialect, as_string(a, scope).sql), "dynamic", a.is_agg
    )


def _parse_urlquery(call: A.Call, scope: Scope) -> Typed:
    (a,) = args(call, scope, 1)
    o = _ops(call, scope)
    params = _parameters(o, f"coalesce(({slot(0)}), '')")
    text = o.to_dynamic(f"concat('{{\"Query Parameters\":', {params}, '}}')")
    return Typed(
        render(text, scope.ctx.dialect.sqlglot_dialect, as_string(a, scope).sql), "dynamic", a.is_agg
    )


URLS: dict[str, ScalarFn] = {
    "parse_url": _parse_url,
    "parseurl": _parse_url,
    "parse_urlquery": _parse_urlquery,
    "parseurlquery": _parse_urlquery,
}
