"""Throughput of the agent's disk buffer; prints a table of figures.

    .venv/bin/python benchmarks/agent_buffer.py [--seconds 2] [--dir /var/tmp]

For each fsync policy and payload size (200 B and 64 KiB): append one entry per call, append in
batches of 100 (``append_many``), then read+ack everything back in reads of up to 1000 entries.
Each cell runs for about ``--seconds`` (or until 256 MiB were written). The buffer lives in a fresh
temporary directory under ``--dir``, which should be on the disk the agent will use.
"""

from __future__ import annotations

import argparse
import os
import shutil
import tempfile
import time
from pathlib import Path

from calypso.agent.buffer import DiskBuffer, FsyncPolicy

POLICIES: tuple[FsyncPolicy, ...] = ("always", "interval", "never")
SIZES = (200, 64 << 10)
CAP = 256 << 20


def _append(b: DiskBuffer, payload: bytes, batch: int, seconds: float) -> tuple[int, float]:
    n = 0
    start = time.perf_counter()
    deadline = start + seconds
    batch_list = [payload] * batch
    while time.perf_counter() < deadline and n * len(payload) < CAP:
        if batch == 1:
            b.append(payload)
        else:
            b.append_many(batch_list)
        n += batch
    return n, time.perf_counter() - start


def _drain(b: DiskBuffer) -> tuple[int, int, float]:
    n = nbytes = 0
    start = time.perf_counter()
    while entries := b.read("bench", max_entries=1000):
        n += len(entries)
        nbytes += sum(len(e.payload) for e in entries)
        b.ack("bench", entries[-1].seq)
    return n, nbytes, time.perf_counter() - start


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seconds", type=float, default=2.0, help="time per cell (default 2)")
    ap.add_argument("--dir", type=Path, default=Path(tempfile.gettempdir()), help="where to put the buffer")
    args = ap.parse_args()
    rows: list[tuple[str, ...]] = []
    for policy in POLICIES:
        for size in SIZES:
            payload = os.urandom(size)
            for batch in (1, 100):
                d = Path(tempfile.mkdtemp(prefix="calypso-bench-buffer-", dir=args.dir))
                try:
                    b = DiskBuffer(d, fsync=policy, max_bytes=CAP + (64 << 20))
                    b.add_reader("bench")
                    n, secs = _append(b, payload, batch, args.seconds)
                    rn, rbytes, rsecs = _drain(b)
                    b.close()
                finally:
                    shutil.rmtree(d, ignore_errors=True)
                assert rn == n, f"read back {rn} of {n} entries"
                rows.append(
                    (
                        policy,
                        f"{size} B" if size < 1024 else f"{size >> 10} KiB",
                        "append" if batch == 1 else f"append_many({batch})",
                        f"{n / secs:,.0f}",
                        f"{n * size / secs / 1e6:,.1f}",
                        f"{rn / rsecs:,.0f}",
                        f"{rbytes / rsecs / 1e6:,.1f}",
                    )
                )
    header = (
        "fsync",
        "payload",
        "write call",
        "append entries/s",
        "append MB/s",
        "read+ack entries/s",
        "read+ack MB/s",
    )
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
    print(" | ".join(h.ljust(w) for h, w in zip(header, widths, strict=True)))
    print("-+-".join("-" * w for w in widths))
    for r in rows:
        print(
            " | ".join(
                c.rjust(w) if i >= 3 else c.ljust(w) for i, (c, w) in enumerate(zip(r, widths, strict=True))
            )
        )


if __name__ == "__main__":
    main()
