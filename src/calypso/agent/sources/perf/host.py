"""Processor, Memory and System objects, from /proc/stat, /proc/meminfo, /proc/vmstat, /proc/uptime.

Invariant: percentages are computed from tick deltas between two samples and lie in [0, 100]; a CPU
whose counters went backwards (hotplug, reset) is skipped for that sample instead of producing a
negative or >100 value. Memory and System values are instantaneous and emitted on every sample.
"""

from __future__ import annotations

from dataclasses import dataclass

from calypso.agent.sources.perf.counters import PerfObject, Value, percent, rate
from calypso.agent.sources.perf.procfs import (
    CPU_FIELDS,
    CpuTimes,
    ProcFS,
    parse_first_float,
    parse_keyvalue,
    parse_stat,
    parse_utmp,
)

PROCESSOR_COUNTERS = {
    # CounterName -> which tick fields count towards it
    "% Processor Time": ("user", "nice", "system", "irq", "softirq", "steal"),
    "% Idle Time": ("idle",),
    "% User Time": ("user",),
    "% Nice Time": ("nice",),
    "% Privileged Time": ("system",),
    "% IO Wait Time": ("iowait",),
    "% Interrupt Time": ("irq",),
    "% DPC Time": ("softirq",),
}


def _read_cpu(fs: ProcFS) -> dict[str, CpuTimes]:
    return parse_stat(fs.read("stat")).value


def _cpu_order(name: str) -> tuple[int, int]:
    return (1, 0) if name == "_Total" else (0, int(name))


def _compute_cpu(prev: dict[str, CpuTimes] | None, cur: dict[str, CpuTimes], seconds: float) -> list[Value]:
    if prev is None:
        return []
    out: list[Value] = []
    for inst in sorted(cur, key=_cpu_order):
        if inst not in prev:
            continue
        delta = {f: getattr(cur[inst], f) - getattr(prev[inst], f) for f in CPU_FIELDS}
        total = sum(delta.values())
        if total <= 0 or any(v < 0 for v in delta.values()):
            continue
        for counter, fields in PROCESSOR_COUNTERS.items():
            out.append((inst, counter, 100.0 * sum(delta[f] for f in fields) / total))
    return out


PROCESSOR = PerfObject("Processor", tuple(PROCESSOR_COUNTERS), _read_cpu, _compute_cpu)


@dataclass(frozen=True)
class MemSnapshot:
    meminfo: dict[str, int]
    vmstat: dict[str, int]


def _read_mem(fs: ProcFS) -> MemSnapshot:
    return MemSnapshot(parse_keyvalue(fs.read("meminfo")).value, parse_keyvalue(fs.read("vmstat")).value)


def available_kb(meminfo: dict[str, int]) -> int:
    """MemAvailable (kernel >= 3.14), else the classic free + buffers + cached estimate."""
    if "MemAvailable" in meminfo:
        return meminfo["MemAvailable"]
    return meminfo.get("MemFree", 0) + meminfo.get("Buffers", 0) + meminfo.get("Cached", 0)


def _compute_mem(prev: MemSnapshot | None, cur: MemSnapshot, seconds: float) -> list[Value]:
    mi = cur.meminfo
    total = mi.get("MemTotal", 0)
    out: list[Value] = []
    if total > 0:
        avail = min(available_kb(mi), total)
        out += [
            ("Memory", "Available MBytes Memory", avail / 1024),
            ("Memory", "% Available Memory", 100.0 * avail / total),
            ("Memory", "Used Memory MBytes", (total - avail) / 1024),
            ("Memory", "% Used Memory", 100.0 * (total - avail) / total),
        ]
    if "SwapTotal" in mi and "SwapFree" in mi:
        swap_total, swap_free = mi["SwapTotal"], min(mi["SwapFree"], mi["SwapTotal"])
        out += [
            ("Memory", "Available MBytes Swap", swap_free / 1024),
            ("Memory", "Used MBytes Swap Space", (swap_total - swap_free) / 1024),
        ]
        free_pct = percent(swap_free, swap_total)
        if free_pct is not None:  # no swap configured: the percentages are undefined, not 0
            out += [
                ("Memory", "% Available Swap Space", free_pct),
                ("Memory", "% Used Swap Space", 100 - free_pct),
            ]
    if prev is not None:
        reads = rate(prev.vmstat.get("pswpin", 0), cur.vmstat.get("pswpin", 0), seconds)
        writes = rate(prev.vmstat.get("pswpout", 0), cur.vmstat.get("pswpout", 0), seconds)
        if reads is not None and writes is not None:
            out += [
                ("Memory", "Pages/sec", reads + writes),
                ("Memory", "Page Reads/sec", reads),
                ("Memory", "Page Writes/sec", writes),
            ]
    return out


MEMORY = PerfObject(
    "Memory",
    (
        "Available MBytes Memory",
        "% Available Memory",
        "Used Memory MBytes",
        "% Used Memory",
        "Available MBytes Swap",
        "% Available Swap Space",
        "Used MBytes Swap Space",
        "% Used Swap Space",
        "Pages/sec",
        "Page Reads/sec",
        "Page Writes/sec",
    ),
    _read_mem,
    _compute_mem,
)


@dataclass(frozen=True)
class SystemSnapshot:
    instance: str
    meminfo: dict[str, int]
    uptime: float | None
    processes: int
    users: int


def _read_system(fs: ProcFS) -> SystemSnapshot:
    return SystemSnapshot(
        fs.system_instance,
        parse_keyvalue(fs.read("meminfo")).value,
        parse_first_float(fs.read("uptime")).value,
        len(fs.pids()),
        parse_utmp(fs.read_utmp()),
    )


def _compute_system(prev: SystemSnapshot | None, cur: SystemSnapshot, seconds: float) -> list[Value]:
    inst, mi = cur.instance, cur.meminfo
    out: list[Value] = [(inst, "Processes", float(cur.processes)), (inst, "Users", float(cur.users))]
    if "MemFree" in mi:
        out.append((inst, "Free Physical Memory", float(mi["MemFree"])))
    if "SwapTotal" in mi and "SwapFree" in mi:
        out += [
            (inst, "Free Virtual Memory", float(available_kb(mi) + mi["SwapFree"])),
            (inst, "Size Stored In Paging Files", float(mi["SwapTotal"])),
            (inst, "Free Space in Paging Files", float(mi["SwapFree"])),
        ]
    if cur.uptime is not None:
        out.append((inst, "Uptime", float(int(cur.uptime))))
    return out


SYSTEM = PerfObject(
    "System",
    (
        "Processes",
        "Users",
        "Free Physical Memory",
        "Free Virtual Memory",
        "Size Stored In Paging Files",
        "Free Space in Paging Files",
        "Uptime",
    ),
    _read_system,
    _compute_system,
)
