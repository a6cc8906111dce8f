"""`row_window_session(expr, maxDistanceFromFirst, maxDistanceBetweenNeighbors [, restart])`.

Invariant (Kusto semantics, rows in the order the previous operator left them, as after
`serialize`/`sort`): the result is the value of `expr` at the first row of the row's session. A
session starts at the first row, where `restart` is true, or where `expr` is more than
`maxDistanceFromFirst` after the session's first value or more than `maxDistanceBetweenNeighbors`
after the previous row's value. Both distances are timespan literals (or `let` constants) fixed at
compile time. Each row folds over the rows before it (`Dialect.session_start`), so the cost grows
with the square of the row count: meant for the summarized sets such queries build.
"""

from __future__ import annotations

from sqlglot import exp

from .. import ast as A
from ..binder import Scope, Typed
from ..dialects.base import lit
from ..errors import KqlError
from .base import ScalarFn, args

_TICKS_PER_US = 10


def _ticks(call: A.Call, t: Typed, i: int) -> int:
    e = t.sql
    neg = isinstance(e, exp.Neg)
    if neg:
        e = e.this
    if t.type != "timespan" or not isinstance(e, exp.Literal) or e.is_string:
        raise KqlError(
            "TypeMismatch",
            f"Argument {i + 1} of row_window_session() must be a constant timespan",
            *call.args[i].pos,
        )
    v = int(e.this)
    return -v if neg else v


def _row_window_session(call: A.Call, scope: Scope) -> Typed:
    vals = args(call, scope, 3, 4)
    value = vals[0]
    if value.type != "datetime":
        raise KqlError(
            "TypeMismatch", "row_window_session() expects a datetime expression", *call.args[0].pos
        )
    max_first = _ticks(call, vals[1], 1) // _TICKS_PER_US
    max_gap = _ticks(call, vals[2], 2) // _TICKS_PER_US
    restart = vals[3].sql if len(vals) > 3 else lit(False)
    if len(vals) > 3 and vals[3].type != "bool":
        raise KqlError("TypeMismatch", "row_window_session() expects a boolean restart", *call.args[3].pos)
    d = scope.ctx.dialect
    start = d.session_start(d.epoch_us(value.sql), restart, max_first, max_gap)
    return Typed(d.from_epoch_us(start), "datetime")


SESSION: dict[str, ScalarFn] = {"row_window_session": _row_window_session}
