"""`ingestion_time()`: the time a record was ingested.

Invariant: the workspace keeps no separate ingestion timestamp (the server stamps `TimeGenerated`
when a record arrives without one, and records are queryable as soon as they are stored), so
`ingestion_time()` returns the row's `TimeGenerated` — as the hidden column `_TimeReceived` does
(see `binder.HIDDEN_COLUMNS`). Latencies computed as `ingestion_time() - TimeGenerated` are
therefore 0, never negative or made up. Over a row set without `TimeGenerated` it is a null
datetime, as Kusto's is for tables without an ingestion-time policy.
"""

from __future__ import annotations

from .. import ast as A
from ..binder import Scope, Typed
from .base import ScalarFn, args


def _ingestion_time(call: A.Call, scope: Scope) -> Typed:
    args(call, scope, 0)
    if "TimeGenerated" in scope.columns:
        return scope.column("TimeGenerated", call.pos)
    return Typed(scope.ctx.dialect.datetime_literal(None), "datetime")


INGESTION: dict[str, ScalarFn] = {"ingestion_time": _ingestion_time}
