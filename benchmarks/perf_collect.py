"""Perf source: time per collection cycle on this machine (default counters, and with Process).

.venv/bin/python benchmarks/perf_collect.py [--cycles 50]
"""

from __future__ import annotations

import argparse
import statistics
import time

from calypso.agent.sources.perf import DEFAULT_COUNTERS, Collector, ProcFS
from calypso.agent.sources.perf.counters import parse_spec
from calypso.agent.sources.perf.source import system_instance


def measure(counters: tuple[str, ...], cycles: int) -> tuple[int, list[float]]:
    col = Collector(ProcFS(system_instance=system_instance()), [parse_spec(c) for c in counters])
    col.collect()
    times, rows = [], 0
    for _ in range(cycles):
        t0 = time.perf_counter()
        rows = len(col.collect())
        times.append(time.perf_counter() - t0)
    return rows, times


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--cycles", type=int, default=50)
    args = ap.parse_args()
    cases = {
        "default (no Process)": DEFAULT_COUNTERS,
        "default + Process": (*DEFAULT_COUNTERS, "Process(*)\\*"),
    }
    print(f"{'counters':<24}{'rows/cycle':>12}{'median ms':>11}{'p95 ms':>9}{'max ms':>9}")
    for name, counters in cases.items():
        rows, t = measure(counters, args.cycles)
        t.sort()
        p95 = t[int(0.95 * (len(t) - 1))]
        print(f"{name:<24}{rows:>12}{statistics.median(t) * 1e3:>11.2f}{p95 * 1e3:>9.2f}{t[-1] * 1e3:>9.2f}")


if __name__ == "__main__":
    main()
