"""The `[sources.syslog]` config section, validated into a frozen `SyslogConfig`.

Invariants: a built config is valid (addresses parsed, facility and severity names known, sizes
positive); every problem is reported as a ValueError naming the key. `allowed[pri]` tells in one
index whether a message with that PRI passes the facility and per-facility minimum-severity filters.

```toml
[sources.syslog]
udp = "127.0.0.1:5514"          # any of udp / tcp / unix / unix_stream; at least one
tcp = "127.0.0.1:5514"
unix = "/run/calypso/syslog.sock"          # datagram socket (like /dev/log)
unix_stream = "/run/calypso/syslog-stream.sock"
facilities = ["auth", "authpriv", "daemon"] # default: all
timezone = "UTC"                # zone of RFC 3164 timestamps (they carry none)
max_message_bytes = 65536
[sources.syslog.levels]         # minimum severity per facility ("*" = every facility)
auth = "warning"
```
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from calypso.agent.sources.syslog.names import FACILITIES, facility_name, severity_code

Address = tuple[str, int]


def parse_address(key: str, value: Any) -> Address:
    """`host:port` (IPv6 as `[::1]:514`) -> (host, port); ValueError naming the key otherwise."""
    if not isinstance(value, str) or ":" not in value:
        raise ValueError(f"sources.syslog.{key}: expected 'host:port', got {value!r}")
    host, _, port_text = value.rpartition(":")
    host = host.strip("[]") or "0.0.0.0"
    if not port_text.isdigit() or not 0 <= int(port_text) <= 65535:
        raise ValueError(f"sources.syslog.{key}: bad port in {value!r}")
    return host, int(port_text)


@dataclass(frozen=True)
class SyslogConfig:
    udp: Address | None = None
    tcp: Address | None = None
    unix: str | None = None
    unix_stream: str | None = None
    allowed: tuple[bool, ...] = field(default_factory=lambda: (True,) * (len(FACILITIES) * 8))
    timezone: str = "UTC"
    max_message_bytes: int = 65536
    batch_size: int = 1000
    flush_interval: float = 0.05
    max_pending: int = 2_000_000
    receive_buffer: int = 64 << 20

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    @classmethod
    def from_mapping(cls, raw: Mapping[str, Any]) -> SyslogConfig:
        udp = parse_address("udp", raw["udp"]) if raw.get("udp") else None
        tcp = parse_address("tcp", raw["tcp"]) if raw.get("tcp") else None
        unix = _optional_str(raw, "unix")
        unix_stream = _optional_str(raw, "unix_stream")
        if not (udp or tcp or unix or unix_stream):
            raise ValueError("sources.syslog: give at least one of udp, tcp, unix, unix_stream")
        timezone = str(raw.get("timezone", "UTC"))
        try:
            ZoneInfo(timezone)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"sources.syslog.timezone: unknown zone {timezone!r}") from None
        return cls(
            udp=udp,
            tcp=tcp,
            unix=unix,
            unix_stream=unix_stream,
            allowed=allowed_table(raw.get("facilities"), raw.get("levels", {})),
            timezone=timezone,
            max_message_bytes=_positive(raw, "max_message_bytes", 65536),
            batch_size=_positive(raw, "batch_size", 1000),
            flush_interval=float(raw.get("flush_interval", 0.05)),
            max_pending=_positive(raw, "max_pending", 2_000_000),
            receive_buffer=_positive(raw, "receive_buffer", 64 << 20),
        )


def _optional_str(raw: Mapping[str, Any], key: str) -> str | None:
    value = raw.get(key)
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise ValueError(f"sources.syslog.{key}: expected a path string, got {value!r}")
    return value


def _positive(raw: Mapping[str, Any], key: str, default: int) -> int:
    value = raw.get(key, default)
    if not isinstance(value, int) or isinstance(value, bool) or value <= 0:
        raise ValueError(f"sources.syslog.{key}: expected a positive integer, got {value!r}")
    return value


def allowed_table(facilities: Any, levels: Any, section: str = "sources.syslog") -> tuple[bool, ...]:
    """PRI -> passes the filter, from a facility list (None = all) and facility -> minimum severity."""
    try:
        if facilities is None or facilities == "*" or facilities == ["*"]:
            chosen = set(FACILITIES)
        elif isinstance(facilities, list):
            chosen = {facility_name(str(f)) for f in facilities}
        else:
            raise ValueError(f"expected a list of facility names, got {facilities!r}")
        if not isinstance(levels, Mapping):
            raise ValueError(f"levels: expected a table of facility = severity, got {levels!r}")
        default_min = severity_code(str(levels["*"])) if "*" in levels else 7
        minimum = {facility_name(str(f)): severity_code(str(s)) for f, s in levels.items() if f != "*"}
    except ValueError as e:
        raise ValueError(f"{section}: {e}") from None
    allowed: list[bool] = []
    for code, name in enumerate(FACILITIES):
        for severity in range(8):
            allowed.append(name in chosen and severity <= minimum.get(name, default_min))
        assert len(allowed) == (code + 1) * 8
    return tuple(allowed)
