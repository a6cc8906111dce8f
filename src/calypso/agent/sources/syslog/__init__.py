"""Syslog source: RFC 3164 / RFC 5424 (and CEF inside them) over UDP, TCP and Unix sockets.

Modules: `names` (Azure facility/severity names), `rfc3164` / `rfc5424` (header parsers),
`parse` (bytes -> record), `framing` (RFC 6587 stream framing), `config`, `listeners`, `source`.
"""

from __future__ import annotations

from calypso.agent.sources.syslog.config import SyslogConfig
from calypso.agent.sources.syslog.parse import MessageParser
from calypso.agent.sources.syslog.source import SyslogSource, build

__all__ = ["MessageParser", "SyslogConfig", "SyslogSource", "build"]
