"""Kusto's names for unnamed output columns (`strlen_Computer`, `count_`, `percentile_X_50`, ...).

Invariant: a name is derived only from the expression's syntax, through one table of per-function
rules (`RESULT_NAMES`, the `ResultNameKind`/`ResultNamePrefix` of Microsoft's own function symbols,
Kusto.Language) — never from the SQL built for it. `expr_name` returns None where Kusto falls back
to `ColumnN` (or `print_N` in `print`); the callers number those.

Rules (checked against the language service):
- a column reference is its own name; `a.b` is `a_b`; `a[0]`/`a['x']` are `a_0`/`a_x` (`a_` for
  a computed index);
- a function call follows its kind: FIRST (`tostring(X)`, `bin(X, 1h)`, `startofday(X)` -> `X`),
  NAME (`strlen(X)` -> `strlen_X`, `strlen('a')` -> `strlen_`), PREFIX (`gettype(X)` -> `type_X`),
  PREFIX_ONLY (a fixed name), IF_COLUMN (`column_ifexists('X', d)` -> `X`); any other function,
  a literal or an operator expression has no name;
- aggregates are PREFIX (`count()` -> `count_`, `make_list(X)` -> `list_X`), except `take_any(X)`
  (`X`), `percentile(X, 50)` (`percentile_X_50`), `percentiles_array(X, ...)` (`percentiles_X`).
"""

from __future__ import annotations

from collections.abc import Callable

from . import ast as A

FIRST, NAME, PREFIX, PREFIX_ONLY, IF_COLUMN, ONLY = "first", "name", "prefix", "prefix_only", "if_col", "only"

_FIRST_ARGUMENT = [
    "split",
    "tostring",
    "tohex",
    "todynamic",
    "toobject",
    "tolong",
    "toint",
    "toreal",
    "todouble",
    "todatetime",
    "totimespan",
    "totime",
    "tobool",
    "toboolean",
    "todecimal",
    "toguid",
    "parse_csv",
    "parsejson",
    "parse_json",
    "parse_xml",
    "format_datetime",
    "format_timespan",
    "startofday",
    "bin",
    "floor",
    "bin_at",
    "bin_auto",
    "binary_and",
    "binary_or",
    "binary_xor",
    "binary_not",
    "binary_shift_right",
    "binary_shift_left",
    "bitset_count_ones",
    "__hll_normalize",
    "series_fir",
    "series_outliers",
    "series_iir",
    "series_fill_backward",
    "series_fill_forward",
    "series_fill_const",
    "series_fill_linear",
    "round",
    "ceiling",
    "pow",
    "sqrt",
    "log",
    "log2",
    "log10",
    "exp",
    "exp2",
    "exp10",
    "cos",
    "sin",
    "tan",
    "acos",
    "asin",
    "atan",
    "atan2",
    "abs",
    "rand",
    "gamma",
    "loggamma",
    "erf",
    "erfc",
    "format_bytes",
]

# Scalar functions: name -> (kind, prefix). Functions not listed give no name (`ColumnN`).
RESULT_NAMES: dict[str, tuple[str, str]] = {
    **{f: (FIRST, "") for f in _FIRST_ARGUMENT},
    "strlen": (NAME, "strlen"),
    "string_size": (NAME, "string_size"),
    "percentile_tdigest": (NAME, "percentile_tdigest"),
    "dcount_hll": (NAME, "dcount_hll"),
    "gettype": (PREFIX, "type"),
    "treepath": (PREFIX, "tree"),
    "repeat": (PREFIX, "repeat"),
    "percentiles_array_tdigest": (PREFIX, "percentile_tdigest"),
    "tdigest_merge": (PREFIX_ONLY, "tdigests_merge_result"),
    "merge_tdigest": (PREFIX_ONLY, "tdigests_merge_result"),
    "hll_merge": (PREFIX_ONLY, "hll_merged_result"),
    "ingestion_time": (PREFIX_ONLY, "$IngestionTime"),
    "columnifexists": (IF_COLUMN, ""),
    "column_ifexists": (IF_COLUMN, ""),
    "make_datetime": (ONLY, ""),
    "make_timespan": (ONLY, ""),
}

_AGG_PREFIX = [
    "sum",
    "sumif",
    "cnt",
    "count",
    "countif",
    "dcount",
    "dcountif",
    "tdigest",
    "hll",
    "hll_if",
    "hll_merge",
    "min",
    "minif",
    "max",
    "maxif",
    "avg",
    "avgif",
    "make_dictionary",
    "stdev",
    "stdevif",
    "stdevp",
    "variance",
    "varianceif",
    "variancep",
    "variancepif",
    "covariance",
    "covarianceif",
    "covariancep",
    "covariancepif",
    "any",
    "anyif",
    "count_distinct",
    "count_distinctif",
]

