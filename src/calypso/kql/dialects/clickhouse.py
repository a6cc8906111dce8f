"""ClickHouse dialect: Kusto types on ClickHouse storage and ClickHouse spellings of functions.

Invariant: datetime = DateTime64(6,'UTC'), timespan = Int64 ticks, dynamic = String JSON text.
Queries must run with `ClickHouse.QUERY_SETTINGS` (append `ClickHouse.settings_clause()`):
`join_use_nulls = 1` gives outer joins Kusto's nulls, and `query_plan_merge_expressions = 0` stops the
planner from merging the compiler's one-SELECT-per-operator layers into one expression, which grows
exponentially when a column is redefined from itself many times (`extend a = iff(c, f(a), a)` x 14
took > 19 GB). `query_plan_enable_multithreading_after_window_functions = 0` keeps one stream after
a window step, so the next `prev()`/`next()`/`row_window_session` layer reads the rows in the
serialized order (otherwise ClickHouse re-splits the stream and merges it back in any order).
"""

from __future__ import annotations

from datetime import datetime
from typing import ClassVar

from sqlglot import exp

from .base import Dialect, fn, lit


def _not_empty(e: exp.Expression) -> exp.Expression:
    return fn("nullIf", e, lit(""))


class ClickHouse(Dialect):
    name = "clickhouse"
    sqlglot_dialect = "clickhouse"
    storage: ClassVar[dict[str, str]] = {
        "string": "Nullable(String)",
        "int": "Nullable(Int32)",
        "long": "Nullable(Int64)",
        "real": "Nullable(Float64)",
        "bool": "Nullable(Bool)",
        "datetime": "Nullable(DateTime64(6, 'UTC'))",
        "timespan": "Nullable(Int64)",
        "guid": "Nullable(String)",
        "decimal": "Nullable(Float64)",
        "dynamic": "Nullable(String)",
    }
    QUERY_SETTINGS: ClassVar[dict[str, str]] = {
        "join_use_nulls": "1",
        "query_plan_merge_expressions": "0",
        "output_format_json_quote_64bit_integers": "0",
        "query_plan_enable_multithreading_after_window_functions": "0",
    }

    @classmethod
    def settings_clause(cls) -> str:
        """`SETTINGS ...` to append to every compiled query (our constants, no user text)."""
        return "SETTINGS " + ", ".join(f"{k} = {v}" for k, v in cls.QUERY_SETTINGS.items())

    _cast: ClassVar[dict[str, str]] = {
        "int": "Int32",
        "long": "Int64",
        "real": "Float64",
        "decimal": "Float64",
        "timespan": "Int64",
    }

    def epoch_us(self, e: exp.Expression) -> exp.Expression:
        return fn("toUnixTimestamp64Micro", e)

    def from_epoch_us(self, e: exp.Expression) -> exp.Expression:
        return fn("fromUnixTimestamp64Micro", fn("toInt64", e), lit("UTC"))

    def datetime_literal(self, value: datetime | None) -> exp.Expression:
        if value is None:
            return fn("CAST", exp.Null(), lit("Nullable(DateTime64(6, 'UTC'))"))
        return fn("toDateTime64", lit(value.strftime("%Y-%m-%d %H:%M:%S.%f")), lit(6), lit("UTC"))

    _trunc: ClassVar[dict[str, str]] = {
        "month": "toStartOfMonth",
        "year": "toStartOfYear",
        "quarter": "toStartOfQuarter",
    }

    def trunc(self, unit: str, e: exp.Expression) -> exp.Expression:
        return fn("toDateTime64", fn(self._trunc[unit], e), lit(6), lit("UTC"))

    _parts: ClassVar[dict[str, str]] = {
        "year": "toYear",
        "month": "toMonth",
        "day": "toDayOfMonth",
        "hour": "toHour",
        "minute": "toMinute",
        "second": "toSecond",
        "doy": "toDayOfYear",
        "quarter": "toQuarter",
        "week": "toISOWeek",
    }

    def date_part(self, part: str, e: exp.Expression) -> exp.Expression:
        return fn(self._parts[part], e)

    def add_months(self, e: exp.Expression, n: exp.Expression) -> exp.Expression:
        return fn("addMonths", e, fn("toInt32", n))

    def format_datetime_iso(self, e: exp.Expression) -> exp.Expression:
        return fn("formatDateTime", e, lit("%Y-%m-%dT%H:%i:%S.%fZ"))

    def parse_datetime(self, e: exp.Expression) -> exp.Expression:
        return fn("parseDateTime64BestEffortOrNull", fn("toString", e), lit(6), lit("UTC"))

    def strpos(self, hay: exp.Expression, needle: exp.Expression, ci: bool) -> exp.Expression:
        return fn("positionCaseInsensitiveUTF8" if ci else "position", hay, needle)

    def regex_match(self, s: exp.Expression, pattern: exp.Expression) -> exp.Expression:
        return fn("match", s, pattern)

    def regex_extract(self, s: exp.Expression, pattern: exp.Expression, group: int) -> exp.Expression:
        return fn("regexpExtract", s, pattern, lit(group))

    def regex_extract_all(self, s: exp.Expression, pattern: exp.Expression, group: int = 0) -> exp.Expression:
        return fn("toJSONString", fn("extractAll", s, pattern))

    def regex_extract_groups(
        self, s: exp.Expression, pattern: exp.Expression, groups: list[int]
    ) -> exp.Expression:
        match = exp.to_identifier("_m")
        picked = exp.Array(expressions=[fn("arrayElement", exp.column("_m"), lit(g)) for g in groups])
        pick = exp.Lambda(this=picked, expressions=[match])
        return fn("toJSONString", fn("arrayMap", pick, fn("extractAllGroupsVertical", s, pattern)))

    def regex_replace(
        self, s: exp.Expression, pattern: exp.Expression, repl: exp.Expression
    ) -> exp.Expression:
        return fn("replaceRegexpAll", s, pattern, repl)

    def substring(
        self, s: exp.Expression, start0: exp.Expression, length: exp.Expression | None
    ) -> exp.Expression:
        start = exp.Add(this=start0, expression=lit(1))
        return fn("substringUTF8", s, start) if length is None else fn("substringUTF8", s, start, length)

    def split(self, s: exp.Expression, sep: exp.Expression) -> exp.Expression:
        return fn("toJSONString", fn("splitByString", sep, s))

    def str_length(self, s: exp.Expression) -> exp.Expression:
        return fn("lengthUTF8", s)

    def replace(self, s: exp.Expression, old: exp.Expression, new: exp.Expression) -> exp.Expression:
        return fn("replaceAll", s, old, new)

    def reverse(self, s: exp.Expression) -> exp.Expression:
        return fn("reverseUTF8", s)

    def base64_encode(self, s: exp.Expression) -> exp.Expression:
        return fn("base64Encode", s)

    def base64_decode(self, s: exp.Expression) -> exp.Expression:
        return fn("tryBase64Decode", s)

    def hash_md5(self, s: exp.Expression) -> exp.Expression:
        return fn("lower", fn("hex", fn("MD5", s)))

    def hash_sha256(self, s: exp.Expression) -> exp.Expression:
        return fn("lower", fn("hex", fn("SHA256", s)))

    def url_decode(self, s: exp.Expression) -> exp.Expression:
        return fn("decodeURLComponent", s)

    def url_encode(self, s: exp.Expression) -> exp.Expression:
        return fn("encodeURLComponent", s)

    def try_cast(self, e: exp.Expression, from_type: str, to_type: str) -> exp.Expression:
        if from_type == "dynamic":
            e, from_type = self.json_to_string(e), "string"
        if to_type == "datetime":
            return e if from_type == "datetime" else self.parse_datetime(e)
        if to_type in ("string", "guid"):
            return self.to_string(e, from_type)
        if to_type == "bool":
            low = fn("lower", fn("toString", e))
            return exp.Case(
                ifs=[
                    exp.If(this=exp.In(this=low, expressions=[lit("true"), lit("1")]), true=exp.true()),
                    exp.If(this=exp.In(this=low, expressions=[lit("false"), lit("0")]), true=exp.false()),
                ]
            )
        if from_type == "string":
            return fn(f"to{self._cast[to_type]}OrNull", e)
        if from_type == "bool":
            e = fn("toUInt8", e)
        if to_type in ("int", "long") and from_type in ("real", "decimal"):
            e = fn("trunc", e)  # Kusto truncates toward zero; accurateCastOrNull rejects fractions
        return fn("accurateCastOrNull", e, lit(self._cast[to_type]))

    def to_string(self, e: exp.Expression, kusto_type: str) -> exp.Expression:
        if kusto_type in ("string", "guid"):
            return e
        if kusto_type == "dynamic":
            return self.json_to_string(e)
        if kusto_type == "datetime":
            return self.format_datetime_iso(e)
        return fn("toString", e)

    def json_get(self, e: exp.Expression, path: list[exp.Expression]) -> exp.Expression:
        args: list[exp.Expression] = []
        for p in path:
            if isinstance(p, exp.Literal) and p.is_string:
                args.append(p)
            elif isinstance(p, exp.Literal):
                args.append(lit(int(p.this) + 1))
            elif isinstance(p, exp.Neg):
                args.append(p)
            else:
                i = fn("toInt64", p)
                args.append(
                    exp.If(
                        this=exp.GTE(this=i, expression=lit(0)),
                        true=exp.Add(this=i, expression=lit(1)),
                        false=i,
                    )
                )
        return _not_empty(fn("JSONExtractRaw", fn("ifNull", e, lit("null")), *args))

    def json_to_string(self, e: exp.Expression) -> exp.Expression:
        if not isinstance(e, exp.Column | exp.Literal):  # read 3 times: bound once, as `_js`
            return _bound("_js", e, self.json_to_string(exp.column("_js")))
        is_str = exp.EQ(
            this=fn("toString", fn("JSONType", fn("ifNull", e, lit("null")))), expression=lit("String")
        )
        return exp.If(this=is_str, true=fn("JSONExtractString", e), false=e)

    def json_to_number(self, e: exp.Expression) -> exp.Expression:
        return fn("toFloat64OrNull", self.json_to_string(e))

    def json_type(self, e: exp.Expression) -> exp.Expression:
        return fn("lower", fn("toString", fn("JSONType", fn("ifNull", e, lit("null")))))

    def json_array_length(self, e: exp.Expression) -> exp.Expression:
        is_arr = exp.EQ(
            this=fn("toString", fn("JSONType", fn("ifNull", e, lit("null")))), expression=lit("Array")
        )
        return exp.If(this=is_arr, true=fn("toInt64", fn("JSONLength", e)), false=exp.Null())

    def json_literal(self, text: str) -> exp.Expression:
        return exp.Literal.string(text)

    def to_json(self, e: exp.Expression, kusto_type: str) -> exp.Expression:
        if kusto_type == "dynamic":
            return fn("ifNull", e, lit("null"))
        if kusto_type == "datetime":
            e = self.format_datetime_iso(e)
        return fn("toJSONString", e)

    def _wrap(self, items: exp.Expression, open_: str = "[", close: str = "]") -> exp.Expression:
        return fn("concat", lit(open_), fn("arrayStringConcat", items, lit(",")), lit(close))

    def json_array(self, items: list[exp.Expression]) -> exp.Expression:
        return self._wrap(exp.Array(expressions=[fn("ifNull", i, lit("null")) for i in items]))

    def json_object(self, pairs: list[tuple[exp.Expression, exp.Expression]]) -> exp.Expression:
        parts = [
            fn("concat", fn("toJSONString", k), lit(":"), fn("ifNull", v, lit("null"))) for k, v in pairs
        ]
        return self._wrap(exp.Array(expressions=parts) if parts else fn("emptyArrayString"), "{", "}")

    def json_keys(self, e: exp.Expression) -> exp.Expression:
        return fn("toJSONString", fn("JSONExtractKeys", fn("ifNull", e, lit("{}"))))

    def _elements(self, e: exp.Expression) -> exp.Expression:
        return fn("JSONExtractArrayRaw", fn("ifNull", e, lit("[]")))

    def json_array_concat(self, items: list[exp.Expression]) -> exp.Expression:
        return self._wrap(fn("arrayConcat", *[self._elements(i) for i in items]))

    def json_unnest(self, e: exp.Expression) -> exp.Expression:
        return fn("arrayJoin", self._elements(e))

    def json_index_of(self, arr: exp.Expression, value: exp.Expression) -> exp.Expression:
        return exp.Sub(this=fn("indexOf", self._elements(arr), value), expression=lit(1))

    def json_array_contains(self, arr: exp.Expression, value: exp.Expression) -> exp.Expression:
        return fn("has", self._elements(arr), fn("toJSONString", value))

    _aggs: ClassVar[dict[str, str]] = {
        "arg_max": "argMax",
        "arg_min": "argMin",
        "stdev": "stddevSamp",
        "stdevp": "stddevPop",
        "variance": "varSamp",
        "variancep": "varPop",
        "any": "any",
    }

    def agg(self, name: str, args: list[exp.Expression]) -> exp.Expression:
        if name == "percentile":
            return self._nearest_rank(args[0], args[1])
        return fn(self._aggs[name], *args)

    def _nearest_rank(self, e: exp.Expression, p: exp.Expression) -> exp.Expression:
        """Kusto's nearest-rank percentile: the sorted non-null input at rank ceil(p * N), or null."""
        n = exp.Count(this=e)
        rank = fn("ceil", fn("round", exp.Mul(this=p, expression=n), lit(9)))
        pick = fn(
            "arrayElement", fn("arraySort", fn("groupArray", e)), fn("toUInt64", fn("greatest", rank, lit(1)))
        )
        return exp.If(this=exp.EQ(this=n, expression=lit(0)), true=exp.Null(), false=pick)

    def make_list(self, e: exp.Expression, kusto_type: str, distinct: bool) -> exp.Expression:
        return self._wrap(fn("groupUniqArray" if distinct else "groupArray", self.to_json(e, kusto_type)))

    def count_if(self, cond: exp.Expression) -> exp.Expression:
        return fn("countIf", cond)

    def int_div(self, a: exp.Expression, b: exp.Expression) -> exp.Expression:
        return fn("intDiv", a, b)

    def floor_div(self, a: exp.Expression, b: exp.Expression) -> exp.Expression:
        return fn("toInt64", fn("floor", exp.Div(this=a, expression=b)))

    def rand(self) -> exp.Expression:
        return fn("rand")

    def to_hex(self, e: exp.Expression) -> exp.Expression:
        # hex() prints whole bytes: strip leading zero nibbles but keep one digit ("0100" -> "100")
        digits = fn("lower", fn("hex", fn("toUInt64", fn("toInt64", e))))
        return fn("replaceRegexpOne", digits, lit("^0+(.)"), lit("\\1"))

    def json_array_slice(
        self, arr: exp.Expression, start: exp.Expression, end: exp.Expression
    ) -> exp.Expression:
        # the elements bound once (`arrayMap(_sl -> ..., [items])[1]`): the bounds read their count
        # four times, and a sliced array is often itself a long expression (a split, another slice)
        items = exp.column("_sl")
        n = fn("toInt64", fn("length", items.copy()))

        def absolute(i: exp.Expression) -> exp.Expression:
            i = fn("toInt64", i)
            neg = exp.LT(this=i, expression=lit(0))
            return exp.If(this=neg, true=exp.Add(this=i.copy(), expression=n.copy()), false=i.copy())

        lo = fn("greatest", absolute(start), lit(0))
        hi = fn("least", absolute(end), exp.Sub(this=n.copy(), expression=lit(1)))
        count = fn(
            "greatest", exp.Add(this=exp.Sub(this=hi, expression=lo.copy()), expression=lit(1)), lit(0)
        )
        sliced = fn("arraySlice", items, exp.Add(this=lo, expression=lit(1)), count)
        return self._wrap(_bound("_sl", self._elements(arr), sliced))

    def session_start(
        self, value_us: exp.Expression, restart: exp.Expression, max_first_us: int, max_gap_us: int
    ) -> exp.Expression:
        row = fn("tuple", value_us, value_us, fn("toUInt8", fn("coalesce", restart, lit(False))))
        frame = exp.WindowSpec(kind="ROWS", start="UNBOUNDED", start_side="PRECEDING", end="CURRENT ROW")
        rows = exp.Window(this=fn("groupArray", row), spec=frame)
        a, x = exp.column("acc"), exp.column("x")

        def part(e: exp.Expression, i: int) -> exp.Expression:
            return fn("tupleElement", e.copy(), lit(i))

        new: exp.Expression = _any_of(
            exp.EQ(this=part(x, 3), expression=lit(1)),
            exp.GT(this=exp.Sub(this=part(x, 2), expression=part(a, 1)), expression=lit(max_first_us)),
            exp.GT(this=exp.Sub(this=part(x, 2), expression=part(a, 2)), expression=lit(max_gap_us)),
        )
        keep = fn("tuple", part(a, 1), part(x, 2), part(x, 3))
        step = exp.Lambda(
            this=fn("if", fn("coalesce", new, lit(False)), x, keep),
            expressions=[exp.to_identifier("acc"), exp.to_identifier("x")],
        )
        return part(fn("arrayFold", step, rows, fn("arrayElement", rows.copy(), lit(1))), 1)

    def hash64(self, s: exp.Expression) -> exp.Expression:
        return fn("toInt64", fn("xxHash64", s))


def _bound(var: str, value: exp.Expression, body: exp.Expression) -> exp.Expression:
    """`body` with the lambda variable `var` bound to `value`, evaluated once: `arrayMap(var -> body, [value])[1]`."""
    lam = exp.Lambda(this=body, expressions=[exp.to_identifier(var)])
    return fn("arrayElement", fn("arrayMap", lam, exp.Array(expressions=[value])), lit(1))


def _any_of(*conds: exp.Expression) -> exp.Expression:
    out = conds[0]
    for c in conds[1:]:
        out = exp.Or(this=out, expression=c)
    return out
