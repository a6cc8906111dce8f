"""Function registries: one entry per Kusto function name, merged from the family modules.

Invariant: a call resolves only through `SCALARS` or (inside summarize) `AGGREGATES`; an unknown
name raises `KqlError("UnknownFunction")`, a known but unimplemented one `UnsupportedFunction`.
No user text ever selects an engine function by name.
"""

from __future__ import annotations

from .. import ast as A
from ..binder import Scope, Typed
from ..errors import KqlError, did_you_mean
from .aggregate import AGGREGATES
from .arrays import ARRAYS
from .base import ScalarFn
from .bitwise import BITWISE
from .charmap import CHARMAP
from .datetime import DATETIME
from .dynamic import DYNAMIC
from .hashing import HASHING
from .hll import HLL
from .ingestion import INGESTION
from .ipv6 import IPV6
from .network import NETWORK
from .path import PATH
from .scalar import SCALAR
from .series_decompose import decompose_baseline, forecast_baseline, series_outliers
from .series_fit import decompose_anomalies_flags
from .series_ops import SERIES_OPS
from .session import SESSION
from .string import STRING
from .text import TEXT
from .timezone import TIMEZONE
from .url import URLS
from .window import WINDOW
from .xml import XML

SCALARS: dict[str, ScalarFn] = {
    **SCALAR,
    **STRING,
    **DATETIME,
    **DYNAMIC,
    **ARRAYS,
    **WINDOW,
    **PATH,
    **INGESTION,
    **CHARMAP,
    **SESSION,
    **SERIES_OPS,
    **HASHING,
    **XML,
    **TIMEZONE,
    **NETWORK,
    **TEXT,
    **URLS,
    **IPV6,
    **BITWISE,
    **HLL,
    "series_decompose_anomalies": decompose_anomalies_flags,
    "series_decompose": decompose_baseline,
    "series_decompose_forecast": forecast_baseline,
    "series_outliers": series_outliers,
}

KNOWN_UNSUPPORTED = frozenset(
    {
        "parse_csv",
        "externaldata",
        "estimate_data_size",
        "cursor_after",
        "current_cluster_endpoint",
        "geo_info_from_ip_address",
        "tdigest",
    }
)


def call_function(call: A.Call, scope: Scope) -> Typed:
    name = call.name
    ctx = scope.ctx
    user = ctx.lets.get(name)
    if user is not None and not isinstance(user, Typed):
        from ..compiler import call_user_scalar

        return call_user_scalar(call, scope)
    # a name that is both (hll_merge) is the scalar outside summarize
    if name in AGGREGATES and not (scope.row_context and name in SCALARS):
        if scope.row_context:
            raise KqlError(
                "TypeMismatch", f"Aggregate function '{name}' can only be used inside summarize", *call.pos
            )
        return AGGREGATES[name](call, scope)
    fn = SCALARS.get(name)
    if fn is None:
        if name in KNOWN_UNSUPPORTED:
            raise KqlError("UnsupportedFunction", f"The function '{name}' is not supported", *call.pos)
        hint = did_you_mean(name, [*SCALARS, *AGGREGATES])
        raise KqlError("UnknownFunction", f"Unknown function: '{name}'{hint}", *call.pos)
    return fn(call, scope)


__all__ = ["AGGREGATES", "SCALARS", "call_function"]
