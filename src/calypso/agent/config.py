"""The agent's configuration: a local TOML file merged with the rules each workspace serves.

Both use one shape (DESIGN.md): `[sources.<kind>]` tables (or `[[sources.<kind>]]` arrays for kinds
that run several times). The local file may also hold `[agent]`, `[buffer]` and `[delivery]`.
Unknown keys are errors that name the key; a source's own keys are validated by its factory.
Rules from workspaces are applied first and the local file overrides them section by section, so an
operator on the machine always has the last word.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, cast

from calypso.wire.errors import ConfigError

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)?\s*$")
_SIZE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(b|kb|kib|mb|mib|gb|gib)?\s*$", re.IGNORECASE)
_UNITS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400, None: 1}
_SIZES = {"b": 1, "kb": 1000, "kib": 1024, "mb": 10**6, "mib": 1 << 20, "gb": 10**9, "gib": 1 << 30, None: 1}


def duration(value: Any, key: str) -> float:
    """Seconds from `30`, `"30s"`, `"500ms"`, `"5m"`, `"1h"`."""
    if isinstance(value, bool):
        raise ConfigError(f'{key}: expected a duration like "30s", got {value!r}')
    if isinstance(value, int | float):
        seconds = float(value)
    else:
        m = _DURATION.match(str(value))
        if not m:
            raise ConfigError(f'{key}: expected a duration like "30s" or "5m", got {value!r}')
        seconds = float(m.group(1)) * _UNITS[m.group(2)]
    if seconds <= 0:
        raise ConfigError(f"{key}: must be positive, got {value!r}")
    return seconds


def size(value: Any, key: str) -> int:
    """Bytes from `1048576`, `"64MiB"`, `"1GB"`."""
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    m = _SIZE.match(str(value))
    if not m:
        raise ConfigError(f'{key}: expected a size like "64MiB", got {value!r}')
    unit = m.group(2).lower() if m.group(2) else None
    return int(float(m.group(1)) * _SIZES[unit])


@dataclass(frozen=True)
class BufferConfig:
    max_bytes: int = 1 << 30
    fsync: Literal["always", "interval", "never"] = "interval"
    overflow: Literal["block", "drop_oldest"] = "block"


@dataclass(frozen=True)
class DeliveryConfig:
    max_request_bytes: int = 4 << 20
    max_retry_delay: float = 60.0
    rules_poll_interval: float = 30.0
    status_interval: float = 5.0
    stats_interval: float = 60.0


@dataclass(frozen=True)
class AgentConfig:
    computer: str | None = None
    labels: Mapping[str, str] = field(default_factory=dict)
    buffer: BufferConfig = field(default_factory=BufferConfig)
    delivery: DeliveryConfig = field(default_factory=DeliveryConfig)
    sources: Mapping[str, Any] = field(default_factory=dict)


def _check_keys(section: Mapping[str, Any], allowed: set[str], where: str) -> None:
    for key in section:
        if key not in allowed:
            raise ConfigError(f"unknown key '{where}{key}' (allowed: {', '.join(sorted(allowed))})")


def _table(raw: Mapping[str, Any], key: str) -> Mapping[str, Any]:
    value = raw.get(key, {})
    if not isinstance(value, Mapping):
        raise ConfigError(f"'{key}' must be a table ([{key}])")
    return value


def parse(raw: Mapping[str, Any]) -> AgentConfig:
    _check_keys(raw, {"agent", "buffer", "delivery", "sources"}, "")
    agent, buf, dlv, sources = (_table(raw, k) for k in ("agent", "buffer", "delivery", "sources"))
    _check_keys(agent, {"computer", "labels"}, "agent.")
    _check_keys(buf, {"max_bytes", "fsync", "overflow"}, "buffer.")
    _check_keys(
        dlv,
        {"max_request_bytes", "max_retry_delay", "rules_poll_interval", "status_interval", "stats_interval"},
        "delivery.",
    )
    fsync = buf.get("fsync", "interval")
    if fsync not in ("always", "interval", "never"):
        raise ConfigError(f"buffer.fsync: expected always, interval or never, got {fsync!r}")
    overflow = buf.get("overflow", "block")
    if overflow not in ("block", "drop_oldest"):
        raise ConfigError(f"buffer.overflow: expected block or drop_oldest, got {overflow!r}")
    defaults = DeliveryConfig()
    delivery = DeliveryConfig(
        max_request_bytes=size(
            dlv.get("max_request_bytes", defaults.max_request_bytes), "delivery.max_request_bytes"
        ),
        **{
            k: duration(dlv.get(k, getattr(defaults, k)), f"delivery.{k}")
            for k in ("max_retry_delay", "rules_poll_interval", "status_interval", "stats_interval")
        },
    )
    labels = agent.get("labels", {})
    if not isinstance(labels, Mapping):
        raise ConfigError('agent.labels must be a table of name = "value"')
    computer = agent.get("computer")
    if computer is not None and not isinstance(computer, str):
        raise ConfigError("agent.computer must be a string")
    return AgentConfig(
        computer=computer,
        labels={str(k): str(v) for k, v in labels.items()},
        buffer=BufferConfig(
            size(buf.get("max_bytes", 1 << 30), "buffer.max_bytes"), cast(Any, fsync), cast(Any, overflow)
        ),
        delivery=delivery,
        sources=dict(sources),
    )


def load(path: Path | None) -> AgentConfig:
    if path is None:
        return parse({})
    try:
        raw = tomllib.loads(path.read_text("utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"config file not found: {path}") from None
    except tomllib.TOMLDecodeError as e:
        raise ConfigError(f"{path}: invalid TOML: {e}") from None
    return parse(raw)


def effective_sources(local: Mapping[str, Any], rules: list[Mapping[str, Any]]) -> dict[str, Any]:
    """Workspace rules merged in order, then the local file's sections on top."""
    merged: dict[str, Any] = {}
    for rule_set in rules:
        sources = rule_set.get("sources", {})
        if isinstance(sources, Mapping):
            merged.update(sources)
    merged.update(local)
    return merged


def instances(sources: Mapping[str, Any]) -> list[tuple[str, str, Mapping[str, Any]]]:
    """(instance name, kind, section) for every source to run; arrays give one instance per entry."""
    out: list[tuple[str, str, Mapping[str, Any]]] = []
    for kind, section in sources.items():
        if isinstance(section, list):
            for i, entry in enumerate(section):
                if not isinstance(entry, Mapping):
                    raise ConfigError(f"sources.{kind}[{i}] must be a table")
                if entry.get("enabled", True) is False:
                    continue
                out.append((f"{kind}.{entry.get('name', i)}", kind, entry))
        elif isinstance(section, Mapping):
            if section.get("enabled", True) is False:
                continue
            out.append((kind, kind, section))
        else:
            raise ConfigError(f"sources.{kind} must be a table or an array of tables")
    return out
