"""DuckDB dialect: Kusto types on DuckDB storage and DuckDB spellings of engine functions.

Invariant: datetime = TIMESTAMP (naive UTC, µs), timespan = BIGINT ticks, dynamic = JSON.
"""

from __future__ import annotations

from datetime import datetime
from typing import ClassVar

from sqlglot import exp

from .base import Dialect, cast, data_type, fn, lit

_JSON = data_type("JSON", dialect="duckdb")


class DuckDB(Dialect):
    name = "duckdb"
    sqlglot_dialect = "duckdb"
    storage: ClassVar[dict[str, str]] = {
        "string": "VARCHAR",
        "int": "INTEGER",
        "long": "BIGINT",
        "real": "DOUBLE",
        "bool": "BOOLEAN",
        "datetime": "TIMESTAMP",
        "timespan": "BIGINT",
        "guid": "VARCHAR",
        "decimal": "DOUBLE",
        "dynamic": "JSON",
    }
    _cast: ClassVar[dict[str, str]] = {
        "string": "VARCHAR",
        "int": "INTEGER",
        "long": "BIGINT",
        "real": "DOUBLE",
        "decimal": "DOUBLE",
        "bool": "BOOLEAN",
        "guid": "VARCHAR",
        "timespan": "BIGINT",
    }

    def epoch_us(self, e: exp.Expression) -> exp.Expression:
        return fn("epoch_us", e)

    def from_epoch_us(self, e: exp.Expression) -> exp.Expression:
        return fn("make_timestamp", cast(e, "BIGINT"))

    def datetime_literal(self, value: datetime | None) -> exp.Expression:
        if value is None:
            return cast(exp.Null(), "TIMESTAMP")
        return cast(exp.Literal.string(value.strftime("%Y-%m-%d %H:%M:%S.%f")), "TIMESTAMP")

    def trunc(self, unit: str, e: exp.Expression) -> exp.Expression:
        return cast(fn("date_trunc", exp.Literal.string(unit), e), "TIMESTAMP")

    def date_part(self, part: str, e: exp.Expression) -> exp.Expression:
        return fn("date_part", exp.Literal.string(part), e)

    def add_months(self, e: exp.Expression, n: exp.Expression) -> exp.Expression:
        return cast(exp.Add(this=e, expression=fn("to_months", cast(n, "INTEGER"))), "TIMESTAMP")

    def format_datetime_iso(self, e: exp.Expression) -> exp.Expression:
        return fn("strftime", e, exp.Literal.string("%Y-%m-%dT%H:%M:%S.%fZ"))

    def parse_datetime(self, e: exp.Expression) -> exp.Expression:
        s = fn("replace", fn("replace", cast(e, "VARCHAR"), lit("Z"), lit("")), lit("T"), lit(" "))
        return exp.TryCast(this=s, to=data_type("TIMESTAMP"))

    def strpos(self, hay: exp.Expression, needle: exp.Expression, ci: bool) -> exp.Expression:
        if ci:
            return fn("strpos", fn("lower", hay), fn("lower", needle))
        return fn("strpos", hay, needle)

    def regex_match(self, s: exp.Expression, pattern: exp.Expression) -> exp.Expression:
        return fn("regexp_matches", s, pattern)

    def regex_extract(self, s: exp.Expression, pattern: exp.Expression, group: int) -> exp.Expression:
        return fn("regexp_extract", s, pattern, lit(group))

    def regex_extract_all(self, s: exp.Expression, pattern: exp.Expression, group: int = 0) -> exp.Expression:
        return fn("to_json", fn("regexp_extract_all", s, pattern, lit(group)))

    def regex_extract_groups(
        self, s: exp.Expression, pattern: exp.Expression, groups: list[int]
    ) -> exp.Expression:
        # one list per group, bound once (as `_g`), then read across into one list per match
        per_group = exp.Array(expressions=[fn("regexp_extract_all", s, pattern, lit(g)) for g in groups])
        g, i = exp.column("_g"), exp.column("_i")
        row = exp.Array(
            expressions=[
                fn("list_extract", fn("list_extract", g, lit(k)), i) for k in range(1, len(groups) + 1)
            ]
        )
        matches = fn("len", fn("list_extract", g, lit(1)))
        zipped = fn(
            "list_transform",
            fn("range", lit(1), exp.Add(this=matches, expression=lit(1))),
            exp.Lambda(this=row, expressions=[exp.to_identifier("_i")]),
        )
        bound = fn(
            "list_transform",
            exp.Array(expressions=[per_group]),
            exp.Lambda(this=zipped, expressions=[exp.to_identifier("_g")]),
        )
        return fn("to_json", fn("list_extract", bound, lit(1)))

    def regex_replace(
        self, s: exp.Expression, pattern: exp.Expression, repl: exp.Expression
    ) -> exp.Expression:
        return fn("regexp_replace", s, pattern, repl, lit("g"))

    def substring(
        self, s: exp.Expression, start0: exp.Expression, length: exp.Expression | None
    ) -> exp.Expression:
        start = exp.Add(this=start0, expression=lit(1))
        return fn("substring", s, start) if length is None else fn("substring", s, start, length)

    def split(self, s: exp.Expression, sep: exp.Expression) -> exp.Expression:
        return fn("to_json", fn("string_split", s, sep))

    def str_length(self, s: exp.Expression) -> exp.Expression:
        return fn("length", s)

    def base64_encode(self, s: exp.Expression) -> exp.Expression:
        return fn("to_base64", fn("encode", s))

    def base64_decode(self, s: exp.Expression) -> exp.Expression:
        return fn("decode", fn("from_base64", s))

    def hash_md5(self, s: exp.Expression) -> exp.Expression:
        return fn("md5", s)

    def hash_sha256(self, s: exp.Expression) -> exp.Expression:
        return fn("sha256", s)

    def url_decode(self, s: exp.Expression) -> exp.Expression:
        return fn("url_decode", s)

    def url_encode(self, s: exp.Expression) -> exp.Expression:
        return fn("url_encode", s)

    def try_cast(self, e: exp.Expression, from_type: str, to_type: str) -> exp.Expression:
        if to_type == "datetime":
            if from_type == "datetime":
                return e
            return self.parse_datetime(e)
        if to_type in ("int", "long") and from_type in ("real", "decimal"):
            e = fn("trunc", e)
        if from_type == "dynamic":
            e = self.json_to_string(e)
        return exp.TryCast(this=e, to=data_type(self._cast[to_type]))

    def to_string(self, e: exp.Expression, kusto_type: str) -> exp.Expression:
        if kusto_type == "string":
            return e
        if kusto_type == "dynamic":
            return self.json_to_string(e)
        if kusto_type == "datetime":
            return self.format_datetime_iso(e)
        return cast(e, "VARCHAR")

    def _path(self, path: list[exp.Expression]) -> exp.Expression:
        parts: list[exp.Expression] = [lit("$")]
        for p in path:
            if isinstance(p, exp.Literal) and p.is_string:
                parts.append(lit("." + '"' + p.this.replace('"', '\\"') + '"'))
            elif isinstance(p, exp.Literal):
                parts.append(lit(f"[{p.this}]"))
            elif isinstance(p, exp.Neg) and isinstance(p.this, exp.Literal):
                parts.append(lit(f"[#-{p.this.this}]"))
            else:
                idx = cast(p, "BIGINT")
                parts.append(fn("concat", lit("["), cast(idx, "VARCHAR"), lit("]")))
        if all(isinstance(p, exp.Literal) for p in parts):
            return lit("".join(str(p.this) for p in parts))
        return fn("concat", *parts)

    def json_get(self, e: exp.Expression, path: list[exp.Expression]) -> exp.Expression:
        return fn("json_extract", cast(e, _JSON), self._path(path))

    def json_to_string(self, e: exp.Expression) -> exp.Expression:
        return fn("json_extract_string", cast(e, _JSON), lit("$"))

    def json_to_number(self, e: exp.Expression) -> exp.Expression:
        return exp.TryCast(this=self.json_to_string(e), to=data_type("DOUBLE"))

    def json_type(self, e: exp.Expression) -> exp.Expression:
        return fn("lower", fn("json_type", cast(e, _JSON)))

    def json_array_length(self, e: exp.Expression) -> exp.Expression:
        j = cast(e, _JSON)
        return exp.If(
            this=exp.EQ(this=fn("json_type", j), expression=lit("ARRAY")),
            true=fn("json_array_length", j),
            false=exp.Null(),
        )

    def json_literal(self, text: str) -> exp.Expression:
        return cast(exp.Literal.string(text), _JSON)

    def to_json(self, e: exp.Expression, kusto_type: str) -> exp.Expression:
        if kusto_type == "dynamic":
            return cast(e, _JSON)
        if kusto_type == "datetime":
            e = self.format_datetime_iso(e)
        return fn("to_json", e)

    def json_array(self, items: list[exp.Expression]) -> exp.Expression:
        return fn("json_array", *items)

    def json_object(self, pairs: list[tuple[exp.Expression, exp.Expression]]) -> exp.Expression:
        return fn("json_object", *[x for kv in pairs for x in kv])

    def json_keys(self, e: exp.Expression) -> exp.Expression:
        return fn("to_json", fn("json_keys", cast(e, _JSON)))

    def _elements(self, e: exp.Expression) -> exp.Expression:
        return fn("json_extract", cast(e, _JSON), lit("$[*]"))

    def json_array_concat(self, items: list[exp.Expression]) -> exp.Expression:
        return fn("to_json", fn("flatten", fn("list_value", *[self._elements(i) for i in items])))

    def json_unnest(self, e: exp.Expression) -> exp.Expression:
        return fn("unnest", self._elements(e))

    def json_index_of(self, arr: exp.Expression, value: exp.Expression) -> exp.Expression:
        pos = fn("list_position", self._elements(arr), value)
        return exp.Sub(this=fn("coalesce", pos, lit(0)), expression=lit(1))

    def json_array_contains(self, arr: exp.Expression, value: exp.Expression) -> exp.Expression:
        strings = fn("json_extract_string", cast(arr, _JSON), lit("$[*]"))
        return fn("list_contains", strings, cast(value, "VARCHAR"))

    _aggs: ClassVar[dict[str, str]] = {
        "arg_max": "arg_max",
        "arg_min": "arg_min",
        "stdev": "stddev_samp",
        "stdevp": "stddev_pop",
        "variance": "var_samp",
        "variancep": "var_pop",
        "any": "any_value",
    }

    def agg(self, name: str, args: list[exp.Expression]) -> exp.Expression:
        if name == "percentile":
            return fn("quantile_disc", args[0], args[1])
        return fn(self._aggs[name], *args)

    def make_list(self, e: exp.Expression, kusto_type: str, distinct: bool) -> exp.Expression:
        inner: exp.Expression = exp.Distinct(expressions=[e]) if distinct else e
        agg = exp.Filter(
            this=fn("list", inner),
            expression=exp.Where(this=exp.Not(this=exp.Is(this=e, expression=exp.Null()))),
        )
        return fn("coalesce", fn("to_json", agg), self.json_literal("[]"))

    def int_div(self, a: exp.Expression, b: exp.Expression) -> exp.Expression:
        return cast(fn("trunc", exp.Div(this=a, expression=b)), "BIGINT")

    def floor_div(self, a: exp.Expression, b: exp.Expression) -> exp.Expression:
        return cast(fn("floor", exp.Div(this=a, expression=b)), "BIGINT")

    def rand(self) -> exp.Expression:
        return fn("random")

    def to_hex(self, e: exp.Expression) -> exp.Expression:
        return fn("lower", fn("hex", cast(e, "BIGINT")))

    def json_array_slice(
        self, arr: exp.Expression, start: exp.Expression, end: exp.Expression
    ) -> exp.Expression:
        def one_based(i: exp.Expression) -> exp.Expression:
            ge0 = exp.GTE(this=i, expression=lit(0))
            return exp.If(this=ge0, true=exp.Add(this=i, expression=lit(1)), false=i)

        items = cast(cast(arr, _JSON), "JSON[]")
        return fn("to_json", fn("list_slice", items, one_based(start), one_based(end)))

    def session_start(
        self, value_us: exp.Expression, restart: exp.Expression, max_first_us: int, max_gap_us: int
    ) -> exp.Expression:
        row = exp.Struct(
            expressions=[
                exp.PropertyEQ(this=exp.to_identifier("s"), expression=value_us),
                exp.PropertyEQ(this=exp.to_identifier("p"), expression=value_us),
                exp.PropertyEQ(this=exp.to_identifier("r"), expression=fn("coalesce", restart, lit(False))),
            ]
        )
        frame = exp.WindowSpec(kind="ROWS", start="UNBOUNDED", start_side="PRECEDING", end="CURRENT ROW")
        rows = exp.Window(this=fn("list", row), spec=frame)
        a, x = exp.column("__acc"), exp.column("__row")

        def field(e: exp.Expression, name: str) -> exp.Expression:
            return exp.Dot(this=e.copy(), expression=exp.to_identifier(name))

        new: exp.Expression = _any_of(
            field(x, "r"),
            exp.GT(this=exp.Sub(this=field(x, "p"), expression=field(a, "s")), expression=lit(max_first_us)),
            exp.GT(this=exp.Sub(this=field(x, "p"), expression=field(a, "p")), expression=lit(max_gap_us)),
        )
        keep = exp.Struct(
            expressions=[
                exp.PropertyEQ(this=exp.to_identifier("s"), expression=field(a, "s")),
                exp.PropertyEQ(this=exp.to_identifier("p"), expression=field(x, "p")),
                exp.PropertyEQ(this=exp.to_identifier("r"), expression=field(x, "r")),
            ]
        )
        step = exp.Lambda(
            this=exp.If(this=fn("coalesce", new, lit(False)), true=x, false=keep),
            expressions=[exp.to_identifier("__acc"), exp.to_identifier("__row")],
        )
        return field(fn("list_reduce", rows, step), "s")

    def hash64(self, s: exp.Expression) -> exp.Expression:
        # DuckDB has no xxHash64: its own 64-bit hash, high bit cleared (stable, not Azure's value)
        return cast(exp.BitwiseAnd(this=fn("hash", s), expression=lit(0x7FFFFFFFFFFFFFFF)), "BIGINT")


def _any_of(*conds: exp.Expression) -> exp.Expression:
    out = conds[0]
    for c in conds[1:]:
        out = exp.Or(this=out, expression=c)
    return out
