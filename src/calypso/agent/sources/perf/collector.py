"""Takes one sample of the selected counters: read each selected object, compare with its last reading.

Invariant: a `Collector` keeps exactly one previous snapshot per object and the monotonic time it was
taken; rates are always computed over the real elapsed time between two reads of the same object, so
a late or skipped cycle gives a correct rate rather than a spike. Only counters matched by a spec are
returned. An object whose reading fails is counted and skipped; the others are still collected.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from calypso.agent.sources.perf.counters import CounterSpec, PerfObject
from calypso.agent.sources.perf.host import MEMORY, PROCESSOR, SYSTEM
from calypso.agent.sources.perf.process import PROCESS
from calypso.agent.sources.perf.procfs import ProcFS
from calypso.agent.sources.perf.storage import LOGICAL_DISK, NETWORK

OBJECTS: dict[str, PerfObject] = {
    o.name: o for o in (PROCESSOR, MEMORY, LOGICAL_DISK, NETWORK, SYSTEM, PROCESS)
}

# What `[sources.perf]` collects when it names no counters: every object but Process (one row per
# process name per counter is rarely wanted by default).
DEFAULT_COUNTERS: tuple[str, ...] = tuple(f"{name}(*)\\*" for name in OBJECTS if name != "Process")


@dataclass(frozen=True)
class Sample:
    object: str
    instance: str
    counter: str
    value: float


class Collector:
    def __init__(
        self,
        fs: ProcFS,
        specs: Sequence[CounterSpec],
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.fs = fs
        self.specs = tuple(specs)
        self.clock = clock
        self.objects = [OBJECTS[name] for name in OBJECTS if any(s.object == name for s in self.specs)]
        self._last: dict[str, tuple[float, Any]] = {}
        self.errors: dict[str, int] = {}

    def collect(self) -> list[Sample]:
        out: list[Sample] = []
        for obj in self.objects:
            now = self.clock()
            try:
                snapshot = obj.read(self.fs)
                prev_t, prev = self._last.get(obj.name, (now, None))
                values = obj.compute(prev, snapshot, now - prev_t)
            except Exception:  # a parser bug must not stop the other objects; counted, surfaced in status
                self.errors[obj.name] = self.errors.get(obj.name, 0) + 1
                continue
            self._last[obj.name] = (now, snapshot)
            specs = [s for s in self.specs if s.object == obj.name]
            for instance, counter, value in values:
                if any(s.matches(obj.name, instance, counter) for s in specs):
                    out.append(Sample(obj.name, instance, counter, value))
        return out
