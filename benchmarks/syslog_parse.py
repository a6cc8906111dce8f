"""Parse rates of the syslog and CEF parsers, in records per second on one core.

Each row parses a batch of varied messages (bytes -> finished record dict, as the source does) for
about `--seconds` and reports records/s. Single-threaded: the figure is per core.

    .venv/bin/python benchmarks/syslog_parse.py [--seconds 3]
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import TypeVar

from calypso.agent.sources import cef
from calypso.agent.sources.syslog.parse import MessageParser

N = 20_000
T = TypeVar("T")


def rfc3164() -> list[bytes]:
    return [
        b"<38>Nov 25 09:%02d:%02d web%d sshd[%d]: Accepted publickey for user%d from 10.0.%d.%d port 22 ssh2"
        % (i % 60, i % 60, i % 50, 1000 + i, i % 1000, i % 250, i % 200)
        for i in range(N)
    ]


def rfc5424() -> list[bytes]:
    return [
        b'<165>1 2026-11-25T09:00:%02d.%06dZ host%d.example.com app%d %d ID47 [exampleSDID@32473 iut="3" '
        b'eventSource="Application" eventID="%d"] An application event log entry number %d'
        % (i % 60, i, i % 50, i % 7, i, i, i)
        for i in range(N)
    ]


def cef_syslog() -> list[bytes]:
    return [
        b"<134>Nov 25 09:00:%02d fw%d CEF:0|Citrix|NetScaler|NS13.1|APPFW|APPFW_STARTURL|6|src=10.10.%d.%d "
        b"spt=%d method=GET request=http://www.example.org/www/login.html msg=Disallow Illegal URL. "
        b"cn1=%d cn2=205 cs1=def_profile cs2=PPE0 cs4=ALERT cs5=2022 act=blocked"
        % (i % 60, i % 10, i % 250, i % 200, 1024 + i % 60000, i)
        for i in range(N)
    ]


def measure(fn: Callable[[T], object], data: list[T], seconds: float) -> float:
    done = 0
    start = time.perf_counter()
    while time.perf_counter() - start < seconds:
        for item in data:
            fn(item)
        done += len(data)
    return done / (time.perf_counter() - start)


def main(seconds: float) -> None:
    parser = MessageParser("bench")
    now = datetime.now(UTC)

    def full(data: bytes) -> object:
        return parser.parse(data, "10.0.0.1", now, "2026-11-25T09:00:00.000000Z")

    cef_bodies = [d.split(b" ", 4)[4].decode() for d in cef_syslog()]

    def cef_only(text: str) -> object:
        event = cef.parse(text)
        assert event is not None
        return cef.to_record(event)

    rows = [
        ("RFC 3164 -> Syslog record", measure(full, rfc3164(), seconds)),
        ("RFC 5424 (with SD) -> Syslog record", measure(full, rfc5424(), seconds)),
        ("CEF in RFC 3164 -> CommonSecurityLog record", measure(full, cef_syslog(), seconds)),
        ("CEF body only -> CommonSecurityLog record", measure(cef_only, cef_bodies, seconds)),
    ]
    print(f"Parse rates, one core, {N} distinct messages per pass, ~{seconds:g} s each")
    print("| input                                        | records/s |")
    print("|----------------------------------------------|-----------|")
    for name, rate in rows:
        print(f"| {name:<44} | {rate:>9,.0f} |")


if __name__ == "__main__":
    ap = argparse.ArgumentParser()
    ap.add_argument("--seconds", type=float, default=3.0)
    main(ap.parse_args().seconds)
