"""The perf source: every `interval`, sample the selected counters and emit them as `Perf` rows.

Invariant: one emit per cycle holding every row of that cycle, all stamped with the same
TimeGenerated; cycles are scheduled on a fixed grid (start + k * interval), so a slow cycle delays
the next one without drifting the schedule, and a missed slot is skipped rather than bunched up.
The source reads nothing persistent, so it passes no commit callback.
"""

from __future__ import annotations

import asyncio
import platform
import re
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from calypso.agent.sources.base import Emit, Record, SourceContext, iso
from calypso.agent.sources.perf.collector import DEFAULT_COUNTERS, OBJECTS, Collector, Sample
from calypso.agent.sources.perf.counters import CounterSpec, CounterSpecError, parse_spec
from calypso.agent.sources.perf.procfs import ProcFS

TABLE = "Perf"
_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h)?\s*$")
_UNIT = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, None: 1.0}


class PerfConfigError(ValueError):
    pass


def parse_interval(value: Any) -> float:
    """`"10s"`, `"500ms"`, `"1m"`, or a number of seconds -> seconds (at least 0.1)."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        seconds = float(value)
    else:
        m = _DURATION.match(str(value))
        if not m:
            raise PerfConfigError(f"interval '{value}' is not a duration like '10s', '500ms' or '1m'")
        seconds = float(m[1]) * _UNIT[m[2]]
    if seconds < 0.1:
        raise PerfConfigError(f"interval '{value}' is shorter than 100ms")
    return seconds


def parse_counters(items: Any) -> tuple[CounterSpec, ...]:
    if items is None:
        items = DEFAULT_COUNTERS
    if isinstance(items, str) or not all(isinstance(i, str) for i in items):
        raise PerfConfigError("counters must be a list of strings like 'Processor(*)\\\\% Processor Time'")
    specs = []
    for text in items:
        try:
            spec = parse_spec(text, list(OBJECTS))
        except CounterSpecError as e:
            raise PerfConfigError(str(e)) from None
        if spec.counter != "*" and spec.counter not in OBJECTS[spec.object].counters:
            known = ", ".join(OBJECTS[spec.object].counters)
            raise PerfConfigError(
                f"counter '{text}': '{spec.object}' has no counter '{spec.counter}' (known: {known})"
            )
        specs.append(spec)
    return tuple(specs)


@dataclass(frozen=True)
class PerfConfig:
    interval: float = 10.0
    counters: tuple[CounterSpec, ...] = ()
    proc_root: Path = Path("/proc")
    sys_root: Path = Path("/sys")

    @classmethod
    def from_mapping(cls, raw: Mapping[str, Any]) -> PerfConfig:
        return cls(
            interval=parse_interval(raw.get("interval", "10s")),
            counters=parse_counters(raw.get("counters")),
            proc_root=Path(raw.get("proc_root", "/proc")),
            sys_root=Path(raw.get("sys_root", "/sys")),
        )


def system_instance() -> str:
    """The System object's instance: the OS caption, e.g. `Debian GNU/Linux 12 (bookworm) (x86_64)`."""
    try:
        name = platform.freedesktop_os_release().get("PRETTY_NAME", "")
    except OSError:
        name = ""
    return f"{name} ({platform.machine()})" if name else "_Total"


def to_records(samples: list[Sample], computer: str, when: datetime) -> list[Record]:
    ts = iso(when)
    return [
        {
            "TimeGenerated": ts,
            "Computer": computer,
            "ObjectName": s.object,
            "CounterName": s.counter,
            "InstanceName": s.instance,
            "CounterValue": s.value,
            "CounterPath": f"\\\\{computer}\\{s.object}({s.instance})\\{s.counter}",
            "SourceSystem": "Linux",
        }
        for s in samples
    ]


class PerfSource:
    def __init__(
        self,
        config: PerfConfig,
        ctx: SourceContext,
        fs: ProcFS | None = None,
        clock: Callable[[], float] = time.monotonic,
        wall: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.name = "perf"
        self.config = config
        self.ctx = ctx
        self.fs = fs or ProcFS(config.proc_root, config.sys_root, system_instance=system_instance())
        self.collector = Collector(self.fs, config.counters, clock)
        self.clock = clock
        self.wall = wall
        self.cycles = 0
        self.rows = 0
        self.last_cycle_seconds = 0.0

    async def collect_once(self, emit: Emit) -> int:
        started = time.perf_counter()
        when = self.wall()
        samples = await asyncio.to_thread(self.collector.collect)
        self.last_cycle_seconds = time.perf_counter() - started
        self.cycles += 1
        if samples:
            await emit(TABLE, to_records(samples, self.ctx.computer, when))
            self.rows += len(samples)
            self.ctx.count("perf.rows", len(samples))
        return len(samples)

    async def run(self, emit: Emit) -> None:
        interval = self.config.interval
        start = self.clock()
        k = 0
        while True:
            await self.collect_once(emit)
            k = max(k + 1, int((self.clock() - start) / interval) + 1)
            await asyncio.sleep(max(0.0, start + k * interval - self.clock()))

    def status(self) -> Mapping[str, Any]:
        return {
            "cycles": self.cycles,
            "rows": self.rows,
            "last_cycle_seconds": round(self.last_cycle_seconds, 6),
            "interval_seconds": self.config.interval,
            "counters": [s.path for s in self.config.counters],
            "errors": {**self.fs.errors, **{f"object:{k}": v for k, v in self.collector.errors.items()}},
        }


def build(config: Mapping[str, Any], ctx: SourceContext) -> PerfSource:
    return PerfSource(PerfConfig.from_mapping(config), ctx)
