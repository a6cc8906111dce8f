"""Counter objects, their Azure names, and the counter-path specs that select them.

Invariant: every object the perf source can collect is one `PerfObject` entry in `OBJECTS`, keyed by
Azure's ObjectName for the Linux agent; its `counters` tuple lists Azure's exact CounterNames, and
its `compute` never returns a counter missing from that tuple nor a negative rate. Adding an object
is one module defining a `PerfObject` plus one registry line.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from calypso.agent.sources.perf.procfs import ProcFS

# (InstanceName, CounterName, CounterValue)
Value = tuple[str, str, float]


@dataclass(frozen=True)
class PerfObject:
    """One performance object: how to take a raw snapshot, and how to turn two snapshots into values.

    `compute(prev, cur, seconds)` gets `prev=None` on the first sample: rate counters emit nothing then.
    """

    name: str
    counters: tuple[str, ...]
    read: Callable[[ProcFS], Any]
    compute: Callable[[Any, Any, float], list[Value]]


def rate(prev: int, cur: int, seconds: float) -> float | None:
    """Per-second rate between two readings of a monotonic counter; None when it wrapped or reset."""
    if seconds <= 0 or cur < prev:
        return None
    return (cur - prev) / seconds


def percent(part: float, whole: float) -> float | None:
    return 100.0 * part / whole if whole > 0 else None


class CounterSpecError(ValueError):
    pass


@dataclass(frozen=True)
class CounterSpec:
    """`Object(Instance)\\Counter`; `*` for the instance or counter selects all."""

    object: str
    instance: str
    counter: str

    def matches(self, obj: str, instance: str, counter: str) -> bool:
        return obj == self.object and self.instance in ("*", instance) and self.counter in ("*", counter)

    @property
    def path(self) -> str:
        return f"{self.object}({self.instance})\\{self.counter}"


_SPEC = re.compile(r"^\\*(?P<object>[^()\\]+?)\s*(?:\((?P<instance>[^()]*)\))?\\+(?P<counter>.+)$")


def parse_spec(text: str, objects: Sequence[str] | None = None) -> CounterSpec:
    """Parse Azure's counter path (`Processor(*)\\% Processor Time`); unknown objects are an error."""
    m = _SPEC.match(text.strip())
    if not m:
        raise CounterSpecError(f"counter '{text}' is not of the form Object(Instance)\\Counter")
    spec = CounterSpec(m["object"].strip(), (m["instance"] or "*").strip() or "*", m["counter"].strip())
    if objects is not None and spec.object not in objects:
        raise CounterSpecError(
            f"counter '{text}': unknown object '{spec.object}' (known: {', '.join(objects)})"
        )
    return spec
