"""Parsers for the /proc and /sys files the perf source reads: text in, plain typed values out.

Invariant: every parser accepts any text (truncated, binary, hostile) and never raises; a line it
cannot read is skipped and counted in the returned `bad` field, so one odd line never hides the
rest of a file. Parsers do no I/O; `ProcFS` does the reading under injectable roots.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Generic, TypeVar

T = TypeVar("T")

# Fields of a /proc/stat "cpu" line, in kernel order (later kernels append more; missing ones are 0).
CPU_FIELDS = ("user", "nice", "system", "idle", "iowait", "irq", "softirq", "steal")


@dataclass(frozen=True)
class CpuTimes:
    user: int = 0
    nice: int = 0
    system: int = 0
    idle: int = 0
    iowait: int = 0
    irq: int = 0
    softirq: int = 0
    steal: int = 0

    @property
    def total(self) -> int:
        return (
            self.user
            + self.nice
            + self.system
            + self.idle
            + self.iowait
            + self.irq
            + self.softirq
            + self.steal
        )


@dataclass(frozen=True)
class Parsed(Generic[T]):
    value: T
    bad: int = 0


def _int(text: str) -> int | None:
    try:
        return int(text)
    except ValueError:
        return None


def parse_stat(text: str) -> Parsed[dict[str, CpuTimes]]:
    """/proc/stat -> {"_Total": times, "0": times, "1": times, ...}."""
    cpus: dict[str, CpuTimes] = {}
    bad = 0
    for line in text.splitlines():
        if not line.startswith("cpu"):
            continue
        parts = line.split()
        label = parts[0][3:]
        values = [_int(p) for p in parts[1 : 1 + len(CPU_FIELDS)]]
        if (label and not label.isdigit()) or len(values) < 4 or any(v is None or v < 0 for v in values):
            bad += 1
            continue
        ints = [v or 0 for v in values] + [0] * (len(CPU_FIELDS) - len(values))
        cpus[label or "_Total"] = CpuTimes(*ints)
    return Parsed(cpus, bad)


def parse_keyvalue(text: str) -> Parsed[dict[str, int]]:
    """/proc/meminfo ("MemTotal:  1024 kB") and /proc/vmstat ("pswpin 12") -> {key: int}."""
    out: dict[str, int] = {}
    bad = 0
    for line in text.splitlines():
        parts = line.replace(":", " ").split()
        if not parts:
            continue
        value = _int(parts[1]) if len(parts) >= 2 else None
        if value is None:
            bad += 1
            continue
        out[parts[0]] = value
    return Parsed(out, bad)


@dataclass(frozen=True)
class DiskIO:
    reads: int
    sectors_read: int
    writes: int
    sectors_written: int


def parse_diskstats(text: str) -> Parsed[dict[str, DiskIO]]:
    """/proc/diskstats -> {device name: counters}; sectors are always 512 bytes here."""
    out: dict[str, DiskIO] = {}
    bad = 0
    for line in text.splitlines():
        parts = line.split()
        if not parts:
            continue
        nums = [_int(p) for p in parts[3:10]]
        if len(parts) < 10 or any(n is None or n < 0 for n in nums):
            bad += 1
            continue
        r, _rm, sr, _rt, w, _wm, sw = (n or 0 for n in nums)
        out[parts[2]] = DiskIO(r, sr, w, sw)
    return Parsed(out, bad)


@dataclass(frozen=True)
class NetIO:
    rx_bytes: int
    rx_packets: int
    rx_errors: int
    tx_bytes: int
    tx_packets: int
    tx_errors: int
    collisions: int


def parse_net_dev(text: str) -> Parsed[dict[str, NetIO]]:
    """/proc/net/dev -> {interface: counters} (the two header lines are skipped)."""
    out: dict[str, NetIO] = {}
    bad = 0
    for line in text.splitlines():
        name, sep, rest = line.partition(":")
        if not sep or "|" in line:
            continue
        nums = [_int(p) for p in rest.split()]
        if len(nums) < 16 or any(n is None or n < 0 for n in nums) or not name.strip():
            bad += 1
            continue
        n = [x or 0 for x in nums]
        out[name.strip()] = NetIO(n[0], n[1], n[2], n[8], n[9], n[10], n[13])
    return Parsed(out, bad)


@dataclass(frozen=True)
class Mount:
    device: str
    mount_point: str
    fstype: str


def _unescape_mount(text: str) -> str:
    # /proc/mounts escapes space, tab, newline and backslash as octal (\040 ...).
    out, i = [], 0
    while i < len(text):
        chunk = text[i + 1 : i + 4]
        if text[i] == "\\" and len(chunk) == 3 and all(c in "01234567" for c in chunk):
            out.append(chr(int(chunk, 8)))
            i += 4
        else:
            out.append(text[i])
            i += 1
    return "".join(out)


def parse_mounts(text: str) -> Parsed[list[Mount]]:
    out: list[Mount] = []
    bad = 0
    for line in text.splitlines():
        parts = line.split()
        if not parts:
            continue
        if len(parts) < 3:
            bad += 1
            continue
        out.append(Mount(_unescape_mount(parts[0]), _unescape_mount(parts[1]), parts[2]))
    return Parsed(out, bad)


def parse_first_float(text: str) -> Parsed[float | None]:
    """/proc/uptime ("350.2 690.1") -> 350.2."""
    parts = text.split()
    try:
        return Parsed(float(parts[0]) if parts else None, 0)
    except ValueError:
        return Parsed(None, 1)


@dataclass(frozen=True)
class ProcStat:
    pid: int
    comm: str
    utime: int
    stime: int


def parse_pid_stat(text: str) -> ProcStat | None:
    """/proc/<pid>/stat; the command name is in parentheses and may itself contain ') ' or spaces."""
    left, right = text.find("("), text.rfind(")")
    if left < 0 or right < left:
        return None
    pid = _int(text[:left].strip())
    rest = text[right + 1 :].split()
    if pid is None or len(rest) < 13:
        return None
    utime, stime = _int(rest[11]), _int(rest[12])
    if utime is None or stime is None:
        return None
    return ProcStat(pid, text[left + 1 : right], utime, stime)


def parse_statm(text: str) -> tuple[int, int] | None:
    """/proc/<pid>/statm -> (resident pages, shared pages)."""
    parts = text.split()
    if len(parts) < 3:
        return None
    resident, shared = _int(parts[1]), _int(parts[2])
    if resident is None or shared is None:
        return None
    return resident, shared


@dataclass(frozen=True)
class FsUsage:
    """The fields of os.statvfs the Logical Disk object uses."""

    f_frsize: int
    f_blocks: int
    f_bfree: int
    f_bavail: int
    f_files: int
    f_ffree: int


StatVfs = Callable[[str], FsUsage]

UTMP_RECORD = 384  # sizeof(struct utmp) on Linux (glibc, 32- and 64-bit)
USER_PROCESS = 7


def parse_utmp(data: bytes) -> int:
    """Number of logged-in user sessions (USER_PROCESS records) in a utmp file."""
    count = 0
    for off in range(0, len(data) - UTMP_RECORD + 1, UTMP_RECORD):
        if int.from_bytes(data[off : off + 4], "little", signed=True) == USER_PROCESS:
            count += 1
    return count


def _sysconf(name: str, default: int) -> int:
    try:
        return int(os.sysconf(name))
    except (ValueError, OSError, AttributeError):
        return default


def os_statvfs(path: str) -> FsUsage:
    st = os.statvfs(path)
    return FsUsage(st.f_frsize, st.f_blocks, st.f_bfree, st.f_bavail, st.f_files, st.f_ffree)


@dataclass
class ProcFS:
    """Reads files under `proc_root` and `sys_root`; a missing or unreadable file reads as ''."""

    proc_root: Path = Path("/proc")
    sys_root: Path = Path("/sys")
    statvfs: StatVfs = os_statvfs
    utmp_path: Path = Path("/var/run/utmp")
    system_instance: str = "_Total"
    clk_tck: int = field(default_factory=lambda: _sysconf("SC_CLK_TCK", 100))
    page_size: int = field(default_factory=lambda: _sysconf("SC_PAGE_SIZE", 4096))
    errors: dict[str, int] = field(default_factory=dict)

    def read_utmp(self) -> bytes:
        try:
            return self.utmp_path.read_bytes()
        except OSError:
            return b""

    def read(self, rel: str, optional: bool = False) -> str:
        """Text of `proc_root/rel`; `optional` files (a pid that exited) may be missing silently."""
        return self._read(self.proc_root / rel, optional)

    def read_sys(self, rel: str, optional: bool = True) -> str:
        return self._read(self.sys_root / rel, optional)

    def _read(self, path: Path, optional: bool) -> str:
        try:
            return path.read_bytes().decode("utf-8", "replace")
        except FileNotFoundError:
            if not optional:
                self.errors[path.name] = self.errors.get(path.name, 0) + 1
            return ""
        except OSError:
            self.errors[path.name] = self.errors.get(path.name, 0) + 1
            return ""

    def pids(self) -> list[int]:
        try:
            return sorted(int(e.name) for e in os.scandir(self.proc_root) if e.name.isdigit())
        except OSError:
            return []
