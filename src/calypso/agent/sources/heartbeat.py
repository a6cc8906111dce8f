"""Heartbeat: one row per interval (default a minute) saying this agent is alive, as Azure's agent does.

Every workspace the agent reports to receives it, so `Heartbeat | summarize max(TimeGenerated) by
Computer` shows which machines went quiet.
"""

from __future__ import annotations

import asyncio
import platform
import socket
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psutil

from calypso import __version__
from calypso.agent.config import duration
from calypso.agent.sources.base import Emit, Record, SourceContext, iso
from calypso.wire.errors import ConfigError


def os_release(path: Path = Path("/etc/os-release")) -> dict[str, str]:
    info: dict[str, str] = {}
    try:
        for line in path.read_text().splitlines():
            key, sep, value = line.partition("=")
            if sep:
                info[key.strip()] = value.strip().strip('"')
    except OSError:
        pass
    return info


def private_ips() -> list[str]:
    ips: list[str] = []
    for name, addrs in sorted(psutil.net_if_addrs().items()):
        for a in addrs:
            if a.family == socket.AF_INET and not a.address.startswith("127.") and name != "lo":
                ips.append(a.address)
    return ips


class HeartbeatSource:
    def __init__(self, name: str, ctx: SourceContext, interval: float):
        self.name, self.ctx, self.interval = name, ctx, interval
        self.sent = 0
        release = os_release()
        version = release.get("VERSION_ID", platform.release())
        major, _, minor = version.partition(".")
        self._static: Record = {
            "Category": "Direct Agent",
            "OSType": "Linux" if platform.system() == "Linux" else platform.system(),
            "OSName": release.get("NAME", platform.system()),
            "OSMajorVersion": major,
            "OSMinorVersion": minor or "0",
            "Version": __version__,
            "ComputerEnvironment": "Non-Azure",
            "SCAgentChannel": "Direct",
            "IsGatewayInstalled": False,
            "Solutions": "",
        }

    def record(self) -> Record:
        ips = private_ips()
        return {
            **self._static,
            "TimeGenerated": iso(datetime.now(UTC)),
            "Computer": self.ctx.computer,
            "ComputerIP": ips[0] if ips else "127.0.0.1",
            "ComputerPrivateIPs": ips,
        }

    async def run(self, emit: Emit) -> None:
        while True:
            await emit("Heartbeat", [self.record()])
            self.sent += 1
            await asyncio.sleep(self.interval)

    def status(self) -> Mapping[str, Any]:
        return {"heartbeats": self.sent, "interval_s": self.interval}


def build(config: Mapping[str, Any], ctx: SourceContext) -> HeartbeatSource:
    unknown = set(config) - {"interval", "name"}
    if unknown:
        raise ConfigError(f"unknown key 'sources.heartbeat.{sorted(unknown)[0]}' (allowed: interval)")
    return HeartbeatSource(
        "heartbeat", ctx, duration(config.get("interval", 60), "sources.heartbeat.interval")
    )
