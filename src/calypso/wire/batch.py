"""The agent path's batch envelope (`/agent/v1/batches`).

A request body is zstd-compressed JSON: `{"batches": [Batch, ...]}`. A batch carries records for one
table, column-oriented (`columns`: name -> list of values, all lists `count` long). Values are JSON
scalars; datetimes are ISO 8601 strings in UTC; dynamic values are any JSON. A column whose value is
the same on every row (a tailed file's path, the collection time) may come once, in `consts`: name ->
value, so a batch of lines is not mostly repeated text. A column of strings none of which is null or holds
a newline may come as one string, in `joined`: name -> the values joined by "\n" (`count` >= 1), so a
receiver can split it in one vectorized step instead of building an object per value; `to_json` joins
every such column by itself. `decode` turns both back into full columns unless asked to keep them
apart (`expand_consts=False`, for a receiver that repeats and splits them cheaper itself). `batch_id` is a UUID
chosen when the batch entered the agent's disk buffer, so redelivery after a crash reuses it and the
workspace stores each batch once.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import orjson
import zstandard

CONTENT_TYPE = "application/x-calypso-batches+zstd"
MAX_BODY_BYTES = 32 * 1024 * 1024  # decompressed


@dataclass(frozen=True, slots=True)
class Batch:
    table: str
    columns: Mapping[str, Sequence[Any]]
    count: int
    batch_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    consts: Mapping[str, Any] = field(default_factory=dict)
    joined: Mapping[str, str] = field(default_factory=dict)

    @staticmethod
    def from_records(table: str, records: Sequence[Mapping[str, Any]], batch_id: str | None = None) -> Batch:
        names: dict[str, None] = {}
        for record in records:
            names.update(dict.fromkeys(record))
        columns = {name: [r.get(name) for r in records] for name in names}
        return Batch(table, columns, len(records), batch_id or str(uuid.uuid4()))

    def to_json(self) -> dict[str, Any]:
        columns: dict[str, Any] = {}
        joined = dict(self.joined)
        for name, values in self.columns.items():
            text = join_strings(values)
            if text is None:
                columns[name] = values
            else:
                joined[name] = text
        doc = {"batch_id": self.batch_id, "table": self.table, "count": self.count, "columns": columns}
        if self.consts:
            doc["consts"] = self.consts
        if joined:
            doc["joined"] = joined
        return doc

    def with_defaults(self, defaults: Mapping[str, Any]) -> Batch:
        """The batch with `defaults` as constant columns wherever it has no such column."""
        missing = {k: v for k, v in defaults.items() if k not in self.columns and k not in self.consts}
        missing = {k: v for k, v in missing.items() if k not in self.joined}
        if not missing:
            return self
        return Batch(
            self.table, self.columns, self.count, self.batch_id, {**self.consts, **missing}, self.joined
        )

    def expanded(self) -> Mapping[str, Sequence[Any]]:
        """Every column as a list of `count` values (constant columns repeated, joined ones split)."""
        if not self.consts and not self.joined:
            return self.columns
        return {
            **self.columns,
            **{k: split_lines(text, self.count, k) for k, text in self.joined.items()},
            **{k: [v] * self.count for k, v in self.consts.items()},
        }

    def records(self) -> list[dict[str, Any]]:
        """Row by row (for tests and small batches; the store works on columns)."""
        columns = self.expanded()
        return [{k: v[i] for k, v in columns.items()} for i in range(self.count)]

    @staticmethod
    def from_json(obj: Mapping[str, Any], *, expand_consts: bool = True) -> Batch:
        if not isinstance(obj, Mapping):
            raise ValueError("each batch must be a JSON object")
        table, columns, count, batch_id = (
            obj.get("table"),
            obj.get("columns"),
            obj.get("count"),
            obj.get("batch_id"),
        )
        if not isinstance(table, str) or not table:
            raise ValueError("batch.table must be a non-empty string")
        if not isinstance(batch_id, str) or not batch_id:
            raise ValueError("batch.batch_id must be a non-empty string")
        if not isinstance(count, int) or count < 0:
            raise ValueError("batch.count must be a non-negative integer")
        if not isinstance(columns, Mapping):
            raise ValueError("batch.columns must be an object of column -> list")
        for name, values in columns.items():
            if not isinstance(values, list) or len(values) != count:
                raise ValueError(f"batch.columns[{name!r}] must be a list of {count} values")
        consts = obj.get("consts")
        if consts is not None:
            if not isinstance(consts, Mapping):
                raise ValueError("batch.consts must be an object of column -> value")
            if both := sorted(set(consts) & set(columns)):
                raise ValueError(f"batch.consts repeats column {both[0]!r} of batch.columns")
        joined = obj.get("joined")
        if joined is not None:
            _check_joined(joined, count, set(columns) | set(consts or ()))
        batch = Batch(table, columns, count, batch_id, dict(consts) if consts else {}, joined or {})
        if expand_consts and (batch.consts or batch.joined):
            batch = Batch(table, batch.expanded(), count, batch_id)
        return batch


def join_strings(values: Sequence[Any]) -> str | None:
    """The values joined by "\n" when they are 1+ strings without one (C speed), else None."""
    if not values:
        return None
    try:
        text = "\n".join(values)
    except TypeError:  # a null, a number, ...
        return None
    return text if text.count("\n") == len(values) - 1 else None


def split_lines(text: str, count: int, name: str) -> list[str]:
    lines = text.split("\n")
    if len(lines) != count:
        raise ValueError(f"batch.joined[{name!r}] holds {len(lines)} lines for {count} rows")
    return lines


def _check_joined(joined: Any, count: int, others: set[str]) -> None:
    """Shape only; whether each holds `count` lines is checked where it is split."""
    if not isinstance(joined, Mapping):
        raise ValueError("batch.joined must be an object of column -> string")
    for name, text in joined.items():
        if name in others:
            raise ValueError(f"batch.joined repeats column {name!r}")
        if not isinstance(text, str) or count < 1:
            raise ValueError(f"batch.joined[{name!r}] must be a string of {count} lines")


def encode(batches: Iterable[Batch]) -> bytes:
    # A compressor per call: zstandard's compressors must not be shared between threads.
    return zstandard.ZstdCompressor(level=3).compress(
        orjson.dumps({"batches": [b.to_json() for b in batches]})
    )


def decode(body: bytes, *, expand_consts: bool = True) -> list[Batch]:
    """Raises ValueError with a user-readable message for anything malformed. With `expand_consts`
    false, constant columns stay in each batch's `consts` instead of becoming lists in `columns`."""
    try:
        raw = zstandard.ZstdDecompressor().decompress(body, max_output_size=MAX_BODY_BYTES)
    except zstandard.ZstdError as e:
        raise ValueError(f"body is not valid zstd: {e}") from None
    try:
        obj = orjson.loads(raw)
    except orjson.JSONDecodeError as e:
        raise ValueError(f"body is not valid JSON: {e}") from None
    if not isinstance(obj, dict) or not isinstance(obj.get("batches"), list):
        raise ValueError('body must be {"batches": [...]}')
    return [Batch.from_json(b, expand_consts=expand_consts) for b in obj["batches"]]
