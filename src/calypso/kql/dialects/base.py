"""The dialect interface: engine-specific SQL building blocks as sqlglot expressions.

Invariant: methods take and return sqlglot expressions built from values the compiler made; user
text only ever arrives as `exp.Literal` nodes, so it is escaped by sqlglot's generator.
Representation shared by all dialects: timespan = BIGINT ticks (100 ns), datetime = timestamp with
microseconds (UTC), dynamic = JSON text.
"""

from __future__ import annotations

from datetime import datetime
from functools import cache
from typing import ClassVar

from sqlglot import exp


@cache
def _parsed_type(to: str, dialect: str | None) -> exp.DataType:
    return exp.DataType.build(to, dialect=dialect)


def data_type(to: str | exp.DataType, dialect: str | None = None) -> exp.DataType:
    """The SQL type `to`, parsed once per process (a copy each time: trees are changed in place)."""
    return (to if isinstance(to, exp.DataType) else _parsed_type(to, dialect)).copy()


def cast(e: exp.Expression, to: str | exp.DataType, dialect: str | None = None) -> exp.Expression:
    """`CAST(e AS to)`: sqlglot's `exp.cast` without its deep copy of `e` and parse of `to` (~50 us)."""
    return exp.cast(e, data_type(to, dialect), copy=False, dialect=dialect)


_JOIN_ARGS = {
    "INNER": {"kind": "INNER"},
    "CROSS": {"kind": "CROSS"},
    "LEFT": {"side": "LEFT"},
    "RIGHT": {"side": "RIGHT"},
    "FULL": {"side": "FULL"},
}


def joined(
    q: exp.Select, source: exp.Expression, join_type: str, on: exp.Expression | None = None
) -> exp.Select:
    """`q` with `<join_type> JOIN source [ON on]` added, in place (sqlglot's `Select.join` parses
    a small SQL text for the join type on every call)."""
    join = exp.Join(this=source, **_JOIN_ARGS[join_type])
    if on is not None:
        join.set("on", on)
    q.append("joins", join)
    return q


def fn(name: str, *args: exp.Expression) -> exp.Expression:
    """A call of the engine function `name` (spelled exactly, for case-sensitive engines)."""
    return exp.Anonymous(this=name, expressions=list(args))


def lit(value: object) -> exp.Expression:
    if value is None:
        return exp.Null()
    if isinstance(value, bool):
        return exp.Boolean(this=value)
    if isinstance(value, int | float):
        if isinstance(value, float) and (value != value or value in (float("inf"), float("-inf"))):
            return cast(exp.Literal.string(str(value)), "DOUBLE")
        if value < 0:
            return exp.Neg(this=exp.Literal.number(-value))
        return exp.Literal.number(value)
    return exp.Literal.string(str(value))


