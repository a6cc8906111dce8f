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
from operator import itemgetter
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
    if not isinstance(records, list) or not set(map(type, records)) <= _DICT:  # orjson makes only dicts
        raise IngestError("The body must be a JSON object or an array of JSON objects.")
    return records


def parse(log_type: str, body: bytes, *, time_field: str | None, resource_id: str | None) -> RawBatch | None:
    """`parse_body` then `to_batch` (one trip to a worker thread); None when there are no records."""
    records = parse_body(body)
    if not records:
        return None
    return to_batch(log_type, records, time_field=time_field, resource_id=resource_id)


def to_batch(
    log_type: str, records: Sequence[Mapping[str, Any]], *, time_field: str | None, resource_id: str | None
) -> RawBatch:
    """Records as parsed from JSON (str, int, float, bool, None, dict, list values) -> one batch."""
    n = len(records)
    raw: dict[str, list[Any] | pa.Array] = {}  # raw field name + suffix -> values
    for field in dict.fromkeys(chain.from_iterable(records)):  # every field, in order of appearance
        try:
            values = list(map(itemgetter(field), records))
        except KeyError:  # a field some records lack
            values = [r.get(field) for r in records]
        if type(values[0]) is str:  # most often plain text: one conversion tells, no scan of the types
            try:
                strings = pa.array(values, pa.string())  # converts only str (JSON strings) and None
            except (pa.ArrowTypeError, pa.ArrowInvalid):
                pass
            else:
                _text(raw, field, strings)
                continue
        kinds = set(map(type, values))
        kinds.discard(_NONE)
        if kinds == _STR:
            _text(raw, field, pa.array(values, pa.string()))
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
_DICT: frozenset[type] = frozenset({dict})
_STR: frozenset[type] = frozenset({str})
_BOOL: frozenset[type] = frozenset({bool})
_NUMBER: frozenset[type] = frozenset({int, float})
_GUID_RE2 = _GUID.pattern.replace(r"\Z", "$")  # RE2's $ is the end of the text, like Python's \Z
_ISO_RE2 = _ISO.pattern.replace(r"\Z", "$").replace(r"\d", "[0-9]")


def _text(raw: dict[str, list[Any] | pa.Array], field: str, strings: pa.Array) -> None:
    """A field whose values are all text (or null): plain text, GUIDs and date-times split into `_s`,
    `_g` and `_t` by the same tests as `_per_value`, on whole columns; columns are added in the order
    of their first value, as `_per_value` adds them. GUIDs and date-times are ASCII, so byte lengths
    rule most columns out before any regular expression runs."""
    lengths = pc.binary_length(strings)
    bounds = pc.min_max(lengths).as_py()
    if bounds["min"] is None or bounds["max"] < 16 or bounds["min"] > 40:  # the common case: plain text
        _add(raw, field + "_s", strings)
        return
    guid = _matches(strings, pc.equal(lengths, 36), _GUID_RE2)
    iso = _matches(strings, pc.and_(pc.greater_equal(lengths, 16), pc.less_equal(lengths, 40)), _ISO_RE2)
    if guid is None and iso is None:
        _add(raw, field + "_s", strings)
        return
    special = guid if iso is None else iso if guid is None else pc.or_(guid, iso)
    plain = pc.and_(pc.is_valid(strings), pc.invert(special))
    parts = []
    for suffix, mask in (("_s", plain), ("_g", guid), ("_t", iso)):
        first = -1 if mask is None else pc.index(mask, True).as_py()
        if first >= 0:
            parts.append((first, suffix, mask))
    for _, suffix, mask in sorted(parts):
        column = strings if pc.all(mask).as_py() else pc.if_else(mask, strings, _NULL_TEXT)
        # date-times go on as text values, converted with the table's type like any other column
        _add(raw, field + suffix, column.to_pylist() if suffix == "_t" else column)


def _matches(strings: pa.Array, candidates: pa.Array, pattern: str) -> pa.Array | None:
    """Where `strings` match `pattern` (false for nulls), tried only if some are `candidates`; None
    when none match."""
    if not pc.any(candidates).as_py():
        return None
    found = pc.fill_null(pc.and_(candidates, pc.match_substring_regex(strings, pattern)), False)
    return found if pc.any(found).as_py() else None


_NULL_TEXT = pa.scalar(None, pa.string())


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