# Aggregates: name -> (kind, prefix); the percentile family and arg_max/arg_min are handled apart.
AGG_NAMES: dict[str, tuple[str, str]] = {
    **{f: (PREFIX, f) for f in _AGG_PREFIX},
    "tdigest_merge": (PREFIX, "merge_tdigests"),
    "merge_tdigest": (PREFIX, "merge_tdigests"),
    "makelist": (PREFIX, "list"),
    "make_list": (PREFIX, "list"),
    "make_list_if": (PREFIX, "list"),
    "make_list_with_nulls": (PREFIX, "list"),
    "makeset": (PREFIX, "set"),
    "make_set": (PREFIX, "set"),
    "make_set_if": (PREFIX, "set"),
    "make_bag": (PREFIX, "bag"),
    "make_bag_if": (PREFIX, "bag"),
    "buildschema": (PREFIX, "schema"),
    "take_any": (FIRST, ""),
    "take_anyif": (FIRST, ""),
    "passthrough": (FIRST, ""),
    "binary_all_or": (FIRST, ""),
    "binary_all_and": (FIRST, ""),
    "binary_all_xor": (FIRST, ""),
}


def _index_name(e: A.Expr) -> str:
    if isinstance(e, A.Literal) and isinstance(e.value, str | int) and not isinstance(e.value, bool):
        return str(e.value)
    return ""


def _call_name(
    e: A.Call, table: dict[str, tuple[str, str]], arg_name: Callable[[A.Expr], str | None] | None = None
) -> str | None:
    rule = table.get(e.name)
    if rule is None:
        return None
    kind, prefix = rule
    first = (arg_name or expr_name)(e.args[0]) if e.args else None
    return _KINDS[kind](e, prefix, first)


def _kind_first(e: A.Call, prefix: str, first: str | None) -> str | None:
    return first


def _kind_only(e: A.Call, prefix: str, first: str | None) -> str | None:
    return first if len(e.args) == 1 else None


def _kind_name(e: A.Call, prefix: str, first: str | None) -> str | None:
    return f"{prefix}_{first or ''}"


def _kind_prefix_only(e: A.Call, prefix: str, first: str | None) -> str | None:
    return prefix


def _kind_if_column(e: A.Call, prefix: str, first: str | None) -> str | None:
    a = e.args[0] if e.args else None
    return a.value if isinstance(a, A.Literal) and isinstance(a.value, str) and a.value else None


_KINDS: dict[str, Callable[[A.Call, str, str | None], str | None]] = {
    FIRST: _kind_first,
    ONLY: _kind_only,
    NAME: _kind_name,
    PREFIX: _kind_name,
    PREFIX_ONLY: _kind_prefix_only,
    IF_COLUMN: _kind_if_column,
}


def expr_name(e: A.Expr) -> str | None:
    """The column name Kusto gives an unnamed scalar expression, or None for `ColumnN`."""
    if isinstance(e, A.Name):
        return e.name
    if isinstance(e, A.Member):
        base = expr_name(e.target)
        return f"{base}_{e.name}" if base else None
    if isinstance(e, A.Index):
        base = expr_name(e.target)
        return f"{base}_{_index_name(e.index)}" if base else None
    if isinstance(e, A.Call):
        return _call_name(e, RESULT_NAMES)
    return None


def _percent_text(e: A.Expr) -> str:
    v = e.value if isinstance(e, A.Literal) else None
    if isinstance(v, float) and v.is_integer():
        v = int(v)
    return str(v).replace(".", "_").replace("-", "_") if isinstance(v, int | float) else ""


def percentile_names(e: A.Call) -> list[str]:
    """`percentile(X, 50)` -> [`percentile_X_50`]; `percentiles(X, 5, 95)` -> one name per value."""
    base = expr_name(e.args[0]) if e.args else None
    values = e.args[2:] if e.name in ("percentilew", "percentilesw") else e.args[1:]
    return [f"percentile_{base or ''}_{_percent_text(v)}" for v in values]


def _summarize_name(e: A.Expr) -> str | None:
    """Inside summarize an aggregate argument is named as an aggregate (`dcount_hll(hll(X))` ->
    `dcount_hll_hll_X`, `tostring(count())` -> `count_`)."""
    if not isinstance(e, A.Call):
        return expr_name(e)
    if e.name in AGG_NAMES or e.name in _PERCENTILE_AGGS:
        return agg_name(e)
    return _call_name(e, RESULT_NAMES, _summarize_name)


_PERCENTILE_AGGS = ("percentile", "percentilew", "percentiles_array", "percentilesw_array")


def agg_name(e: A.Expr) -> str:
    """`count()` -> `count_`, `avg(X)` -> `avg_X`, `take_any(X)` -> `X`; `ColumnN` is left to callers."""
    if isinstance(e, A.Call):
        if e.name in ("percentile", "percentilew"):
            return percentile_names(e)[0] if len(e.args) >= 2 else "percentile_"
        if e.name in ("percentiles_array", "percentilesw_array"):
            base = expr_name(e.args[0]) if e.args else None
            return f"percentiles_{base or ''}"
        if e.name in AGG_NAMES:
            name = _call_name(e, AGG_NAMES)
            return name if name is not None else "Column1"
        return _summarize_name(e) or "Column1"
    return expr_name(e) or "Column1"
