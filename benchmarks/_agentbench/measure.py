"""CPU and memory of a process tree, sampled from outside with psutil.

Invariant: CPU seconds only grow: each process's last seen user+system time is kept after it exits,
so a short-lived child still counts; RSS is the sum over the tree's live processes at one sample,
and the peak is the largest such sum seen.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import psutil


@dataclass
class TreeSampler:
    pid: int
    cpu_by_pid: dict[int, float] = field(default_factory=dict)
    peak_rss: int = 0
    last_rss: int = 0

    def _tree(self) -> list[psutil.Process]:
        try:
            root = psutil.Process(self.pid)
            return [root, *root.children(recursive=True)]
        except psutil.NoSuchProcess:
            return []

    def sample(self) -> None:
        rss = 0
        for p in self._tree():
            try:
                with p.oneshot():
                    t = p.cpu_times()
                    mem = p.memory_info().rss
            except (psutil.NoSuchProcess, psutil.AccessDenied):
                continue
            self.cpu_by_pid[p.pid] = t.user + t.system
            rss += mem
        self.last_rss = rss
        self.peak_rss = max(self.peak_rss, rss)

    @property
    def cpu(self) -> float:
        return sum(self.cpu_by_pid.values())


def read_count(path: Path) -> int:
    """Records a counting sink reported so far (0 before its first write)."""
    try:
        return int(json.loads(path.read_text())["records"])
    except (OSError, ValueError, KeyError):
        return 0


@dataclass(frozen=True)
class Result:
    name: str
    lines: int  # lines that arrived
    expected: int
    mb: float  # size of the input file, MB (10^6 bytes)
    wall: float  # s, from start until every line arrived (or the time limit)
    cpu: float  # s, user+system of the shipper's process tree
    peak_rss: int  # bytes
    idle_rss: int  # bytes, after it finished, before it was stopped
    note: str = ""

    @property
    def complete(self) -> bool:
        return self.lines >= self.expected

    @property
    def lines_per_s(self) -> float:
        return self.lines / self.wall if self.wall > 0 else 0.0

    @property
    def mb_per_s(self) -> float:
        return self.mb * (self.lines / self.expected) / self.wall if self.wall > 0 and self.expected else 0.0

    @property
    def cpu_per_gb(self) -> float:
        gb = self.mb * (self.lines / self.expected) / 1000 if self.expected else 0.0
        return self.cpu / gb if gb > 0 else 0.0
