"""Linux performance counters (the Log Analytics agent's objects and names) -> `Perf`.

`build` is the registry factory; `Collector` and `ProcFS` are usable alone (tests and benchmarks
point `ProcFS` at a fake /proc and /sys tree).
"""

from __future__ import annotations

from calypso.agent.sources.perf.collector import DEFAULT_COUNTERS, OBJECTS, Collector, Sample
from calypso.agent.sources.perf.procfs import FsUsage, ProcFS
from calypso.agent.sources.perf.source import PerfConfig, PerfConfigError, PerfSource, build

__all__ = [
    "DEFAULT_COUNTERS",
    "OBJECTS",
    "Collector",
    "FsUsage",
    "PerfConfig",
    "PerfConfigError",
    "PerfSource",
    "ProcFS",
    "Sample",
    "build",
]
