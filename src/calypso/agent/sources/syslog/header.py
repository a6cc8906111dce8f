"""The parsed form of a syslog header, shared by the RFC 3164 and RFC 5424 parsers.

Invariant: a `Header` is what the parsers could prove from the text; `ok` is False when the header
did not follow its format, in which case `message` holds the whole text after the PRI, unaltered.
`event_time` is already in the wire form (`base.iso`) or None when the message carries no usable time.
`msg_at` is where MSG starts inside `message` (after RFC 5424 STRUCTURED-DATA), so a CEF body is found.
"""

from __future__ import annotations

from datetime import UTC, datetime, tzinfo
from typing import NamedTuple

from calypso.agent.sources.base import iso


class Header(NamedTuple):
    event_time: str | None
    host: str | None
    app: str | None
    pid: int | None
    message: str
    ok: bool
    msg_at: int = 0


MAX_PID = 2**31 - 1


def parse_pid(text: str | None) -> int | None:
    """ProcessID as Azure stores it (int) when the PROCID is a decimal number that fits, else None."""
    if text and text.isdigit() and text.isascii():
        value = int(text)
        if value <= MAX_PID:
            return value
    return None


def parse_iso(text: str, zone: tzinfo = UTC) -> str | None:
    """An RFC 3339 timestamp in wire form, or None if it is not one. Zone-less times are taken in `zone`."""
    if not text:
        return None
    text = text.replace(" ", "T", 1)
    if text[-1] in "Zz":
        text = text[:-1] + "+00:00"
    dot = text.find(".")
    if dot > 0:  # fromisoformat takes at most 6 fraction digits
        end = dot + 1
        while end < len(text) and text[end].isdigit():
            end += 1
        text = f"{text[: dot + 1]}{(text[dot + 1 : end] + '000000')[:6]}{text[end:]}"
    try:
        dt = datetime.fromisoformat(text)
    except ValueError:
        if text[16:19] != ":60":
            return None
        try:  # a leap second: the last instant of its minute
            dt = datetime.fromisoformat(f"{text[:17]}59{text[19:]}").replace(microsecond=999_999)
        except ValueError:
            return None
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=zone)
    try:
        return iso(dt)
    except OverflowError:  # year 1 with a positive offset, ...
        return None
