"""parse_xml(): XML text -> dynamic, in pure SQL on DuckDB and ClickHouse (neither has XML functions).

Kusto's documented conversion: an element becomes a key of its parent object; `<e/>` is null,
`<e>text</e>` the string "text", attributes become "@name" keys and the element's text then goes
under "#text"; child elements become keys, a name repeated among siblings becomes an array of the
values in document order; text next to child elements goes under "#text". Only elements,
attributes and text are translated (comments, processing instructions, the XML declaration,
DOCTYPE and CDATA sections are skipped). Invalid XML, a null input or an input over 1 MB gives null.

How: the string is cut into tokens with one regular expression (tags, comments, CDATA, text runs);
each token is classified (start, end, self-closing, text, skipped) and its name, attribute members
and text extracted; then one left fold over the tokens keeps a stack of open elements, each with its
attribute members, its children so far (names and JSON values) and its text pieces. A closing tag
pops its element, renders it as JSON text and appends it to the parent. The input is valid when
every end tag matches the open element, no text lies outside the root, and exactly one root element
remains. Values are JSON strings; nothing is converted to numbers.

Limits, stated so they can be checked: text is trimmed of surrounding whitespace and whitespace-only
text is dropped (as in the documentation's examples); several text pieces of one element (split by
a child element or a comment) become an array under "#text"; the five predefined entities (&lt;
&gt; &amp; &quot; &apos;) are decoded, numeric character references (&#65;) are left as written;
well-formedness is only checked as far as tag nesting and a single root go (an attribute without
quotes, say, is not an error: the attribute is skipped).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from sqlglot import exp

from .. import ast as A
from ..binder import Scope, Typed
from ..errors import KqlError
from .base import ScalarFn, args
from .template import render, slot

TOKENS = r"""(?s)<!--.*?-->|<!\[CDATA\[.*?\]\]>|<(?:[^>"']|"[^"]*"|'[^']*')*>|[^<]+"""
TAG_NAME = r"^</?\s*([^\s/>]+)"
ATTRIBUTE = r"""([^\s=/<>"']+)\s*=\s*("[^"]*"|'[^']*')"""
MAX_BYTES = 1048576
# the state of the fold: a stack of open elements as parallel lists, bottom = the document
FIELDS = ("n", "a", "cn", "cv", "tx")  # name, attribute members, child names, child values, texts


@dataclass(frozen=True)
class XmlOps:
    """Engine spellings the templates need; every argument and result is SQL text."""

    sql_dialect: str
    tokens: Callable[[str, str], str]  # (string, pattern literal) -> list of matches
    group: Callable[[str, str, int], str]  # (string, pattern literal, group) -> first match's group
    groups: Callable[[str, str], str]  # (string, 2-group pattern literal) -> [all group 1s, all group 2s]
    map: Callable[[str, str, str], str]  # (var, body, list)
    filter_index: Callable[[str, str, str], str]  # (var, condition, list) -> 1-based indices kept
    filter_by: Callable[[str, str, Callable[[str], str]], str]  # values whose key passes the test
    bytes: Callable[[str], str]
    at: Callable[[str, str], str]
    length: Callable[[str], str]
    position: Callable[[str, str], str]
    append: Callable[[str, str], str]
    init: Callable[[str], str]  # all but the last element
    join: Callable[[str], str]  # comma-joined
    json_str: Callable[[str], str]  # a string as a JSON string literal
    starts: Callable[[str, str], str]
    ends: Callable[[str, str], str]
    trim: Callable[[str], str]  # XML whitespace (space, tab, CR, LF) off both ends
    empty: str  # an empty list of strings
    field: Callable[[str, int], str]  # (state, 0-based field index)
    state: Callable[[list[str]], str]  # build a state from its fields (the 5 lists, then the error flag)
    token: Callable[[list[str]], str]  # build a token record (kind, name, attributes, text)
    token_field: Callable[[str, int], str]
    fold: Callable[[str, str, str, str, str], str]  # (acc, x, step, list, init)
    to_dynamic: Callable[[str], str]


def _lit(value: str, dialect: str) -> str:
    return exp.Literal.string(value).sql(dialect=dialect)


DUCKDB = XmlOps(
    sql_dialect="duckdb",
    tokens=lambda s, p: f"regexp_extract_all({s}, {p})",
    group=lambda s, p, g: f"regexp_extract({s}, {p}, {g})",
    groups=lambda s, p: f"[regexp_extract_all({s}, {p}, 1), regexp_extract_all({s}, {p}, 2)]",
    map=lambda v, body, lst: f"list_transform({lst}, lambda {v}: {body})",
    filter_index=lambda v, cond, lst: f"list_filter(range(1, len({lst}) + 1), lambda {v}: {cond})",
    filter_by=lambda vals, keys, test: (
        f"list_filter({vals}, lambda _xv, _xj: {test(f'list_extract({keys}, _xj)')})"
    ),
    bytes=lambda s: f"strlen({s})",
    at=lambda x, i: f"list_extract({x}, {i})",
    length=lambda x: f"len({x})",
    position=lambda x, v: f"list_position({x}, {v})",
    append=lambda x, v: f"list_append({x}, {v})",
    init=lambda x: f"list_slice({x}, 1, len({x}) - 1)",
    join=lambda x: f"array_to_string({x}, ',')",
    json_str=lambda s: f"CAST(to_json({s}) AS VARCHAR)",
    starts=lambda s, p: f"starts_with({s}, {p})",
    ends=lambda s, p: f"ends_with({s}, {p})",
    trim=lambda s: f"regexp_replace({s}, '^\\s+|\\s+$', '', 'g')",
    empty="CAST([] AS VARCHAR[])",
    field=lambda s, i: f"{s}.{(*FIELDS, 'e')[i]}",
    state=lambda fs: "{" + ", ".join(f"'{n}': {v}" for n, v in zip((*FIELDS, "e"), fs, strict=True)) + "}",
    token=lambda fs: "{" + ", ".join(f"'{n}': {v}" for n, v in zip("knat", fs, strict=True)) + "}",
    token_field=lambda t, i: f"{t}.{'knat'[i]}",
    fold=lambda acc, x, step, lst, init: f"list_reduce({lst}, lambda {acc}, {x}: {step}, {init})",
    to_dynamic=lambda s: f"CAST({s} AS JSON)",
)

_CH_STATE = "Tuple(Array(String), Array(Array(String)), Array(Array(String)), Array(Array(String)), Array(Array(String)), UInt8)"
CLICKHOUSE = XmlOps(
    sql_dialect="clickhouse",
    tokens=lambda s, p: f"extractAll({s}, {p})",
    group=lambda s, p, g: f"regexpExtract({s}, {p}, {g})",
    groups=lambda s, p: f"extractAllGroupsHorizontal({s}, {p})",
    map=lambda v, body, lst: f"arrayMap({v} -> {body}, {lst})",
    filter_index=lambda v, cond, lst: f"arrayFilter({v} -> {cond}, arrayEnumerate({lst}))",
    filter_by=lambda vals, keys, test: f"arrayFilter((_xv, _xkey) -> {test('_xkey')}, {vals}, {keys})",
    bytes=lambda s: f"length({s})",
    at=lambda x, i: f"arrayElement({x}, {i})",
    length=lambda x: f"length({x})",
    position=lambda x, v: f"indexOf({x}, {v})",
    append=lambda x, v: f"arrayPushBack({x}, {v})",
    init=lambda x: f"arrayPopBack({x})",
    join=lambda x: f"arrayStringConcat({x}, ',')",
    json_str=lambda s: f"toJSONString({s})",
    starts=lambda s, p: f"startsWith({s}, {p})",
    ends=lambda s, p: f"endsWith({s}, {p})",
    trim=lambda s: f"replaceRegexpAll({s}, '^\\\\s+|\\\\s+$', '')",
    empty="CAST([] AS Array(String))",
    field=lambda s, i: f"tupleElement({s}, {i + 1})",
    state=lambda fs: f"CAST(tuple({', '.join(fs)}) AS {_CH_STATE})",
    token=lambda fs: f"tuple({', '.join(fs)})",
    token_field=lambda t, i: f"tupleElement({t}, {i + 1})",
    fold=lambda acc, x, step, lst, init: f"arrayFold(({acc}, {x}) -> {step}, {lst}, {init})",
    to_dynamic=lambda s: s,
)
OPS: dict[str, XmlOps] = {"duckdb": DUCKDB, "clickhouse": CLICKHOUSE}


class _T:
    """Templates over one engine's `XmlOps`."""

    def __init__(self, o: XmlOps) -> None:
        self.o = o

    def lit(self, s: str) -> str:
        return _lit(s, self.o.sql_dialect)

    def last(self, x: str) -> str:
        return self.o.at(x, self.o.length(x))

    def set_last(self, x: str, v: str) -> str:
        return self.o.append(self.o.init(x), v)

    def decode(self, s: str) -> str:
        for entity, char in (("&lt;", "<"), ("&gt;", ">"), ("&quot;", '"'), ("&apos;", "'"), ("&amp;", "&")):
            s = f"replace({s}, {self.lit(entity)}, {self.lit(char)})"
        return s

    def token(self, t: str) -> str:
        """A token as (kind, name, attribute members, text); kind S, E, C (self-closing), T or X."""
        o = self.o
        kind = (
            f"CASE WHEN {o.starts(t, self.lit('</'))} THEN 'E' "
            f"WHEN {o.starts(t, self.lit('<!'))} OR {o.starts(t, self.lit('<?'))} THEN 'X' "
            f"WHEN {o.starts(t, self.lit('<'))} THEN (CASE WHEN {o.ends(t, self.lit('/>'))} THEN 'C' ELSE 'S' END) "
            f"WHEN {o.trim(t)} = '' THEN 'X' ELSE 'T' END"
        )
        tag = o.starts(t, self.lit("<"))
        name = f"(CASE WHEN {tag} THEN {o.group(t, self.lit(TAG_NAME), 1)} ELSE '' END)"
        # attribute names and quoted values, extracted once per tag (bound as _xg)
        names, value = o.at("_xg", "1"), o.at(o.at("_xg", "2"), "_xi")
        key = o.json_str(f"concat({self.lit('@')}, {o.at(names, '_xi')})")
        unquoted = self.decode(f"substring({value}, 2, length({value}) - 2)")
        member = f"concat({key}, ':', {o.json_str(unquoted)})"
        each = o.map("_xi", member, f"range(1, {o.length(names)} + 1)")
        attrs = o.at(o.map("_xg", each, f"[{o.groups(t, self.lit(ATTRIBUTE))}]"), "1")
        attrs = f"(CASE WHEN {tag} AND position('=' IN {t}) > 0 THEN {attrs} ELSE {o.empty} END)"
        text = f"(CASE WHEN {tag} THEN '' ELSE {self.decode(o.trim(t))} END)"
        return o.token([kind, name, attrs, text])

    def members(self, cn: str, cv: str) -> str:
        """JSON members "name": value of the children, a repeated name holding an array."""
        o = self.o
        firsts = o.filter_index("_xk", f"{o.position(cn, o.at(cn, '_xk'))} = _xk", cn)
        same = o.filter_by(cv, cn, lambda key: f"{key} = {o.at(cn, '_xk')}")
        value = f"(CASE WHEN {o.length(same)} = 1 THEN {o.at(cv, '_xk')} ELSE concat('[', {o.join(same)}, ']') END)"
        return o.map("_xk", f"concat({o.json_str(o.at(cn, '_xk'))}, ':', {value})", firsts)

    def element(self, attrs: str, cn: str, cv: str, tx: str) -> str:
        """An element's JSON value from its attribute members, children and text pieces."""
        o = self.o
        text = (
            f"(CASE WHEN {o.length(tx)} = 1 THEN {o.json_str(o.at(tx, '1'))} "
            f"ELSE concat('[', {o.join(o.map('_xt', o.json_str('_xt'), tx))}, ']') END)"
        )
        text_member = f"(CASE WHEN {o.length(tx)} = 0 THEN {o.empty} ELSE [concat('\"#text\":', {text})] END)"
        inner = f"arrayConcat({attrs}, {text_member}, {self.members(cn, cv)})"
        if o.sql_dialect == "duckdb":
            inner = f"list_concat(list_concat({attrs}, {text_member}), {self.members(cn, cv)})"
        return (
            f"(CASE WHEN {o.length(attrs)} = 0 AND {o.length(cn)} = 0 THEN "
            f"(CASE WHEN {o.length(tx)} = 0 THEN 'null' ELSE {text} END) "
            f"ELSE concat('{{', {o.join(inner)}, '}}') END)"
        )

    def step(self, acc: str, x: str) -> str:
        o = self.o
        f = {name: o.field(acc, i) for i, name in enumerate(FIELDS)}
        err = o.field(acc, len(FIELDS))
        kind, name, attrs, text = (o.token_field(x, i) for i in range(4))
        failed = o.state([f[n] for n in FIELDS] + ["true" if o.sql_dialect == "duckdb" else "1"])

        def with_child(fs: dict[str, str], child: str, value: str) -> str:
            out = dict(fs)
            out["cn"] = self.set_last(fs["cn"], o.append(self.last(fs["cn"]), child))
            out["cv"] = self.set_last(fs["cv"], o.append(self.last(fs["cv"]), value))
            return o.state([out[n] for n in FIELDS] + [err])

        on_text = dict(f, tx=self.set_last(f["tx"], o.append(self.last(f["tx"]), text)))
        on_start = {
            "n": o.append(f["n"], name),
            "a": o.append(f["a"], attrs),
            "cn": o.append(f["cn"], o.empty),
            "cv": o.append(f["cv"], o.empty),
            "tx": o.append(f["tx"], o.empty),
        }
        closed = self.element(self.last(f["a"]), self.last(f["cn"]), self.last(f["cv"]), self.last(f["tx"]))
        popped = {n: o.init(f[n]) for n in FIELDS}
        lone = f"(CASE WHEN {o.length(attrs)} = 0 THEN 'null' ELSE concat('{{', {o.join(attrs)}, '}}') END)"
        depth = o.length(f["n"])
        return (
            f"(CASE WHEN {kind} = 'T' THEN (CASE WHEN {depth} = 1 THEN {failed} "
            f"ELSE {o.state([on_text[n] for n in FIELDS] + [err])} END) "
            f"WHEN {kind} = 'S' THEN {o.state([on_start[n] for n in FIELDS] + [err])} "
            f"WHEN {kind} = 'C' THEN {with_child(f, name, lone)} "
            f"WHEN {kind} = 'E' THEN (CASE WHEN {depth} = 1 OR {self.last(f['n'])} <> {name} THEN {failed} "
            f"ELSE {with_child(popped, self.last(f['n']), closed)} END) "
            f"ELSE {acc} END)"
        )

    def parse_xml(self, s: str) -> str:
        o = self.o
        nested_empty = f"[{o.empty}]"
        init = o.state(
            [
                "['']",
                nested_empty,
                nested_empty,
                nested_empty,
                nested_empty,
                "false" if o.sql_dialect == "duckdb" else "0",
            ]
        )
        items = o.map("_xs", self.token("_xs"), o.tokens(s, self.lit(TOKENS)))
        done = o.fold("_xacc", "_xtok", self.step("_xacc", "_xtok"), items, init)
        cn, cv = (o.at(o.field("_xd", i), "1") for i in (2, 3))
        ok = f"NOT {o.field('_xd', len(FIELDS))} AND {o.length(o.field('_xd', 0))} = 1 AND {o.length(cn)} = 1"
        result = f"(CASE WHEN {ok} THEN concat('{{', {o.join(self.members(cn, cv))}, '}}') END)"
        body = o.map("_xd", result, f"[{done}]")
        return f"(CASE WHEN {o.bytes(s)} <= {MAX_BYTES} THEN {o.at(body, '1')} END)"


def _parse_xml(call: A.Call, scope: Scope) -> Typed:
    (xml,) = args(call, scope, 1)
    if xml.type != "string":
        raise KqlError("TypeMismatch", "parse_xml() expects a string", *call.args[0].pos)
    o = OPS.get(scope.ctx.dialect.name)
    if o is None:
        raise KqlError("UnsupportedFunction", f"parse_xml is not supported by {scope.ctx.dialect.name}")
    text = o.to_dynamic(_T(o).parse_xml(f"({slot(0)})"))
    return Typed(render(text, scope.ctx.dialect.sqlglot_dialect, xml.sql), "dynamic", xml.is_agg)


XML: dict[str, ScalarFn] = {"parse_xml": _parse_xml}
