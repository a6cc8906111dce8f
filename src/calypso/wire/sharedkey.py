"""SharedKey signing of the HTTP Data Collector API, as Azure defines it.

string-to-sign = "POST\n<content-length>\n<content-type>\nx-ms-date:<rfc1123 date>\n/api/logs"
signature      = base64(HMAC-SHA256(base64decode(key), string-to-sign))
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from datetime import UTC, datetime
from email.utils import format_datetime, parsedate_to_datetime

RESOURCE = "/api/logs"


def rfc1123_now() -> str:
    return format_datetime(datetime.now(UTC), usegmt=True)


def parse_rfc1123(value: str) -> datetime | None:
    try:
        parsed = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if parsed is None:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def sign(
    key_b64: str,
    *,
    date: str,
    content_length: int,
    content_type: str = "application/json",
    method: str = "POST",
    resource: str = RESOURCE,
) -> str:
    to_sign = f"{method}\n{content_length}\n{content_type}\nx-ms-date:{date}\n{resource}"
    digest = hmac.new(base64.b64decode(key_b64), to_sign.encode("utf-8"), hashlib.sha256).digest()
    return base64.b64encode(digest).decode("ascii")


def authorization(
    workspace_id: str, key_b64: str, *, date: str, content_length: int, content_type: str = "application/json"
) -> str:
    signature = sign(key_b64, date=date, content_length=content_length, content_type=content_type)
    return f"SharedKey {workspace_id}:{signature}"


def verify(signature: str, key_b64: str, *, date: str, content_length: int, content_type: str) -> bool:
    """Constant-time check of a presented signature against one key."""
    expected = sign(key_b64, date=date, content_length=content_length, content_type=content_type)
    return hmac.compare_digest(expected.encode("ascii"), signature.strip().encode("ascii", "replace"))
