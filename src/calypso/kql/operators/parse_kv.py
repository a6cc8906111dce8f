"""`parse-kv`: typed columns from `key<kv>value<pair>key<kv>value` text.

Invariant (Kusto semantics): `T | parse-kv Expr as (K1:type, K2:type) with (pair_delimiter=P,
kv_delimiter=V [, quote=Q] [, greedy=true])` appends one column per listed key, in order, holding
the value after the first `K V` at the start of the text or after a `P`; a value runs to the next
`P` (greedy: to the next `P key V` or the end), and a value opening with a quote character runs to
the matching quote. A key that is absent gives "" for string columns and null for other types;
a value that does not convert to its column's type gives null. Delimiters and keys reach the
engine only as escaped regex literals. The `regex=` form is not supported (clear KqlError).
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlglot import exp

from .. import ast as A
from ..binder import Context, Rel, alias
from ..dialects.base import lit
from ..errors import KqlError
from ..parse_ops import OPERATORS as PARSE_OPERATORS
from ..parse_ops import Parser
from ..planner import OPERATORS, all_of, wrap
from ..scalars import translate
from ..tokens import STRING

_SPECIAL = frozenset(".^$*+?()[]{}|\\-/")


@dataclass(frozen=True)
class ParseKvOp(A.Operator):
    source: A.Expr
    keys: tuple[tuple[str, str], ...]
    options: tuple[tuple[str, str], ...]


def _escape(text: str) -> str:
    """`text` as an RE2 literal (punctuation escaped, everything else as is)."""
    return "".join("\\" + c if c in _SPECIAL else c for c in text)


def parse_kv(p: Parser, src: A.Tabular, pos: A.Pos) -> A.Tabular:
    source = p.expr()
    p.expect_word("as")
    p.expect_op("(")
    keys: list[tuple[str, str]] = []
    while not p.at_op(")"):
        name = str(p.advance().value) if p.tok.kind == STRING else p.ident()
        ktype = "string"
        if p.accept_op(":"):
            ktype = p.type_name()
        keys.append((name, ktype))
        if not p.accept_op(","):
            break
    p.expect_op(")")
    options: list[tuple[str, str]] = []
    if p.accept_word("with"):
        p.expect_op("(")
        while not p.at_op(")"):
            key = p.ident().lower()
            p.expect_op("=")
            t = p.advance()
            options.append((key, str(t.value) if t.kind == STRING else str(t.text)))
            if not p.accept_op(","):
                break
        p.expect_op(")")
    if not keys:
        raise KqlError("SyntaxError", "parse-kv needs at least one key", *pos)
    return A.Pipe(pos, src, ParseKvOp(pos, source, tuple(keys), tuple(options)))


_KNOWN_OPTIONS = frozenset({"pair_delimiter", "kv_delimiter", "quote", "escape", "greedy"})


def _parse_kv(ctx: Context, rel: Rel, op: A.Operator) -> Rel:
    assert isinstance(op, ParseKvOp)
    opts = dict(op.options)
    if "regex" in opts:
        raise KqlError("UnsupportedOperator", "parse-kv with (regex=...) is not supported", *op.pos)
    unknown = set(opts) - _KNOWN_OPTIONS
    if unknown:
        raise KqlError("SyntaxError", f"parse-kv: unknown option(s) {sorted(unknown)}", *op.pos)
    pair, kv = opts.get("pair_delimiter", " "), opts.get("kv_delimiter", "=")
    if not pair or not kv:
        raise KqlError("SyntaxError", "parse-kv: pair_delimiter and kv_delimiter must not be empty", *op.pos)
    quotes = opts.get("quote", "")
    greedy = opts.get("greedy", "false").lower() == "true"
    q, scope = wrap(rel, ctx)
    value = translate(op.source, scope)
    text = value.sql if value.type == "string" else ctx.dialect.to_string(value.sql, value.type)
    d = ctx.dialect
    p, v = _escape(pair), _escape(kv)
    end = f"(?:{p}\\s*[^{_escape(kv[0])}{_escape(pair[0])}]+?\\s*{v}|$)" if greedy else f"(?:{p}|$)"
    taken = {n for n, _ in rel.columns}
    sel: list[exp.Expression] = [*all_of(scope.table)]
    cols = list(rel.columns)
    for key, ktype in op.keys:
        if key in taken:
            raise KqlError("TypeMismatch", f"parse-kv: column '{key}' already exists", *op.pos)
        taken.add(key)
        pre = f"(?:^|{p})\\s*{_escape(key)}\\s*{v}\\s*"
        out = d.regex_extract(text, lit(f"{pre}(.*?){end}"), 1)
        for qc in quotes:
            quoted = d.regex_extract(text, lit(f"{pre}{_escape(qc)}([^{_escape(qc)}]*){_escape(qc)}"), 1)
            out = exp.Case().when(d.regex_match(text, lit(pre + _escape(qc))), quoted).else_(out)
        typed = (
            out
            if ktype == "string"
            else d.try_cast(exp.Nullif(this=out, expression=lit("")), "string", ktype)
        )
        sel.append(alias(typed, key))
        cols.append((key, ktype))
    return Rel(q.select(*sel, copy=False), cols, rel.serialized)


PARSE_OPERATORS["parse-kv"] = parse_kv
OPERATORS[ParseKvOp] = _parse_kv
