"""A real rsyslog forwards to the Calypso syslog source the way users set it up.

rsyslogd runs unprivileged-style as a subprocess with its own config (no imuxsock/imklog): it
receives messages from `logger` on a TCP input and forwards them with the lines users type —
`*.* @127.0.0.1:PORT` (UDP), `*.* @@127.0.0.1:PORT` (TCP, newline framing) — and an omfwd action with
octet-counted TCP framing. Every message must reach `emit` three times with the right columns.
"""

from __future__ import annotations

import asyncio
import contextlib
import shutil
import socket
import subprocess
from pathlib import Path
from typing import Any

import pytest

from calypso.agent.sources import factory
from calypso.agent.sources.base import Record, SourceContext
from calypso.agent.sources.syslog import SyslogSource

pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(
        shutil.which("rsyslogd") is None, reason="rsyslogd not installed (apt-get install rsyslog)"
    ),
    pytest.mark.skipif(shutil.which("logger") is None, reason="logger (util-linux) not installed"),
]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _rsyslog_conf(work: Path, in_port: int, udp_port: int, tcp_port: int) -> Path:
    conf = work / "rsyslog.conf"
    conf.write_text(
        f'global(workDirectory="{work}")\n'
        'module(load="imtcp")\n'
        f'input(type="imtcp" address="127.0.0.1" port="{in_port}")\n'
        f"*.* @127.0.0.1:{udp_port}\n"
        f"*.* @@127.0.0.1:{tcp_port}\n"
        f'*.* action(type="omfwd" target="127.0.0.1" port="{tcp_port}" protocol="tcp" '
        'TCP_Framing="octet-counted")\n'
    )
    return conf


async def _scenario(tmp_path: Path) -> tuple[list[tuple[str, Record]], dict[str, int], str]:
    udp_port, tcp_port, in_port = _free_port(), _free_port(), _free_port()
    ctx = SourceContext(tmp_path, "collector-host")
    source = factory("syslog")({"udp": f"127.0.0.1:{udp_port}", "tcp": f"127.0.0.1:{tcp_port}"}, ctx)
    assert isinstance(source, SyslogSource)
    got: list[tuple[str, Record]] = []

    async def emit(table: str, records: list[Record], commit: Any = None) -> None:
        got.extend((table, r) for r in records)

    task = asyncio.create_task(source.run(emit))
    conf = _rsyslog_conf(tmp_path, in_port, udp_port, tcp_port)
    proc = subprocess.Popen(
        ["rsyslogd", "-n", "-f", str(conf), "-i", str(tmp_path / "rsyslogd.pid")],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    try:
        for _ in range(100):  # bounded wait for rsyslog's input
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", in_port), 0.2):
                break
            assert proc.poll() is None, proc.stdout.read().decode() if proc.stdout else "rsyslogd exited"
            await asyncio.sleep(0.1)
        logger = ["logger", "-T", "-n", "127.0.0.1", "-P", str(in_port)]
        runs = [
            [*logger, "--rfc3164", "-t", "myapp", "--id=4242", "-p", "auth.warning", "hello from rfc3164"],
            [*logger, "--octet-count", "-t", "svc", "--id=77", "-p", "local3.err", "hello from rfc5424"],
            [*logger, "--rfc3164", "-t", "fw", "-p", "local4.info",
             "CEF:0|Acme|Firewall|2.1|100|Blocked connection|7|src=10.1.2.3 dst=10.9.8.7 dpt=443 act=deny"],
        ]  # fmt: skip
        for cmd in runs:
            subprocess.run(cmd, check=True, timeout=10)
        for _ in range(250):
            if len(got) >= 9:
                break
            await asyncio.sleep(0.02)
        await asyncio.sleep(0.2)
    finally:
        proc.terminate()
        proc.wait(10)
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
    return got, dict(ctx.counters), socket.gethostname()


def test_rsyslog_forwards_udp_tcp_and_octet_counted(tmp_path: Path) -> None:
    got, counters, hostname = asyncio.run(_scenario(tmp_path))
    syslog = [r for t, r in got if t == "Syslog"]
    cef = [r for t, r in got if t == "CommonSecurityLog"]
    assert len(syslog) == 6 and len(cef) == 3, (got, counters)
    assert counters.get("parse_errors", 0) == 0

    first = [r for r in syslog if r["SyslogMessage"] == "hello from rfc3164"]
    assert len(first) == 3
    for r in first:
        assert (r["Facility"], r["SeverityLevel"]) == ("auth", "warning")
        assert (r["ProcessName"], r["ProcessID"]) == ("myapp", 4242)
        assert r["HostIP"] == "127.0.0.1"
        assert r["HostName"] == r["Computer"]
        assert r["HostName"] in {hostname, hostname.split(".")[0]}
        assert r["CollectorHostName"] == "collector-host"
        assert r["EventTime"].endswith("Z")

    # rsyslog's default forwarding format is RFC 3164: the RFC 5424 input arrives without its SD.
    second = [r for r in syslog if r["SyslogMessage"] == "hello from rfc5424"]
    assert len(second) == 3
    for r in second:
        assert (r["Facility"], r["SeverityLevel"], r["ProcessName"], r["ProcessID"]) == (
            "local3",
            "err",
            "svc",
            77,
        )

    for r in cef:
        assert (r["DeviceVendor"], r["DeviceProduct"], r["Activity"], r["LogSeverity"]) == (
            "Acme", "Firewall", "Blocked connection", "7"
        )  # fmt: skip
        assert (r["SourceIP"], r["DestinationIP"], r["DestinationPort"], r["DeviceAction"]) == (
            "10.1.2.3", "10.9.8.7", 443, "deny"
        )  # fmt: skip
