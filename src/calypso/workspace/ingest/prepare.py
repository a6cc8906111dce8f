"""Resolve a batch of column-oriented records against a table schema and build its Arrow table.

Invariant: the result has one Arrow column per table column the batch fills, typed for that column's
Kusto type, plus the columns every table has filled consistently: `TenantId` (the workspace), `Type`
(the table), `SourceSystem` (the batch's, else the API's default), `_ResourceId` (the batch's, else the
request's), `TimeGenerated` (the record's, else ingestion time). Standard tables never grow; custom
tables (`*_CL`) grow by the returned `new_columns`. Anything that does not fit raises `IngestError`
with a message naming the table, column and row. A constant column (`RawBatch.consts`) is typed,
converted and checked as one value and then repeated, with the same outcome (type, new columns, error
naming row 0) as the full column of that value. A joined column (`RawBatch.joined`: strings joined by
"\n") of a string column is split by Arrow in one step; of any other type it is split in Python and
converted like a list, so the outcome is the same as for the list of its values.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from calypso.wire.batch import split_lines
from calypso.wire.schemas import CUSTOM_BASE_COLUMNS, KUSTO_TYPES, Schema, is_custom_table, standard_tables
from calypso.workspace.columns import ColumnError, infer_kusto_type, to_arrow

NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,199}$")


class IngestError(ValueError):
    """Data that cannot be stored; the message is shown to the sender as is."""


@dataclass(frozen=True, slots=True)
class RawBatch:
    table: str
    columns: Mapping[str, Any]  # name -> list of JSON values, or an already typed pyarrow.Array
    count: int
    batch_id: str | None = None
    type_hints: Mapping[str, str] = field(default_factory=dict)
    source_system: str = "OpsManager"
    resource_id: str | None = None
    consts: Mapping[str, Any] = field(default_factory=dict)  # name -> the JSON value of every row
    joined: Mapping[str, str] = field(default_factory=dict)  # name -> `count` strings joined by "\n"


@dataclass(frozen=True, slots=True)
class Prepared:
    table: str
    data: pa.Table
    new_columns: tuple[tuple[str, str], ...]
    create: bool


def check_table_name(table: str) -> None:
    if not NAME.match(table):
        raise IngestError(f"table name {table!r} is not valid: use letters, digits and '_'")
    if not is_custom_table(table) and table not in standard_tables():
        raise IngestError(f"table {table!r} is not a standard table and does not end in _CL")


def prepare(
    batch: RawBatch, catalog: Mapping[str, Schema], workspace_id: str, now: dt.datetime | None = None
) -> Prepared:
    table = batch.table
    check_table_name(table)
    schema = catalog.get(table)
    create = schema is None
    if schema is None:
        schema = standard_tables().get(table, CUSTOM_BASE_COLUMNS)
    types = dict(schema)
    new_columns: list[tuple[str, str]] = []

    def kusto_type_of(name: str, values: Any) -> str:
        kusto_type = types.get(name)
        if kusto_type is None:
            if not is_custom_table(table):
                raise IngestError(f"column {name!r} is not in table {table}")
            if not NAME.match(name):
                raise IngestError(
                    f"column name {name!r} in table {table} is not valid: use letters, digits and '_'"
                )
            kusto_type = batch.type_hints.get(name) or infer_kusto_type(values)
            if kusto_type not in KUSTO_TYPES:
                raise IngestError(f"column {name!r}: unknown type {kusto_type!r}")
            types[name] = kusto_type
            new_columns.append((name, kusto_type))
        return kusto_type

    arrays: dict[str, pa.Array] = {}
    for name, values in batch.columns.items():
        kusto_type = kusto_type_of(name, values)
        try:
            arrays[name] = to_arrow(values, kusto_type)
        except ColumnError as e:
            raise IngestError(f"table {table}, column {name}: {e}") from None
    for name, text in batch.joined.items():
        kusto_type = kusto_type_of(name, ["string"])  # a new column of strings is a string column
        if kusto_type == "string":
            arrays[name] = _split(text, batch.count, f"table {table}, column {name}")
            continue
        try:
            arrays[name] = to_arrow(split_lines(text, batch.count, name), kusto_type)
        except ValueError as e:  # a ColumnError, or the wrong number of lines
            raise IngestError(f"table {table}, column {name}: {e}") from None
    for name, value in batch.consts.items():
        one = [value] if batch.count else []  # what the full column's first row decides
        kusto_type = kusto_type_of(name, one)
        try:
            arrays[name] = _repeat(to_arrow(one, kusto_type), batch.count)
        except ColumnError as e:
            raise IngestError(f"table {table}, column {name}: {e}") from None
    count = batch.count
    arrays["TenantId"] = pa.repeat(pa.scalar(workspace_id), count) if count else pa.array([], pa.string())
    arrays["Type"] = pa.repeat(pa.scalar(table), count) if count else pa.array([], pa.string())
    arrays["SourceSystem"] = _fill(arrays.get("SourceSystem"), batch.source_system, count, pa.string())
    if batch.resource_id is not None or "_ResourceId" in arrays:
        arrays["_ResourceId"] = _fill(arrays.get("_ResourceId"), batch.resource_id, count, pa.string())
    stamp = (now or dt.datetime.now(dt.UTC)).astimezone(dt.UTC).replace(tzinfo=None)
    arrays["TimeGenerated"] = _fill(arrays.get("TimeGenerated"), stamp, count, pa.timestamp("us"))
    return Prepared(table, pa.table(arrays), tuple(new_columns), create)


def _split(text: str, count: int, where: str) -> pa.Array:
    """The string array of `text`'s lines, split without a Python object per line."""
    lines = pc.split_pattern(pa.array([text], pa.string()), "\n").flatten()
    if len(lines) != count:
        raise IngestError(f"{where}: the joined values hold {len(lines)} lines for {count} rows")
    return lines


def _repeat(one: pa.Array, count: int) -> pa.Array:
    """The array of `count` copies of `one`'s only value (`one` is empty when `count` is 0)."""
    return pa.repeat(one[0], count) if count else one


def _fill(existing: pa.Array | None, default: Any, count: int, arrow_type: pa.DataType) -> pa.Array:
    if existing is None:
        if count == 0:
            return pa.array([], arrow_type)
        return pa.repeat(pa.scalar(default, arrow_type), count)
    if default is None or existing.null_count == 0:
        return existing
    return pc.fill_null(existing, pa.scalar(default, arrow_type))