class Dialect:
    name = "base"
    sqlglot_dialect = "duckdb"
    storage: ClassVar[dict[str, str]] = {}

    def storage_type(self, kusto_type: str) -> str:
        return self.storage[kusto_type]

    # datetimes --------------------------------------------------------------------------------
    def epoch_us(self, e: exp.Expression) -> exp.Expression:
        raise NotImplementedError

    def from_epoch_us(self, e: exp.Expression) -> exp.Expression:
        raise NotImplementedError

    def datetime_literal(self, value: datetime | None) -> exp.Expression:
        raise NotImplementedError

    def trunc(self, unit: str, e: exp.Expression) -> exp.Expression:
        raise NotImplementedError

    def date_part(self, part: str, e: exp.Expression) -> exp.Expression:
        raise NotImplementedError

    def add_months(self, e: exp.Expression, n: exp.Expression) -> exp.Expression:
        raise NotImplementedError

    def format_datetime_iso(self, e: exp.Expression) -> exp.Expression:
        raise NotImplementedError

    def parse_datetime(self, e: exp.Expression) -> exp.Expression:
        raise NotImplementedError

    # strings ----------------------------------------------------------------------------------
    def strpos(self, hay: exp.Expression, needle: exp.Expression, ci: bool) -> exp.Expression:
        raise NotImplementedError

    def regex_match(self, s: exp.Expression, pattern: exp.Expression) -> exp.Expression:
        raise NotImplementedError

    def regex_extract(self, s: exp.Expression, pattern: exp.Expression, group: int) -> exp.Expression:
        raise NotImplementedError

    def regex_extract_all(self, s: exp.Expression, pattern: exp.Expression, group: int = 0) -> exp.Expression:
        raise NotImplementedError

    def regex_extract_groups(
        self, s: exp.Expression, pattern: exp.Expression, groups: list[int]
    ) -> exp.Expression:
        """JSON array with one array per match: the given (1-based) groups' texts, in that order."""
        raise NotImplementedError

    def regex_replace(
        self, s: exp.Expression, pattern: exp.Expression, repl: exp.Expression
    ) -> exp.Expression:
        raise NotImplementedError

    def substring(
        self, s: exp.Expression, start0: exp.Expression, length: exp.Expression | None
    ) -> exp.Expression:
        raise NotImplementedError

    def split(self, s: exp.Expression, sep: exp.Expression) -> exp.Expression:
        raise NotImplementedError

    def str_length(self, s: exp.Expression) -> exp.Expression:
        raise NotImplementedError

    def replace(self, s: exp.Expression, old: exp.Expression, new: exp.Expression) -> exp.Expression:
        return fn("replace", s, old, new)

    def concat(self, *args: exp.Expression) -> exp.Expression:
        return fn("concat", *args)

    def reverse(self, s: exp.Expression) -> exp.Expression:
        return fn("reverse", s)

    def base64_encode(self, s: exp.Expression) -> exp.Expression:
        raise NotImplementedError

    def base64_decode(self, s: exp.Expression) -> exp.Expression:
        raise NotImplementedError

    def hash_md5(self, s: exp.Expression) -> exp.Expression:
        raise NotImplementedError

    def hash_sha256(self, s: exp.Expression) -> exp.Expression:
        raise NotImplementedError

    def url_decode(self, s: exp.Expression) -> exp.Expression:
        raise NotImplementedError

    def url_encode(self, s: exp.Expression) -> exp.Expression:
        raise NotImplementedError

    # conversions ------------------------------------------------------------------------------
    def try_cast(self, e: exp.Expression, from_type: str, to_type: str) -> exp.Expression:
        raise NotImplementedError

    def to_string(self, e: exp.Expression, kusto_type: str) -> exp.Expression:
        raise NotImplementedError

    # dynamic (JSON text) ----------------------------------------------------------------------
    def json_get(self, e: exp.Expression, path: list[exp.Expression]) -> exp.Expression:
        """Element of a JSON value along `path` (string keys, 0-based int indices), as JSON or NULL."""
        raise NotImplementedError

    def json_to_string(self, e: exp.Expression) -> exp.Expression:
        raise NotImplementedError

    def json_to_number(self, e: exp.Expression) -> exp.Expression:
        raise NotImplementedError

    def json_type(self, e: exp.Expression) -> exp.Expression:
        """Lower-case JSON kind: 'array', 'object', 'string', 'number', 'boolean', 'null'."""
        raise NotImplementedError

    def json_array_length(self, e: exp.Expression) -> exp.Expression:
        raise NotImplementedError

    def json_literal(self, text: str) -> exp.Expression:
        raise NotImplementedError

    def to_json(self, e: exp.Expression, kusto_type: str) -> exp.Expression:
        """A scalar of `kusto_type` as JSON text."""
        raise NotImplementedError

    def json_array(self, items: list[exp.Expression]) -> exp.Expression:
        """JSON array from items that are already JSON text."""
        raise NotImplementedError

    def json_object(self, pairs: list[tuple[exp.Expression, exp.Expression]]) -> exp.Expression:
        raise NotImplementedError

    def json_keys(self, e: exp.Expression) -> exp.Expression:
        raise NotImplementedError

    def json_array_concat(self, items: list[exp.Expression]) -> exp.Expression:
        raise NotImplementedError

    def json_unnest(self, e: exp.Expression) -> exp.Expression:
        """Set-returning expansion of a JSON array into its elements (as JSON), for mv-expand."""
        raise NotImplementedError

    def json_index_of(self, arr: exp.Expression, value: exp.Expression) -> exp.Expression:
        raise NotImplementedError

    def json_array_contains(self, arr: exp.Expression, value: exp.Expression) -> exp.Expression:
        raise NotImplementedError

    # aggregates -------------------------------------------------------------------------------
    def agg(self, name: str, args: list[exp.Expression]) -> exp.Expression:
        """Aggregates whose spelling differs: arg_max, arg_min, percentile, stdev, variance, any."""
        raise NotImplementedError

    def make_list(self, e: exp.Expression, kusto_type: str, distinct: bool) -> exp.Expression:
        raise NotImplementedError

    def count_if(self, cond: exp.Expression) -> exp.Expression:
        return exp.Sum(this=exp.If(this=cond, true=exp.Literal.number(1), false=exp.Literal.number(0)))

    def agg_if(self, name: str, e: exp.Expression, cond: exp.Expression) -> exp.Expression:
        return fn(name, exp.If(this=cond, true=e, false=exp.Null()))

    # math -------------------------------------------------------------------------------------
    def int_div(self, a: exp.Expression, b: exp.Expression) -> exp.Expression:
        raise NotImplementedError

    def floor_div(self, a: exp.Expression, b: exp.Expression) -> exp.Expression:
        """floor(a / b) for integers, as an integer."""
        raise NotImplementedError

    def rand(self) -> exp.Expression:
        raise NotImplementedError

    def sample_order(self) -> exp.Expression:
        return self.rand()

    # round 2 hooks (kql coverage) ---------------------------------------------------------------
    def to_hex(self, e: exp.Expression) -> exp.Expression:
        """Lower-case hexadecimal of a 64-bit integer (two's complement for negatives), no padding."""
        raise NotImplementedError("tohex")

    def json_array_slice(
        self, arr: exp.Expression, start: exp.Expression, end: exp.Expression
    ) -> exp.Expression:
        """Elements start..end (0-based, inclusive, negatives count from the end) as a JSON array."""
        raise NotImplementedError("array_slice")

    # round 5 hooks ------------------------------------------------------------------------------
    def session_start(
        self, value_us: exp.Expression, restart: exp.Expression, max_first_us: int, max_gap_us: int
    ) -> exp.Expression:
        """Window expression: µs of the current session's first row, in input order (row_window_session).

        A new session starts at the first row, when `restart` is true, or when the value is more
        than `max_first_us` after the session's first value or `max_gap_us` after the previous one.
        """
        raise NotImplementedError("row_window_session")

    def hash64(self, s: exp.Expression) -> exp.Expression:
        """A stable signed 64-bit hash of a string (`hash()`); xxHash64 where the engine has it."""
        raise NotImplementedError("hash")
