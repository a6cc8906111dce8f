"""The gateway's configuration: a TOML file and command-line flags merged into one frozen value.

Invariant: a `GatewayConfig` that exists is valid (addresses parse, limits are positive, the
allowlist is non-empty, credentials are loaded); every mistake raises `ConfigError` naming the key.
Flags given on the command line override the same keys from the file.

    listen = "0.0.0.0:8080"
    allow = ["ws.example.com", "*.ingest.example.com:8443"]
    health = "127.0.0.1:8081"          # optional separate health address
    auth_file = "/etc/calypso/gateway-users"   # or: user = "agent", password_env = "GW_PASSWORD"
    max_tunnels = 8192
    max_per_client = 1000
    idle_timeout = "10m"
    handshake_timeout = "10s"
    connect_timeout = "10s"
    grace = "30s"
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from calypso.gateway.allowlist import Allowlist, split_host_port
from calypso.gateway.auth import Credentials, load_auth_file, password_from_env
from calypso.wire.errors import ConfigError

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h)?\s*$")
_UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, None: 1.0}


@dataclass(frozen=True, slots=True)
class Address:
    host: str
    port: int

    def __str__(self) -> str:
        return f"[{self.host}]:{self.port}" if ":" in self.host else f"{self.host}:{self.port}"


@dataclass(frozen=True, slots=True)
class GatewayConfig:
    listen: Address
    allow: Allowlist
    credentials: Credentials = field(default_factory=Credentials)
    health: Address | None = None
    max_tunnels: int = 8_192
    max_per_client: int = 1_000
    idle_timeout: float = 600.0
    handshake_timeout: float = 10.0
    connect_timeout: float = 10.0
    grace: float = 30.0
    log_level: str = "info"


def parse_address(key: str, value: object) -> Address:
    if not isinstance(value, str):
        raise ConfigError(f"{key}: expected 'HOST:PORT', got {value!r}")
    try:
        host, port = split_host_port(value, default_port=None, min_port=0)  # 0: any free port
    except ValueError as e:
        raise ConfigError(f"{key}: {e}") from None
    return Address(host or "0.0.0.0", port)


def parse_duration(key: str, value: object) -> float:
    """Seconds from a number or a string such as `500ms`, `10s`, `5m`, `1h`."""
    if isinstance(value, bool):
        raise ConfigError(f"{key}: expected a duration, got {value!r}")
    if isinstance(value, int | float):
        seconds = float(value)
    elif isinstance(value, str) and (m := _DURATION.match(value)):
        seconds = float(m.group(1)) * _UNITS[m.group(2)]
    else:
        raise ConfigError(f"{key}: expected a duration such as '10s' or '5m', got {value!r}")
    if seconds <= 0:
        raise ConfigError(f"{key}: must be positive, got {value!r}")
    return seconds


def _positive_int(key: str, value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise ConfigError(f"{key}: expected a positive integer, got {value!r}")
    return value


def _string_list(key: str, value: object) -> list[str]:
    if isinstance(value, str):
        return [value]
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ConfigError(f"{key}: expected a list of strings, got {value!r}")
    return list(value)


def _credentials(raw: dict[str, Any]) -> Credentials:
    auth_file, user, env = raw.get("auth_file"), raw.get("user"), raw.get("password_env")
    if auth_file is not None and user is not None:
        raise ConfigError("auth: give either auth_file or user/password_env, not both")
    if auth_file is not None:
        return Credentials.of(load_auth_file(Path(str(auth_file))))
    if user is not None or env is not None:
        if not isinstance(user, str) or not isinstance(env, str):
            raise ConfigError("auth: user and password_env go together")
        return Credentials.of({user: password_from_env(env)})
    return Credentials()


KNOWN_KEYS: tuple[str, ...] = (
    "listen",
    "allow",
    "health",
    "auth_file",
    "user",
    "password_env",
    "max_tunnels",
    "max_per_client",
    "idle_timeout",
    "handshake_timeout",
    "connect_timeout",
    "grace",
    "log_level",
)
_LOG_LEVELS = ("debug", "info", "warning", "error")


def build(raw: dict[str, Any]) -> GatewayConfig:
    """Validate a flat mapping of keys (from TOML and/or flags, `None` meaning unset)."""
    raw = {k: v for k, v in raw.items() if v is not None}
    unknown = sorted(set(raw) - set(KNOWN_KEYS))
    if unknown:
        raise ConfigError(f"unknown key(s): {', '.join(unknown)}")
    if "listen" not in raw:
        raise ConfigError("listen: required (HOST:PORT)")
    allow = Allowlist.parse(_string_list("allow", raw.get("allow", [])))
    if not allow.entries:
        raise ConfigError("allow: at least one host to serve is required")
    level = str(raw.get("log_level", "info")).lower()
    if level not in _LOG_LEVELS:
        raise ConfigError(f"log_level: one of {', '.join(_LOG_LEVELS)}, got {level!r}")
    defaults = GatewayConfig(listen=Address("0.0.0.0", 0), allow=allow)
    durations = {
        key: parse_duration(key, raw[key]) if key in raw else getattr(defaults, key)
        for key in ("idle_timeout", "handshake_timeout", "connect_timeout", "grace")
    }
    return GatewayConfig(
        listen=parse_address("listen", raw["listen"]),
        allow=allow,
        credentials=_credentials(raw),
        health=parse_address("health", raw["health"]) if "health" in raw else None,
        max_tunnels=_positive_int("max_tunnels", raw.get("max_tunnels", defaults.max_tunnels)),
        max_per_client=_positive_int("max_per_client", raw.get("max_per_client", defaults.max_per_client)),
        log_level=level,
        **durations,
    )


def load_toml(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as f:
            data = tomllib.load(f)
    except OSError as e:
        raise ConfigError(f"config: cannot read {path}: {e.strerror}") from None
    except tomllib.TOMLDecodeError as e:
        raise ConfigError(f"config: {path}: {e}") from None
    section = data.get("gateway", data)
    if not isinstance(section, dict):
        raise ConfigError(f"config: {path}: [gateway] must be a table")
    return dict(section)


def merge(file_values: dict[str, Any], flag_values: dict[str, Any]) -> dict[str, Any]:
    """Flags override the file; a flag list (such as `allow`) replaces the file's list."""
    merged = dict(file_values)
    merged.update({k: v for k, v in flag_values.items() if v is not None and v != []})
    return merged
