"""HTTP Data Collector API records -> one column-oriented batch for `<Log-Type>_CL`.

Invariant (Azure's rules): every field becomes a column named with its type suffix — `_s` string
(also nested objects and arrays, as JSON), `_d` number, `_b` boolean, `_t` ISO 8601 date-time string,
`_g` GUID string — so a field that changes type gets a second column rather than a conflict; null
fields are skipped; `time-generated-field` (when valid) sets `TimeGenerated`. Each value is classified
on its own; a field whose values are all text that is neither GUID nor date-time, all numbers or all
booleans is classified as a whole (vectorized), any other field value by value, with the same result.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from itertools import chain
from typing import Any

import orjson
import pyarrow as pa
import pyarrow.compute as pc

from calypso.workspace.columns import ColumnError, parse_datetime, to_arrow
from calypso.workspace.ingest.prepare import IngestError, RawBatch

LOG_TYPE = re.compile(r"^[A-Za-z0-9_]{1,100}$")
_GUID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}\Z")
_ISO = re.compile(r"^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:?\d{2})?\Z", re.ASCII)
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
    raw: dict[str, list[Any] | pa.Array] = {}  # raw field name + suffix -> values
    for field in dict.fromkeys(chain.from_iterable(records)):  # every field, in order of appearance
        values = [r.get(field) for r in records]
        kinds = set(map(type, values))
        kinds.discard(_NONE)
        if kinds == _STR:
            strings = pa.array(values, pa.string())
            if not _special(strings):  # the common case, decided column-wise: plain text
                _add(raw, field + "_s", strings)
                continue
        elif kinds and kinds <= _NUMBER:
            _add(raw, field + "_d", values)
            continue
        elif kinds == _BOOL:
            _add(raw, field + "_b", values)
            continue
        elif not kinds:
            continue
        _per_value(raw, field, values, n)
    columns: dict[str, list[Any] | pa.Array] = {}
    for key, values in raw.items():
        name = _clean(key[:-2]) + key[-2:]
        existing = columns.get(name)
        if existing is None:
            columns[name] = values
        else:  # two raw names cleaned to the same column: merge them
            columns[name] = [
                a if a is not None else b for a, b in zip(_list(existing), _list(values), strict=True)
            ]
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


_NONE: type = type(None)
_STR: frozenset[type] = frozenset({str})
_BOOL: frozenset[type] = frozenset({bool})
_NUMBER: frozenset[type] = frozenset({int, float})
_GUID_RE2 = _GUID.pattern.replace(r"\Z", "$")  # RE2's $ is the end of the text, like Python's \Z
_ISO_RE2 = _ISO.pattern.replace(r"\Z", "$").replace(r"\d", "[0-9]")


def _special(strings: pa.Array) -> bool:
    """Whether any value looks like a GUID or an ISO 8601 date-time (and so gets `_g` or `_t`).
    Both are ASCII, so byte lengths select the few candidates the regular expressions look at."""
    lengths = pc.binary_length(strings)
    guids = pc.filter(strings, pc.equal(lengths, 36))
    if len(guids) and pc.any(pc.match_substring_regex(guids, _GUID_RE2)).as_py():
        return True
    dates = pc.filter(strings, pc.and_(pc.greater_equal(lengths, 16), pc.less_equal(lengths, 40)))
    return bool(len(dates) and pc.any(pc.match_substring_regex(dates, _ISO_RE2)).as_py())


def _add(raw: dict[str, list[Any] | pa.Array], key: str, values: list[Any] | pa.Array) -> None:
    if key not in raw and len(raw) >= MAX_COLUMNS:
        raise IngestError(f"The records have more than {MAX_COLUMNS} fields; Azure's limit is {MAX_COLUMNS}.")
    raw[key] = values


def _list(values: list[Any] | pa.Array) -> list[Any]:
    return values.to_pylist() if isinstance(values, pa.Array) else values


def _per_value(raw: dict[str, list[Any] | pa.Array], field: str, values: list[Any], n: int) -> None:
    """A field whose values differ in kind: each value picks its column by its own type (Azure's rule)."""
    guid, iso = _GUID.match, _ISO.match
    for i, value in enumerate(values):
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
        column = raw.get(key)
        if column is None:
            _add(raw, key, [None] * n)
            column = raw[key]
        assert isinstance(column, list)  # columns built value by value are lists
        column[i] = value


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
