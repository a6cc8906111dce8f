"""The gateway's counters and the health document built from them.

Invariant: counters only grow, except `tunnels_open`/`connections_open`, which equal the number of
live tunnels/client connections at every instant (incremented and decremented exactly once each by
the proxy). Every refusal is counted under exactly one reason from `REASONS`. The health document (JSON) and
the Prometheus text are two renderings of the same snapshot.
"""

from __future__ import annotations

import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

# reason -> HTTP status answered for it
REASONS: dict[str, int] = {
    "bad_request": 400,
    "method_not_allowed": 405,
    "header_too_large": 431,
    "not_allowed": 403,
    "auth_missing": 407,
    "auth_failed": 407,
    "tunnel_limit": 503,
    "client_limit": 429,
    "upstream_failed": 502,
    "upstream_timeout": 504,
    "handshake_timeout": 408,
    "shutting_down": 503,
}


@dataclass(slots=True)
class Counters:
    started: float = field(default_factory=time.time)
    started_mono: float = field(default_factory=time.monotonic)
    connections_open: int = 0
    connections_total: int = 0
    tunnels_open: int = 0
    tunnels_total: int = 0
    bytes_up: int = 0  # client -> upstream
    bytes_down: int = 0  # upstream -> client
    idle_closed: int = 0
    health_requests: int = 0
    refusals: Counter[str] = field(default_factory=Counter)
    draining: bool = False

    def refuse(self, reason: str) -> None:
        assert reason in REASONS, reason
        self.refusals[reason] += 1

    def snapshot(self) -> dict[str, Any]:
        return {
            "status": "draining" if self.draining else "ok",
            "uptime": round(time.monotonic() - self.started_mono, 3),
            "started": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(self.started)),
            "connections_open": self.connections_open,
            "connections_total": self.connections_total,
            "tunnels_open": self.tunnels_open,
            "tunnels_total": self.tunnels_total,
            "bytes_up": self.bytes_up,
            "bytes_down": self.bytes_down,
            "idle_closed": self.idle_closed,
            "health_requests": self.health_requests,
            "refusals": {reason: self.refusals.get(reason, 0) for reason in REASONS},
            "refusals_total": sum(self.refusals.values()),
        }


_GAUGES = ("connections_open", "tunnels_open")
_COUNTERS = ("connections_total", "tunnels_total", "bytes_up", "bytes_down", "idle_closed", "health_requests")


def prometheus(snapshot: dict[str, Any]) -> bytes:
    """The snapshot in Prometheus text exposition format (`calypso_gateway_*`)."""
    lines = [
        "# TYPE calypso_gateway_up gauge",
        f"calypso_gateway_up {0 if snapshot['status'] == 'draining' else 1}",
        "# TYPE calypso_gateway_uptime_seconds gauge",
        f"calypso_gateway_uptime_seconds {snapshot['uptime']}",
    ]
    for name in _GAUGES:
        lines += [f"# TYPE calypso_gateway_{name} gauge", f"calypso_gateway_{name} {snapshot[name]}"]
    for name in _COUNTERS:
        lines += [f"# TYPE calypso_gateway_{name} counter", f"calypso_gateway_{name} {snapshot[name]}"]
    lines.append("# TYPE calypso_gateway_refusals counter")
    lines += [f'calypso_gateway_refusals{{reason="{r}"}} {n}' for r, n in snapshot["refusals"].items()]
    return ("\n".join(lines) + "\n").encode()
