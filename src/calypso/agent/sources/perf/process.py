"""Process object, from /proc/<pid>/stat and /proc/<pid>/statm, one instance per process name.

Invariant: processes sharing a name are summed into one instance; CPU percentages count only pids
seen in both samples (a pid that restarted, i.e. whose ticks went down, contributes nothing), so a
short-lived process never yields a negative or inflated value. Memory values are in KB.
"""

from __future__ import annotations

from dataclasses import dataclass

from calypso.agent.sources.perf.counters import PerfObject, Value
from calypso.agent.sources.perf.procfs import ProcFS, parse_pid_stat, parse_statm


@dataclass(frozen=True)
class Proc:
    name: str
    utime: int
    stime: int
    rss_kb: int
    shared_kb: int


@dataclass(frozen=True)
class ProcSnapshot:
    procs: dict[int, Proc]
    clk_tck: int


def _read_procs(fs: ProcFS) -> ProcSnapshot:
    procs: dict[int, Proc] = {}
    kb = fs.page_size // 1024
    for pid in fs.pids():
        st = parse_pid_stat(fs.read(f"{pid}/stat", optional=True))
        mem = parse_statm(fs.read(f"{pid}/statm", optional=True))
        if st is None or mem is None:
            continue  # exited between listing and reading, or unreadable
        procs[pid] = Proc(st.comm, st.utime, st.stime, mem[0] * kb, mem[1] * kb)
    return ProcSnapshot(procs, fs.clk_tck)


def _compute_procs(prev: ProcSnapshot | None, cur: ProcSnapshot, seconds: float) -> list[Value]:
    by_name: dict[str, list[float]] = {}
    for pid, p in cur.procs.items():
        acc = by_name.setdefault(p.name, [0.0, 0.0, 0.0, 0.0])
        acc[2] += p.rss_kb
        acc[3] += p.shared_kb
        old = prev.procs.get(pid) if prev is not None else None
        if old is not None and old.name == p.name and p.utime >= old.utime and p.stime >= old.stime:
            acc[0] += p.utime - old.utime
            acc[1] += p.stime - old.stime
    ticks = seconds * cur.clk_tck
    out: list[Value] = []
    for name in sorted(by_name):
        user, system, rss, shared = by_name[name]
        if prev is not None and ticks > 0:
            out += [
                (name, "Pct User Time", 100.0 * user / ticks),
                (name, "Pct Privileged Time", 100.0 * system / ticks),
            ]
        out += [(name, "Used Memory", rss), (name, "Virtual Shared Memory", shared)]
    return out


PROCESS = PerfObject(
    "Process",
    ("Pct User Time", "Pct Privileged Time", "Used Memory", "Virtual Shared Memory"),
    _read_procs,
    _compute_procs,
)
