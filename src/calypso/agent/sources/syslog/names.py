"""Syslog facility and severity codes and the names Azure writes for them in the `Syslog` table.

Invariant: every PRI value 0..191 maps to exactly one (Facility, SeverityLevel) pair of Azure names;
`DEFAULT_PRI` (user.notice, RFC 3164 §4.3.3) stands in when a message has no PRI.
"""

from __future__ import annotations

FACILITIES: tuple[str, ...] = (
    "kern",
    "user",
    "mail",
    "daemon",
    "auth",
    "syslog",
    "lpr",
    "news",
    "uucp",
    "cron",
    "authpriv",
    "ftp",
    "ntp",
    "audit",
    "alert",
    "clock",
    "local0",
    "local1",
    "local2",
    "local3",
    "local4",
    "local5",
    "local6",
    "local7",
)

SEVERITIES: tuple[str, ...] = ("emerg", "alert", "crit", "err", "warning", "notice", "info", "debug")

# Spellings users write in configs (rsyslog/syslog.conf style) -> Azure's name.
SEVERITY_ALIASES: dict[str, str] = {
    "emergency": "emerg",
    "panic": "emerg",
    "critical": "crit",
    "error": "err",
    "warn": "warning",
    "informational": "info",
}
FACILITY_ALIASES: dict[str, str] = {"security": "auth"}

FACILITY_CODE: dict[str, int] = {name: code for code, name in enumerate(FACILITIES)}
SEVERITY_CODE: dict[str, int] = {name: code for code, name in enumerate(SEVERITIES)}

DEFAULT_PRI = 13  # user.notice

# PRI -> (Facility, SeverityLevel), precomputed so the hot path is one tuple index.
PRI_NAMES: tuple[tuple[str, str], ...] = tuple(
    (FACILITIES[pri >> 3], SEVERITIES[pri & 7]) for pri in range(len(FACILITIES) * 8)
)


def facility_name(text: str) -> str:
    """Azure's facility name for a config spelling; raises ValueError naming the known ones."""
    name = text.strip().lower()
    name = FACILITY_ALIASES.get(name, name)
    if name not in FACILITY_CODE:
        raise ValueError(f"unknown syslog facility '{text}' (known: {', '.join(FACILITIES)})")
    return name


def severity_code(text: str) -> int:
    """Numeric severity for a config spelling; raises ValueError naming the known ones."""
    name = text.strip().lower()
    name = SEVERITY_ALIASES.get(name, name)
    if name not in SEVERITY_CODE:
        raise ValueError(f"unknown syslog severity '{text}' (known: {', '.join(SEVERITIES)})")
    return SEVERITY_CODE[name]
