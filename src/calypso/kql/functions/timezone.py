"""datetime_utc_to_local(dt, tz) and datetime_local_to_utc(dt, tz): wall-clock time in an IANA time
zone, both ways.

Datetimes are stored as UTC without a zone, so "local" is a datetime holding the zone's wall-clock
reading. A literal zone name is checked when the query compiles (an unknown one is an error with its
position); a computed one is the engine's to resolve. DuckDB converts with its ICU time zones;
ClickHouse reads the wall clock through toTimeZone and back through the zone's text form.
"""

from __future__ import annotations

import zoneinfo

from sqlglot import exp

from .. import ast as A
from ..binder import Scope, Typed
from ..dialects.base import fn, lit
from ..errors import KqlError
from .base import ScalarFn, agg_flag, args, as_string


def _zone_checked(call: A.Call) -> None:
    zone = call.args[1]
    if isinstance(zone, A.Literal) and isinstance(zone.value, str):
        try:
            zoneinfo.ZoneInfo(zone.value)
        except (zoneinfo.ZoneInfoNotFoundError, ValueError):
            raise KqlError("SyntaxError", f"Unknown time zone '{zone.value}'", *zone.pos) from None


def _convert(to_local: bool) -> ScalarFn:
    def f(call: A.Call, scope: Scope) -> Typed:
        when, zone = args(call, scope, 2)
        if when.type != "datetime":
            raise KqlError("TypeMismatch", f"{call.name}() expects a datetime", *call.args[0].pos)
        _zone_checked(call)
        tz = as_string(zone, scope).sql
        d = scope.ctx.dialect
        if d.name == "duckdb":
            utc = lit("UTC")
            if to_local:  # the UTC instant, read on the zone's clock
                out = fn("timezone", tz, exp.AtTimeZone(this=when.sql, zone=utc))
            else:  # the zone's wall clock, as the UTC instant it names
                out = fn("timezone", utc, fn("timezone", tz, when.sql))
        else:
            if to_local:
                wall = fn("toString", fn("toTimeZone", when.sql, tz))
                out = fn("toDateTime64", wall, lit(6), lit("UTC"))
            else:
                instant = fn("toDateTime64", fn("toString", when.sql), lit(6), tz)
                out = fn("toTimeZone", instant, lit("UTC"))
        return Typed(out, "datetime", agg_flag(when, zone))

    return f


TIMEZONE: dict[str, ScalarFn] = {
    "datetime_utc_to_local": _convert(to_local=True),
    "datetime_local_to_utc": _convert(to_local=False),
}
