"""Configuration of a tailed-file source (`[[sources.tail]]`, also the base of `[[sources.w3c]]`).

Invariant: a `TailConfig` is validated once, at build time; a bad value raises `ConfigError` naming
the key, and a built config is never changed (frozen).

`start_at` decides where a file without a checkpoint starts. Like Fluent Bit (and the Azure Monitor
agent), files already present when the source first starts are read from their `"end"` (no flood of
history); files that appear later are always read from the beginning, since every line in them was
written after the source started. `start_at = "beginning"` also reads pre-existing files whole.
A checkpoint, when there is one, always wins.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

from calypso.agent.config import ConfigError, duration, size

# Timestamps at the start of a line that begin a new record when `multiline.timestamp = true`.
TIMESTAMP_START = (
    r"^\s*\[?("
    r"\d{4}-\d{2}-\d{2}[T ]\d{1,2}:\d{2}"  # 2024-05-01 12:00 / ISO 8601
    r"|\d{4}/\d{2}/\d{2} \d{1,2}:\d{2}"  # 2024/05/01 12:00
    r"|[A-Z][a-z]{2} +\d{1,2} \d{2}:\d{2}:\d{2}"  # May  1 12:00:00 (syslog)
    r"|\d{1,2}/[A-Z][a-z]{2}/\d{4}:\d{2}:\d{2}"  # 01/May/2024:12:00 (Apache)
    r"|\d{1,2}/\d{1,2}/\d{4},? \d{1,2}:\d{2}"  # 5/1/2024 12:00
    r"|\d{2}:\d{2}:\d{2}[.,]\d+"  # 12:00:00.123
    r")"
)

ENCODINGS = ("utf-8", "utf-16", "utf-16-le", "utf-16-be")


@dataclass(frozen=True)
class TailConfig:
    name: str
    paths: tuple[str, ...]
    exclude: tuple[str, ...] = ()
    start_at: Literal["end", "beginning"] = "end"
    multiline_start: re.Pattern[str] | None = None
    multiline_timeout: float = 1.0
    encoding: str = "utf-8"
    max_line_bytes: int = 64 * 1024
    poll_interval: float = 0.25
    rotate_wait: float = 5.0
    batch_records: int = 1000
    batch_bytes: int = 1 << 20

    @property
    def table(self) -> str:
        return self.name if self.name.endswith("_CL") else f"{self.name}_CL"


_KEYS = {
    "name",
    "paths",
    "exclude",
    "start_at",
    "multiline",
    "encoding",
    "max_line_bytes",
    "poll_interval",
    "rotate_wait",
    "batch_records",
    "batch_bytes",
}


def _strings(raw: Mapping[str, Any], key: str, where: str) -> tuple[str, ...]:
    value = raw.get(key, [])
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list | tuple) or not all(isinstance(v, str) and v for v in value):
        raise ConfigError(f"{where}.{key}: expected a list of non-empty strings")
    return tuple(value)


def parse_config(
    raw: Mapping[str, Any], where: str = "sources.tail", name_required: bool = True
) -> TailConfig:
    unknown = set(raw) - _KEYS
    if unknown:
        raise ConfigError(f"{where}: unknown key(s) {', '.join(sorted(unknown))}")
    name = raw.get("name", "")
    if name_required and not (isinstance(name, str) and re.fullmatch(r"[A-Za-z][A-Za-z0-9_]{0,59}", name)):
        raise ConfigError(f"{where}.name: expected a table name of letters, digits and '_', got {name!r}")
    paths = _strings(raw, "paths", where)
    if not paths:
        raise ConfigError(f"{where}.paths: at least one path or glob is required")
    start_at = raw.get("start_at", "end")
    if start_at not in ("end", "beginning"):
        raise ConfigError(f'{where}.start_at: expected "end" or "beginning", got {start_at!r}')
    encoding = str(raw.get("encoding", "utf-8")).lower()
    if encoding not in ENCODINGS:
        raise ConfigError(f"{where}.encoding: expected one of {', '.join(ENCODINGS)}, got {encoding!r}")
    multiline = raw.get("multiline", {})
    if not isinstance(multiline, Mapping):
        raise ConfigError(f"{where}.multiline: expected a table")
    pattern: re.Pattern[str] | None = None
    if "start_pattern" in multiline:
        try:
            pattern = re.compile(str(multiline["start_pattern"]))
        except re.error as e:
            raise ConfigError(f"{where}.multiline.start_pattern: invalid regex ({e})") from None
    elif multiline.get("timestamp") is True:
        pattern = re.compile(TIMESTAMP_START)
    max_line = size(raw.get("max_line_bytes", 64 * 1024), f"{where}.max_line_bytes")
    if max_line < 16:
        raise ConfigError(f"{where}.max_line_bytes: must be at least 16")
    return TailConfig(
        name=name if isinstance(name, str) else "",
        paths=paths,
        exclude=_strings(raw, "exclude", where),
        start_at=start_at,
        multiline_start=pattern,
        multiline_timeout=duration(multiline.get("timeout", 1.0), f"{where}.multiline.timeout"),
        encoding=encoding,
        max_line_bytes=max_line,
        poll_interval=duration(raw.get("poll_interval", 0.25), f"{where}.poll_interval"),
        rotate_wait=duration(raw.get("rotate_wait", 5.0), f"{where}.rotate_wait"),
        batch_records=max(1, int(raw.get("batch_records", 1000))),
        batch_bytes=size(raw.get("batch_bytes", 1 << 20), f"{where}.batch_bytes"),
    )
