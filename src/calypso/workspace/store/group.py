"""The writer thread's work queue: which waiting requests commit together (group commit).

Invariant: requests leave the queue in the order they entered it; a group holds only write requests
that were consecutive in the queue, and stops taking more once it holds `GroupPolicy.max_rows` rows. A group smaller than `target_rows` waits for more write requests only while some
are still being prepared (so a lone request is never delayed) and never longer than `linger` seconds
after the group began.

Why: DuckDB writes an insert's full row groups straight into the database file, compressed, while the
rest goes through the write-ahead log and is compressed again at the next checkpoint; committing
requests one by one costs more CPU and disk than committing a few together. With the store's 16,384-row
row groups, four of them (65,536 rows) are enough: waiting for more only left DuckDB idle while the next
requests were decoded (50k-row agent requests from 4 senders: 0.82-0.96M -> 1.03-1.07M rows/s,
scratch runs of benchmarks/workspace_ingest.py's agent path).
"""

from __future__ import annotations

import queue
import threading
import time
from collections import deque
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True, slots=True)
class GroupPolicy:
    target_rows: int = 65_536  # stop waiting for more once a group has this many rows (4 row groups)
    max_rows: int = 500_000  # never take more waiting requests once a group has this many rows
    linger: float = 0.05  # seconds a small group may wait for requests still being prepared


@dataclass(frozen=True, slots=True)
class Item:
    kind: str  # "write" or "fn"
    payload: Any
    future: Any
    rows: int = 0


STOP = Item("stop", None, None)


class WorkQueue:
    """FIFO of writer work, with a count of write requests still being prepared (they will arrive)."""

    def __init__(self, policy: GroupPolicy | None = None) -> None:
        self.policy = policy or GroupPolicy()
        self._queue: queue.Queue[Item] = queue.Queue()
        self._held: deque[Item] = deque()  # taken while lingering but not part of the group
        self._preparing = 0
        self._lock = threading.Lock()

    def put(self, item: Item) -> None:
        self._queue.put(item)

    def preparing(self, delta: int) -> None:
        """+1 when a write request starts preparing, -1 once it is queued (or failed)."""
        with self._lock:
            self._preparing += delta

    @property
    def in_preparation(self) -> int:
        return self._preparing

    def get(self) -> Item:
        return self._held.popleft() if self._held else self._queue.get()

    def group(self, first: Item) -> list[Item]:
        """`first` (a write) and the write requests that follow it, by the policy above."""
        group, rows = [first], first.rows
        deadline = time.monotonic() + self.policy.linger
        while rows < self.policy.max_rows and not self._held:
            try:
                item = self._queue.get_nowait()
            except queue.Empty:
                remaining = deadline - time.monotonic()
                if rows >= self.policy.target_rows or remaining <= 0 or not self._preparing:
                    break
                try:
                    item = self._queue.get(timeout=min(remaining, 0.005))
                except queue.Empty:
                    continue
            if item.kind != "write":
                self._held.append(item)
                break
            group.append(item)
            rows += item.rows
        return group
