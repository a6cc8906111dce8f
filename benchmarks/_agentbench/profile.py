"""Where the Calypso agent spends its time at full speed: py-spy attached from outside, then a summary.

`attach` starts `py-spy record --pid` as a separate process (its CPU is not counted in the agent's tree);
`stop` asks it to write its samples (SIGINT) and `summarize` turns the collapsed stacks it wrote into the
functions with the most samples on top of the stack (self) and anywhere in it (inclusive, once per sample).
Invariant: profiling never changes what the benchmark measures except for the sampling itself, and a
missing py-spy only skips the profile with a note.
"""

from __future__ import annotations

import shutil
import signal
import subprocess
import sys
from collections import Counter
from pathlib import Path

from _agentbench.contenders import Procs


def py_spy() -> str | None:
    return shutil.which("py-spy") or (
        str(Path(sys.executable).parent / "py-spy")
        if (Path(sys.executable).parent / "py-spy").exists()
        else None
    )


def attach(procs: Procs, pid: int, out: Path) -> subprocess.Popen[bytes] | None:
    binary = py_spy()
    if binary is None:
        print("  (py-spy not installed: no profile)", flush=True)
        return None
    flags = ("--rate", "100", "--nonblocking", "--threads", "--format", "raw")
    argv = [binary, "record", "--pid", str(pid), *flags]
    return procs.spawn([*argv, "--output", str(out)], out.with_suffix(".log"))


def stop(p: subprocess.Popen[bytes] | None) -> None:
    if p is None or p.poll() is not None:
        return
    p.send_signal(signal.SIGINT)
    try:
        p.wait(30)
    except subprocess.TimeoutExpired:
        p.kill()
        p.wait()


def _frame(text: str) -> str:
    """`func (path/to/module.py:123)` -> `func (module.py)`: lines are noise across samples."""
    name, _, where = text.partition(" (")
    file = where.rsplit(":", 1)[0].rsplit("/", 1)[-1] if where else ""
    return f"{name} ({file})" if file else name


def summarize(path: Path, top: int = 15) -> str:
    if not path.exists():
        return f"no profile written ({path})"
    own: Counter[str] = Counter()
    anywhere: Counter[str] = Counter()
    total = 0
    for line in path.read_text(errors="replace").splitlines():
        stack, _, count = line.rpartition(" ")
        if not stack or not count.isdigit():
            continue
        n = int(count)
        frames = [_frame(f) for f in stack.split(";") if f and not f.startswith("process ")]
        if not frames:
            continue
        total += n
        own[frames[-1]] += n
        for f in set(frames):
            anywhere[f] += n
    if total == 0:
        return f"no samples in {path}"
    rows = [f"{total} samples (100/s, active threads only); top by self, then by inclusive share:"]
    rows += [f"  self {100 * n / total:5.1f}%  {f}" for f, n in own.most_common(top)]
    rows += [f"  incl {100 * n / total:5.1f}%  {f}" for f, n in anywhere.most_common(top + 10)]
    return "\n".join(rows)
