"""RFC 5424 syslog header parser: `VERSION TIMESTAMP HOSTNAME APP-NAME PROCID MSGID SD [MSG]` after the PRI.

Invariants:
- never raises on any str input; a header with missing fields or an unterminated STRUCTURED-DATA
  element yields `Header(ok=False)` with the text after the PRI kept whole as the message;
- STRUCTURED-DATA is kept verbatim (escapes untouched) at the start of the message, followed by a
  space and MSG, the way Azure's `SyslogMessage` shows it (`msg_at` marks where MSG starts); a UTF-8
  BOM before MSG is removed; runs of spaces between header fields count as one;
- NILVALUE (`-`) fields become None.
"""

from __future__ import annotations

import re
from datetime import UTC, tzinfo

from calypso.agent.sources.syslog.header import Header, parse_iso, parse_pid

VERSION = re.compile(r"[1-9]\d{0,2} ")
_SPACES = re.compile(" +")


def is_rfc5424(text: str) -> bool:
    """True when the text after the PRI starts with an RFC 5424 VERSION field."""
    return VERSION.match(text) is not None


def _nil(token: str) -> str | None:
    return None if token == "-" else token


def structured_data_end(text: str, pos: int) -> int:
    """Index just after the STRUCTURED-DATA elements starting at pos (a `[`), or -1 if unterminated."""
    n = len(text)
    while pos < n and text[pos] == "[":
        pos += 1
        quoted = False
        while True:
            if pos >= n:
                return -1
            c = text[pos]
            if quoted:
                if c == "\\":
                    pos += 1
                elif c == '"':
                    quoted = False
            elif c == '"':
                quoted = True
            elif c == "]":
                pos += 1
                break
            pos += 1
    return pos


def parse(text: str, zone: tzinfo = UTC) -> Header:
    """Parse the text after the PRI of an RFC 5424 message."""
    parts = text.split(" ", 6)
    if len(parts) < 7:
        return Header(None, None, None, None, text, False)
    _version, ts, host, app, procid, msgid, rest = parts
    if not (ts and host and app and procid and msgid):  # doubled spaces between header fields
        parts = _SPACES.split(text, 6)
        if len(parts) < 7:
            return Header(None, None, None, None, text, False)
        _version, ts, host, app, procid, msgid, rest = parts
    event_time = None if ts == "-" else parse_iso(ts, zone)
    if rest.startswith("-"):
        sd = ""
        msg = rest[2:] if rest.startswith("- ") else rest[1:]
    elif rest.startswith("["):
        end = structured_data_end(rest, 0)
        if end < 0:
            return Header(event_time, _nil(host), _nil(app), parse_pid(procid), text, False)
        sd = rest[:end]
        msg = rest[end + 1 :] if rest.startswith(" ", end) else rest[end:]
    else:
        return Header(event_time, _nil(host), _nil(app), parse_pid(procid), text, False)
    if msg.startswith("\ufeff"):
        msg = msg[1:]
    if sd:
        if not msg:
            return Header(event_time, _nil(host), _nil(app), parse_pid(procid), sd, True, len(sd))
        return Header(event_time, _nil(host), _nil(app), parse_pid(procid), f"{sd} {msg}", True, len(sd) + 1)
    return Header(event_time, _nil(host), _nil(app), parse_pid(procid), msg, True)
