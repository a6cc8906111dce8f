"""HTTP Data Collector API records -> one column-oriented batch for `<Log-Type>_CL`.

Invariant (Azure's rules): every field becomes a column named with its type suffix — `_s` string
(also nested objects and arrays, as JSON), `_d` number, `_b` boolean, `_t` ISO 8601 date-time string,
`_g` GUID string — so a field that changes type gets a second column rather than a conflict; null
fields are skipped; `time-generated-field` (when valid) sets `TimeGenerated`.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

import orjson
import pyarrow as pa

from calypso.workspace.columns import ColumnError, parse_datetime, to_arrow
from calypso.workspace.ingest.prepare import IngestError, RawBatch

LOG_TYPE = re.compile(r"^[A-Za-z0-9_]{1,100}$")
_GUID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")
_ISO = re.compile(r"^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:?\d{2})?$")
_BAD_CHARS = re.compile(r"[^A-Za-z0-9_]")
SUFFIX_TYPES = {"_s": "string", "_d": "real", "_b": "bool", "_t": "datetime", "_g": "string"}
MAX_COLUMNS = 500


_names: dict[str, str] = {}


def _clean(field: str) -> str:
    cleaned = _names.get(field)
    if cleaned is None:
        cleaned = _BAD_CHARS.sub("_", field) or "_"
        if not (cleaned[0].isalpha() or cleaned[0] == "_"):
            cleaned = "_" + cleaned
        if len(_names) < 100_000:
            _names[field] = cleaned
    return cleaned


def parse_body(body: bytes) -> list[Mapping[str, Any]]:
    try:
        obj = orjson.loads(body)
    except orjson.JSONDecodeError as e:
        raise IngestError(f"Invalid JSON was submitted: {e}") from None
    records = [obj] if isinstance(obj, dict) else obj
    if not isinstance(records, list) or not all(isinstance(r, dict) for r in records):
        raise IngestError("The body must be a JSON object or an array of JSON objects.")
    return records


def to_batch(
    log_type: str, records: Sequence[Mapping[str, Any]], *, time_field: str | None, resource_id: str | None
) -> RawBatch:
    n = len(records)
    raw: dict[str, list[Any]] = {}  # raw field name + suffix -> values (hot loop: no helper calls)
    guid, iso = _GUID.match, _ISO.match
    for i, record in enumerate(records):
        for field, value in record.items():
            kind = type(value)
            if kind is str:
                size = len(value)
                if size == 36 and value[8] == "-" and guid(value):
                    key = field + "_g"
                elif 16 <= size <= 40 and value[4] == "-" and value[:4].isdigit() and iso(value):
                    key = field + "_t"
                else:
                    key = field + "_s"
            elif kind is bool:
                key = field + "_b"
            elif kind is int or kind is float:
                key = field + "_d"
            elif value is None:
                continue
            else:
                key, value = field + "_s", orjson.dumps(value).decode("utf-8")
            values = raw.get(key)
            if values is None:
                if len(raw) >= MAX_COLUMNS:
                    raise IngestError(
                        f"The records have more than {MAX_COLUMNS} fields; Azure's limit is {MAX_COLUMNS}."
                    )
                values = raw[key] = [None] * n
            values[i] = value
    columns: dict[str, list[Any]] = {}
    for key, values in raw.items():
        name = _clean(key[:-2]) + key[-2:]
        existing = columns.get(name)
        if existing is None:
            columns[name] = values
        else:  # two raw names cleaned to the same column: merge them
            columns[name] = [a if a is not None else b for a, b in zip(existing, values, strict=True)]
    hints = {name: SUFFIX_TYPES[name[-2:]] for name in columns}
    out: dict[str, Sequence[Any] | pa.Array] = dict(columns)
    if time_field:
        out["TimeGenerated"] = _time_generated([r.get(time_field) for r in records])
    return RawBatch(
        f"{log_type}_CL",
        out,
        n,
        None,
        type_hints=hints,
        source_system="RestAPI",
        resource_id=resource_id or None,
    )


def _time_generated(values: list[Any]) -> pa.Array:
    """Valid ISO 8601 values set TimeGenerated; others leave it to ingestion time (as Azure does)."""
    try:
        return to_arrow([v if isinstance(v, str) else None for v in values], "datetime")
    except ColumnError:
        parsed: list[Any] = []
        for v in values:
            try:
                parsed.append(parse_datetime(v) if isinstance(v, str) else None)
            except ValueError:
                parsed.append(None)
        return pa.array(parsed, pa.timestamp("us"))
