"""Error kinds shared by every sink and transport: what to do next is decided by the type.

- `Permanent`: the receiver rejected the data for good (400/403/413); set it aside, never retry.
- `Retryable`: a transient failure (network, 5xx); retry with backoff.
- `Throttled`: the receiver asked us to slow down (429/503), optionally saying for how long.
"""

from __future__ import annotations


class CalypsoError(Exception):
    """Base of every error Calypso raises on purpose; its message is shown to users as is."""


class Permanent(CalypsoError):
    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


class Retryable(CalypsoError):
    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


class Throttled(Retryable):
    def __init__(self, message: str, retry_after: float | None = None, status: int | None = None) -> None:
        super().__init__(message, status)
        self.retry_after = retry_after


class ConfigError(CalypsoError):
    """A configuration file or flag is wrong; the message names the bad key."""
