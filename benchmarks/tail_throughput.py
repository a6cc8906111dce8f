"""Tail source throughput: lines/s, MB/s and CPU seconds per GB reading a generated file of ~150-byte lines.

Runs the real TailSource (glob, stat polling, line splitting, record building, batching, checkpoint
commits) into an emit that only counts. Usage:

    .venv/bin/python benchmarks/tail_throughput.py [--mb 200] [--multiline]
"""

from __future__ import annotations

import argparse
import asyncio
import resource
import tempfile
import time
from pathlib import Path
from typing import Any

from calypso.agent.sources.base import Record, SourceContext
from calypso.agent.sources.tail import TailSource, parse_config


def generate(path: Path, mb: int) -> tuple[int, int]:
    line = (
        "2024-05-01T12:00:00.123456Z INFO  app.worker[1234]: request id=%08d handled in 12ms "
        "user=alice path=/api/v1/items status=200 bytes=5120 ua=bench\n"
    )
    lines = 0
    size = 0
    with open(path, "w") as f:
        while size < mb * 1_000_000:
            chunk = "".join(line % (lines + i) for i in range(10_000))
            f.write(chunk)
            lines += 10_000
            size += len(chunk)
    return lines, size


def cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def run(path: Path, state: Path, total_lines: int, multiline: bool) -> tuple[int, float, float]:
    raw: dict[str, Any] = {
        "name": "Bench",
        "paths": [str(path)],
        "start_at": "beginning",
        "poll_interval": "10ms",
    }
    if multiline:
        raw["multiline"] = {"timestamp": True}
    src = TailSource(parse_config(raw), SourceContext(state, "bench"))
    seen = 0

    async def emit(table: str, records: list[Record], commit: Any = None) -> None:
        nonlocal seen
        seen += len(records)
        if commit:
            commit()

    async def go() -> None:
        while seen < total_lines - (1 if multiline else 0):
            if not await src.poll_once(emit):
                await asyncio.sleep(0.001)

    c0, t0 = cpu(), time.perf_counter()
    asyncio.run(go())
    return seen, time.perf_counter() - t0, cpu() - c0


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--mb", type=int, default=200)
    ap.add_argument("--multiline", action="store_true")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "bench.log"
        lines, size = generate(path, args.mb)
        seen, wall, cpu_s = run(path, Path(tmp) / "state", lines, args.multiline)
        print(f"{'case':<22}{'lines':>12}{'MB':>9}{'wall s':>9}{'lines/s':>12}{'MB/s':>9}{'CPU s/GB':>10}")
        name = "tail multiline" if args.multiline else "tail single-line"
        print(
            f"{name:<22}{seen:>12,}{size / 1e6:>9.1f}{wall:>9.2f}{seen / wall:>12,.0f}"
            f"{size / 1e6 / wall:>9.1f}{cpu_s / (size / 1e9):>10.1f}"
        )


if __name__ == "__main__":
    main()
