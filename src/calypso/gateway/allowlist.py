"""Which CONNECT targets the gateway serves.

Invariant: a target is allowed only if its host matches an entry exactly (case-insensitive, trailing
dot ignored) or matches a `*.suffix` wildcard (one or more labels before the suffix, never the bare
suffix itself), and its port equals the entry's port (443 when the entry names none). Nothing else
is ever allowed: an empty allowlist refuses every target.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass

from calypso.wire.errors import ConfigError

DEFAULT_PORT = 443
_LABEL = re.compile(r"^[a-z0-9_]([a-z0-9_-]{0,61}[a-z0-9_])?$")


@dataclass(frozen=True, slots=True)
class Target:
    """A CONNECT target: a normalised host (lower case, no brackets, no trailing dot) and a port."""

    host: str
    port: int

    def __str__(self) -> str:
        return f"[{self.host}]:{self.port}" if ":" in self.host else f"{self.host}:{self.port}"


@dataclass(frozen=True, slots=True)
class AllowEntry:
    host: str  # normalised; for a wildcard, the suffix after "*." (e.g. "example.com")
    port: int
    wildcard: bool = False

    def matches(self, target: Target) -> bool:
        if target.port != self.port:
            return False
        if self.wildcard:
            return target.host.endswith("." + self.host)
        return target.host == self.host

    def __str__(self) -> str:
        host = f"*.{self.host}" if self.wildcard else self.host
        return str(Target(host, self.port))


def normalise_host(host: str) -> str:
    """Lower-case a host name or IP literal and check it is well formed; raise ValueError if not."""
    host = host.strip()
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    if not host:
        raise ValueError("empty host")
    try:
        return ipaddress.ip_address(host).compressed
    except ValueError:
        pass
    name = host.lower().removesuffix(".")
    if len(name) > 253 or not all(_LABEL.match(label) for label in name.split(".")):
        raise ValueError(f"not a valid host name: {host!r}")
    return name


def split_host_port(text: str, default_port: int | None, min_port: int = 1) -> tuple[str, int]:
    """Split `host`, `host:port`, `[v6]` or `[v6]:port`; raise ValueError when malformed."""
    text = text.strip()
    if text.startswith("["):
        end = text.find("]")
        if end < 0:
            raise ValueError(f"unclosed '[' in {text!r}")
        host, rest = text[1:end], text[end + 1 :]
        if rest and not rest.startswith(":"):
            raise ValueError(f"unexpected text after ']' in {text!r}")
        port_text = rest[1:] if rest else None
    elif text.count(":") == 1:
        host, port_text = text.split(":")
    elif ":" in text:
        raise ValueError(f"IPv6 addresses need brackets: {text!r}")
    else:
        host, port_text = text, None
    if port_text is None:
        if default_port is None:
            raise ValueError(f"missing port in {text!r}")
        return host, default_port
    if not port_text.isdigit() or not min_port <= int(port_text) < 65536:
        raise ValueError(f"bad port in {text!r}")
    return host, int(port_text)


def parse_target(authority: str) -> Target:
    """Parse a CONNECT request target (authority form, port required); raise ValueError if malformed."""
    host, port = split_host_port(authority, default_port=None)
    return Target(normalise_host(host), port)


def parse_entry(text: str) -> AllowEntry:
    """Parse one `--allow` value: `host`, `host:port`, `*.suffix[:port]`, `[v6][:port]`."""
    try:
        host, port = split_host_port(text, default_port=DEFAULT_PORT)
        wildcard = host.startswith("*.")
        if "*" in (host[2:] if wildcard else host):
            raise ValueError("'*' is only allowed as the first label, as in *.example.com")
        return AllowEntry(normalise_host(host[2:] if wildcard else host), port, wildcard)
    except ValueError as e:
        raise ConfigError(f"allow: {e}") from None


@dataclass(frozen=True, slots=True)
class Allowlist:
    entries: tuple[AllowEntry, ...]

    @classmethod
    def parse(cls, values: list[str] | tuple[str, ...]) -> Allowlist:
        return cls(tuple(dict.fromkeys(parse_entry(v) for v in values)))

    def allows(self, target: Target) -> bool:
        return any(entry.matches(target) for entry in self.entries)

    def __str__(self) -> str:
        return ",".join(str(e) for e in self.entries)
