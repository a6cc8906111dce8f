"""Parsing of the one HTTP/1.x request head a client sends before its tunnel, and the answers to it.

Invariant: `parse_head` either returns a `RequestHead` whose method, target and version are
well-formed tokens, or raises `HeadError` carrying the status to answer (400 malformed, 431 too
large); it never raises anything else, whatever bytes it is given. Responses always close the
connection (`Connection: close`) except the tunnel's `200 Connection established`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

MAX_HEAD_BYTES = 8 * 1024
MAX_HEADERS = 100

_TOKEN = re.compile(rb"^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$")
_VERSION = re.compile(rb"^HTTP/1\.[01]$")
_TARGET = re.compile(rb"^[\x21-\x7e]+$")

REASONS: dict[int, str] = {
    200: "OK",
    400: "Bad Request",
    403: "Forbidden",
    405: "Method Not Allowed",
    407: "Proxy Authentication Required",
    408: "Request Timeout",
    429: "Too Many Requests",
    431: "Request Header Fields Too Large",
    502: "Bad Gateway",
    503: "Service Unavailable",
    504: "Gateway Timeout",
}

ESTABLISHED = b"HTTP/1.1 200 Connection established\r\n\r\n"


class HeadError(Exception):
    """The head cannot be served; `status` is the HTTP status to answer with."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


@dataclass(frozen=True, slots=True)
class RequestHead:
    method: str
    target: str
    version: str
    headers: tuple[tuple[str, str], ...]  # names lower-cased, in order

    def header(self, name: str) -> str | None:
        name = name.lower()
        for key, value in self.headers:
            if key == name:
                return value
        return None


def find_head_end(buffer: bytes | bytearray) -> int:
    """Index just past the blank line ending the head, or -1 if it has not arrived yet."""
    end = buffer.find(b"\r\n\r\n")
    return -1 if end < 0 else end + 4


def parse_head(raw: bytes) -> RequestHead:
    """Parse a complete head (request line + headers + blank line)."""
    if len(raw) > MAX_HEAD_BYTES:
        raise HeadError(431, f"request head larger than {MAX_HEAD_BYTES} bytes")
    lines = raw.split(b"\r\n")
    while lines and lines[-1] == b"":
        lines.pop()
    if not lines:
        raise HeadError(400, "empty request")
    parts = lines[0].split(b" ")
    if len(parts) != 3:
        raise HeadError(400, "malformed request line")
    method, target, version = parts
    if not _TOKEN.match(method) or not _TARGET.match(target) or not _VERSION.match(version):
        raise HeadError(400, "malformed request line")
    if len(lines) - 1 > MAX_HEADERS:
        raise HeadError(431, f"more than {MAX_HEADERS} header fields")
    headers: list[tuple[str, str]] = []
    for line in lines[1:]:
        name, sep, value = line.partition(b":")
        if not sep or not _TOKEN.match(name):
            raise HeadError(400, "malformed header field")
        try:
            text = value.strip(b" \t").decode("latin-1")
        except UnicodeDecodeError:  # pragma: no cover - latin-1 decodes every byte
            raise HeadError(400, "malformed header field") from None
        if any(c in text for c in "\r\n\0"):
            raise HeadError(400, "malformed header field")
        headers.append((name.decode("ascii").lower(), text))
    return RequestHead(
        method.decode("ascii"), target.decode("ascii"), version.decode("ascii"), tuple(headers)
    )


def response(
    status: int,
    body: str | bytes = "",
    headers: tuple[tuple[str, str], ...] = (),
    content_type: str = "text/plain; charset=utf-8",
) -> bytes:
    """A complete response that ends the connection; a text body gets a trailing newline."""
    payload = body if isinstance(body, bytes) else (body + "\n").encode() if body else b""
    lines = [f"HTTP/1.1 {status} {REASONS.get(status, 'Error')}"]
    lines += [f"{name}: {value}" for name, value in headers]
    lines += [f"Content-Type: {content_type}", f"Content-Length: {len(payload)}", "Connection: close", "", ""]
    return "\r\n".join(lines).encode("latin-1") + payload
