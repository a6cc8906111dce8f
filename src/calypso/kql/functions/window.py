"""Window functions of serialized row sets: `row_number`, `prev`, `next`, `row_cumsum`, `row_rank_dense`,
`row_rank_min`.

Invariant: each function reads rows in the order the previous operator left them (`sort`,
`serialize`, `top`), as Kusto does after `serialize`; the SQL uses an empty `OVER ()` (or a running
frame), which DuckDB evaluates in the order its input preserves. Arguments that need a per-row
restart (`row_number(1, restart)`, `row_cumsum(x, restart)`) are refused with `UnsupportedFunction`
rather than approximated. `row_rank_dense(t)` starts at 1 and grows by 1 on each row whose term
differs from the previous row's (null counts as a value). `row_rank_min(t)` is computed in the same
single pass, as the row number of the first row of the run of equal terms the row is in: the
documented "smallest row number at which the term appears" when the rows are sorted by the term (the
documented use); a term that comes back after another one starts a new run.
"""

from __future__ import annotations

from sqlglot import exp

from .. import ast as A
from ..binder import Scope, Typed
from ..dialects.base import cast, lit
from ..errors import KqlError
from .base import ScalarFn, args, literal_int


def _no_restart(call: A.Call, index: int) -> None:
    if len(call.args) > index:
        raise KqlError(
            "UnsupportedFunction", f"{call.name}() with a restart condition is not supported", *call.pos
        )


def _row_number(call: A.Call, scope: Scope) -> Typed:
    args(call, scope, 0, 2)
    _no_restart(call, 1)
    start = literal_int(call, 0) if call.args else 1
    number: exp.Expression = exp.Window(this=exp.RowNumber())
    if start != 1:
        number = exp.Add(this=number, expression=lit(start - 1))
    return Typed(number, "long")


def _shift(call: A.Call, scope: Scope, lead: bool) -> Typed:
    vals = args(call, scope, 1, 3)
    offset = literal_int(call, 1) if len(call.args) > 1 else 1
    if offset < 0:
        raise KqlError("TypeMismatch", f"{call.name}() expects a non-negative offset", *call.args[1].pos)
    value = vals[0]
    default: exp.Expression | None = None
    if len(vals) > 2:
        from ..scalars import coerce_pair

        value, dflt = coerce_pair(vals[0], vals[2], scope)
        default = dflt.sql
    node = exp.Lead if lead else exp.Lag
    shifted = node(this=value.sql, offset=lit(offset), default=default)
    return Typed(exp.Window(this=shifted), value.type)


def _prev(call: A.Call, scope: Scope) -> Typed:
    return _shift(call, scope, lead=False)


def _next(call: A.Call, scope: Scope) -> Typed:
    return _shift(call, scope, lead=True)


def _row_cumsum(call: A.Call, scope: Scope) -> Typed:
    vals = args(call, scope, 1, 2)
    _no_restart(call, 1)
    v = vals[0]
    if v.type not in ("int", "long", "real", "decimal", "timespan"):
        raise KqlError("TypeMismatch", "row_cumsum() expects a numeric argument", *call.args[0].pos)
    frame = exp.WindowSpec(kind="ROWS", start="UNBOUNDED", start_side="PRECEDING", end="CURRENT ROW")
    total: exp.Expression = exp.Window(this=exp.Sum(this=v.sql), spec=frame)
    out = "long" if v.type == "int" else v.type
    if out in ("long", "timespan"):
        total = cast(total, "BIGINT")
    return Typed(total, out)


def _run_starts(call: A.Call, scope: Scope) -> tuple[exp.Expression, exp.Expression]:
    """(row number, whether the row starts a run of equal terms: the first row or a changed term)."""
    vals = args(call, scope, 1, 2)
    _no_restart(call, 1)
    term = vals[0].sql
    number = exp.Window(this=exp.RowNumber())
    changed = exp.NullSafeNEQ(this=term, expression=exp.Window(this=exp.Lag(this=term.copy(), offset=lit(1))))
    return number, exp.Or(this=exp.EQ(this=number.copy(), expression=lit(1)), expression=changed)


def _running(agg: type[exp.Sum] | type[exp.Max], value: exp.Expression) -> exp.Expression:
    # nested windows are computed one layer down (window_layers); no PARTITION BY, which would
    # reorder the serialized rows
    frame = exp.WindowSpec(kind="ROWS", start="UNBOUNDED", start_side="PRECEDING", end="CURRENT ROW")
    return cast(exp.Window(this=agg(this=value), spec=frame), "BIGINT")


def _row_rank_dense(call: A.Call, scope: Scope) -> Typed:
    _, starts = _run_starts(call, scope)
    return Typed(_running(exp.Sum, exp.If(this=starts, true=lit(1), false=lit(0))), "long")


def _row_rank_min(call: A.Call, scope: Scope) -> Typed:
    number, starts = _run_starts(call, scope)
    return Typed(_running(exp.Max, exp.If(this=starts, true=number.copy(), false=lit(0))), "long")


WINDOW: dict[str, ScalarFn] = {
    "row_number": _row_number,
    "prev": _prev,
    "next": _next,
    "row_cumsum": _row_cumsum,
    "row_rank_dense": _row_rank_dense,
    "row_rank_min": _row_rank_min,
}
