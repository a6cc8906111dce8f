"""The workspace's only door to the KQL compiler (`calypso.kql`).

Invariant: the workspace never interprets KQL itself. If the compiler is not importable, queries and
transformations answer a clear "not available" error; only the type mapping (`storage_type`) and the
value rendering (`to_json_value`) have built-in equivalents so ingestion keeps working meanwhile.
"""

from __future__ import annotations

import base64
import datetime as dt
import decimal
import importlib
import math
import uuid
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Protocol


class CompiledColumn(Protocol):
    name: str
    type: str


class Compiled(Protocol):
    sql: str

    @property
    def columns(self) -> Sequence[Any]: ...

    @property
    def externals(self) -> Sequence[Any]: ...  # `externaldata` tables to fetch and register first


class KqlUnavailable(Exception):
    """The KQL compiler is not installed in this build."""


_DUCKDB_TYPES: dict[str, str] = {
    "string": "VARCHAR",
    "int": "INTEGER",
    "long": "BIGINT",
    "real": "DOUBLE",
    "bool": "BOOLEAN",
    "datetime": "TIMESTAMP",
    "timespan": "BIGINT",  # 100 ns ticks, as the compiler expects
    "guid": "VARCHAR",
    "decimal": "DOUBLE",
    "dynamic": "JSON",
}


# `calypso.kql` exports the interface; its modules are looked at too while its __init__ is being written.
_MODULES = ("calypso.kql", "calypso.kql.compiler", "calypso.kql.values", "calypso.kql.errors")


def _kql(name: str) -> Any:
    """An attribute of `calypso.kql`, or None when the compiler (or that part of it) is not installed."""
    for module_name in _MODULES:
        try:
            module = importlib.import_module(module_name)
        except ImportError:
            continue
        found = getattr(module, name, None)
        if found is not None:
            return found
    return None


def storage_type(kusto_type: str) -> str:
    """SQL type a column of `kusto_type` is created with in DuckDB."""
    fn = _kql("storage_type")
    if fn is None:
        return _DUCKDB_TYPES[kusto_type]
    return str(fn(kusto_type, dialect="duckdb"))


def _fallback_json_value(value: Any, kusto_type: str) -> Any:
    if value is None:
        return None
    if isinstance(value, dt.datetime):
        if value.tzinfo is not None:
            value = value.astimezone(dt.UTC).replace(tzinfo=None)
        return value.isoformat(timespec="microseconds") + "Z"
    if isinstance(value, dt.timedelta):
        total = value.total_seconds()
        sign = "-" if total < 0 else ""
        total = abs(total)
        days, rem = divmod(total, 86400)
        hours, rem = divmod(rem, 3600)
        minutes, seconds = divmod(rem, 60)
        prefix = f"{int(days)}." if days else ""
        return f"{sign}{prefix}{int(hours):02d}:{int(minutes):02d}:{seconds:010.7f}"
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, decimal.Decimal):
        return str(value)
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    if isinstance(value, bytes):
        return base64.b64encode(value).decode("ascii")
    if kusto_type == "dynamic" and isinstance(value, str):
        import orjson

        try:
            return orjson.loads(value)
        except orjson.JSONDecodeError:
            return value
    return value


def json_value_function() -> Callable[[Any, str], Any]:
    fn = _kql("to_json_value")
    return _fallback_json_value if fn is None else fn


def compile_query(
    text: str,
    catalog: Mapping[str, Sequence[tuple[str, str]]],
    *,
    timespan: tuple[dt.datetime, dt.datetime] | None = None,
    now: dt.datetime | None = None,
) -> Compiled:
    """Compile KQL to DuckDB SQL. Raises the compiler's KqlError, or KqlUnavailable."""
    fn = _kql("compile_query")
    if fn is None:
        raise KqlUnavailable("the KQL compiler is not available in this build")
    kwargs: dict[str, Any] = {"dialect": "duckdb", "now": now}
    if timespan is not None:
        kwargs["timespan"] = timespan
    return fn(text, catalog, **kwargs)


def kql_error_type() -> type[Exception]:
    error = _kql("KqlError")
    return KqlUnavailable if error is None else error
