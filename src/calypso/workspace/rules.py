"""Agent collection rules (served at `/agent/v1/config`) and Logs Ingestion data collection rules (DCRs).

Invariants: rules are stored as JSON files replaced atomically; the agent rules' ETag is a hash of
their canonical JSON, so the same rules always carry the same ETag and any change changes it. DCRs
name, per stream, the destination table (standard or `*_CL`), optional declared columns and an
optional `transformKql`.
"""

from __future__ import annotations

import hashlib
import re
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson

from calypso.wire.schemas import KUSTO_TYPES, is_custom_table, standard_tables
from calypso.workspace.layout import write_private


def etag_of(rules: dict[str, Any]) -> str:
    return '"' + hashlib.sha256(orjson.dumps(rules, option=orjson.OPT_SORT_KEYS)).hexdigest()[:32] + '"'


def load_rules_file(path: Path) -> dict[str, Any]:
    """Rules from a TOML or JSON file (the agent's --config shape)."""
    data = path.read_bytes()
    obj = orjson.loads(data) if path.suffix.lower() == ".json" else tomllib.loads(data.decode("utf-8"))
    if not isinstance(obj, dict):
        raise ValueError("rules must be an object")
    return obj


class FileCache:
    """A JSON file re-read only when its modification time or size changes."""

    def __init__(self, path: Path, default: Any) -> None:
        self.path = path
        self._default = default
        self._stamp: tuple[int, int] | None = None
        self._value: Any = default

    def get(self) -> Any:
        try:
            st = self.path.stat()
        except FileNotFoundError:
            return self._default
        stamp = (st.st_mtime_ns, st.st_size)
        if stamp != self._stamp:
            self._value = orjson.loads(self.path.read_bytes())
            self._stamp = stamp
        return self._value

    def put(self, value: Any) -> None:
        write_private(self.path, orjson.dumps(value, option=orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS))
        self._stamp = None


class AgentRules:
    def __init__(self, path: Path) -> None:
        self._file = FileCache(path, {"rules": {}, "etag": etag_of({})})

    def current(self) -> tuple[dict[str, Any], str]:
        obj = self._file.get()
        return obj["rules"], obj["etag"]

    def set(self, rules: dict[str, Any]) -> str:
        etag = etag_of(rules)
        self._file.put({"rules": rules, "etag": etag})
        return etag


RULE_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$")


@dataclass(frozen=True, slots=True)
class StreamRule:
    stream: str
    table: str
    transform: str | None
    columns: tuple[tuple[str, str], ...]


def validate_dcr(rule_id: str, obj: Any) -> dict[str, StreamRule]:
    """`{"streams": {"Custom-X": {"table": "X_CL", "transformKql": "...", "columns": [{"name", "type"}]}}}`."""
    if not RULE_ID.match(rule_id):
        raise ValueError(f"rule id {rule_id!r} is not valid")
    if not isinstance(obj, dict) or not isinstance(obj.get("streams"), dict) or not obj["streams"]:
        raise ValueError('a data collection rule is {"streams": {"<stream>": {"table": ..., ...}}}')
    out: dict[str, StreamRule] = {}
    for stream, spec in obj["streams"].items():
        if not isinstance(spec, dict) or not isinstance(spec.get("table"), str):
            raise ValueError(f"stream {stream!r} must name its destination table")
        table = spec["table"]
        if not is_custom_table(table) and table not in standard_tables():
            raise ValueError(f"stream {stream!r}: table {table!r} is not standard and does not end in _CL")
        transform = spec.get("transformKql")
        if transform is not None and (not isinstance(transform, str) or not transform.strip()):
            raise ValueError(f"stream {stream!r}: transformKql must be a KQL string")
        if transform is not None and transform.strip() == "source":
            transform = None
        columns: list[tuple[str, str]] = []
        for col in spec.get("columns", []) or []:
            if (
                not isinstance(col, dict)
                or not isinstance(col.get("name"), str)
                or col.get("type") not in KUSTO_TYPES
            ):
                raise ValueError(f"stream {stream!r}: each column is {{name, type}} with a Kusto type")
            columns.append((col["name"], col["type"]))
        out[stream] = StreamRule(stream, table, transform, tuple(columns))
    return out


class DataCollectionRules:
    def __init__(self, path: Path) -> None:
        self._file = FileCache(path, {})

    def all(self) -> dict[str, Any]:
        return dict(self._file.get())

    def stream(self, rule_id: str, stream: str) -> StreamRule | None:
        spec = self._file.get().get(rule_id)
        if spec is None:
            return None
        return validate_dcr(rule_id, spec).get(stream)

    def put(self, rule_id: str, spec: dict[str, Any]) -> None:
        validate_dcr(rule_id, spec)
        rules = self.all()
        rules[rule_id] = spec
        self._file.put(rules)
