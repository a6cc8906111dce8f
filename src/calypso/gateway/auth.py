"""Basic authentication of the gateway's clients (the `Proxy-Authorization` header).

Invariant: `Credentials.check` takes time independent of how much of a password is right (every
comparison goes through `hmac.compare_digest` over SHA-256 digests, and an unknown user is compared
against a dummy digest), and returns a verdict, never raises, for any header value. Passwords are
arbitrary text (including `@`, `:` and `%`); only the user name may not contain `:` (RFC 7617).
"""

from __future__ import annotations

import base64
import binascii
import enum
import hashlib
import hmac
import os
from dataclasses import dataclass
from pathlib import Path

from calypso.wire.errors import ConfigError

REALM = "calypso-gateway"
CHALLENGE = ("Proxy-Authenticate", f'Basic realm="{REALM}", charset="UTF-8"')
_DUMMY = hashlib.sha256(b"calypso-gateway-no-such-user").digest()


class Verdict(enum.Enum):
    OK = "ok"
    MISSING = "auth_missing"  # no Proxy-Authorization header, or not Basic
    FAILED = "auth_failed"  # malformed, unknown user or wrong password


def _digest(secret: str) -> bytes:
    return hashlib.sha256(secret.encode("utf-8")).digest()


@dataclass(frozen=True, slots=True)
class Credentials:
    """User name → SHA-256 of the password; empty means no authentication is asked."""

    digests: tuple[tuple[str, bytes], ...] = ()

    @classmethod
    def of(cls, users: dict[str, str]) -> Credentials:
        for user in users:
            if not user or ":" in user:
                raise ConfigError(f"auth: user name {user!r} must be non-empty and contain no ':'")
        return cls(tuple((user, _digest(password)) for user, password in sorted(users.items())))

    @property
    def required(self) -> bool:
        return bool(self.digests)

    def check(self, header: str | None) -> Verdict:
        if not self.required:
            return Verdict.OK
        if header is None:
            return Verdict.MISSING
        scheme, _, token = header.strip().partition(" ")
        if scheme.lower() != "basic":
            return Verdict.MISSING
        try:
            decoded = base64.b64decode(token.strip(), validate=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError, ValueError):
            return Verdict.FAILED
        user, sep, password = decoded.partition(":")
        if not sep:
            return Verdict.FAILED
        expected = dict(self.digests).get(user)
        ok = hmac.compare_digest(_digest(password), expected if expected is not None else _DUMMY)
        return Verdict.OK if ok and expected is not None else Verdict.FAILED


def load_auth_file(path: Path) -> dict[str, str]:
    """Read `user:password` lines (the first `:` separates them; `#` starts a comment line)."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as e:
        raise ConfigError(f"auth-file: cannot read {path}: {e.strerror}") from None
    users: dict[str, str] = {}
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        user, sep, password = line.partition(":")
        if not sep or not user.strip() or not password:
            raise ConfigError(f"auth-file: {path}:{number}: expected 'user:password'")
        users[user.strip()] = password
    if not users:
        raise ConfigError(f"auth-file: {path} names no user")
    return users


def password_from_env(variable: str) -> str:
    value = os.environ.get(variable)
    if not value:
        raise ConfigError(f"password-env: environment variable {variable} is not set or empty")
    return value
