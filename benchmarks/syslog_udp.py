"""UDP syslog intake: messages sent at 25k, 50k and 100k/s for 8 s each, counted at `emit`.

Runs the Calypso syslog source in this process and, when `rsyslogd` is installed, a real rsyslog
receiving the same stream (imudp -> omfile, lines counted) side by side. Each receiver gets its
own sender process, pacing itself in 1 ms slices with the same messages.

    .venv/bin/python benchmarks/syslog_udp.py [--seconds 8] [--rates 25000,50000,100000]
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing as mp
import shutil
import socket
import subprocess
import tempfile
import time
from collections import deque
from pathlib import Path
from typing import Any

from calypso.agent.sources.base import Record, SourceContext
from calypso.agent.sources.syslog import SyslogSource, build


def sender(target: tuple[str, int], rate: int, seconds: float, result: Any, elapsed: Any) -> None:
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 8 << 20)
    sock.connect(target)  # connected: `send` skips the address lookup `sendto` does per message
    msgs = [
        b"<38>Nov 25 09:00:00 bench-host sshd[%d]: Accepted publickey for user%d from 10.0.%d.%d port 22 ssh2"
        % (i, i % 1000, i % 250, i % 200)
        for i in range(4096)
    ]
    sent = 0
    start = time.perf_counter()
    total = int(rate * seconds)
    while sent < total:
        due = min(total, int((time.perf_counter() - start) * rate) + rate // 1000)
        while sent < due:
            first = sent & 4095
            n = min(due - sent, 4096 - first)
            deque(map(sock.send, msgs[first : first + n]), maxlen=0)  # the loop runs in C
            sent += n
        ahead = sent / rate - (time.perf_counter() - start)
        if ahead > 0:
            time.sleep(ahead)
    result.value = sent
    elapsed.value = time.perf_counter() - start
    print(f"    sender: {sent} messages to {target[1]} in {elapsed.value:.2f}s", flush=True)


class Rsyslog:
    def __init__(self, work: Path) -> None:
        self.work = work
        self.out = work / "out.log"
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            s.bind(("127.0.0.1", 0))
            self.port = s.getsockname()[1]
        conf = work / "rsyslog.conf"
        conf.write_text(
            f'global(workDirectory="{work}")\n'
            'module(load="imudp")\n'
            f'input(type="imudp" address="127.0.0.1" port="{self.port}" rcvbufSize="64m")\n'
            f'action(type="omfile" file="{self.out}" template="RSYSLOG_FileFormat")\n'
        )
        self.proc = subprocess.Popen(
            ["rsyslogd", "-n", "-f", str(conf), "-i", str(work / "rsyslog.pid")],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        time.sleep(1.0)

    def lines(self) -> int:
        if not self.out.exists():
            return 0
        with self.out.open("rb") as f:
            return sum(chunk.count(b"\n") for chunk in iter(lambda: f.read(1 << 20), b""))

    def reset(self) -> None:
        self.out.unlink(missing_ok=True)
        self.proc.send_signal(1)  # SIGHUP: reopen the output file
        time.sleep(0.3)

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait(10)


async def run_rate(
    source: SyslogSource, counted: list[int], rate: int, seconds: float, rs: Rsyslog | None
) -> str:
    counted[0] = 0
    host, _, port = source.status()["listening"]["udp"].rpartition(":")
    targets = [(host, int(port))] + ([("127.0.0.1", rs.port)] if rs else [])
    if rs:
        rs.reset()
    dropped0 = source.ctx.counters.get("dropped", 0)
    # One sender process per receiver, so each stream gets a core's worth of sendto calls.
    procs, results = [], []
    for target in targets:
        result, elapsed = mp.Value("q", 0), mp.Value("d", 0.0)
        procs.append(
            mp.get_context("fork").Process(target=sender, args=(target, rate, seconds, result, elapsed))
        )
        results.append((result, elapsed))
    for proc in procs:
        proc.start()
    while any(proc.is_alive() for proc in procs):
        await asyncio.sleep(0.05)
    result, elapsed = results[0]  # the stream to Calypso; rsyslog's has the same messages and pace
    last = -1
    while counted[0] != last:  # let the queue drain
        last = counted[0]
        await asyncio.sleep(0.5)
    sent = result.value
    got = counted[0]
    # The rate reached: on a busy machine the sender (one Python process) can fall behind the target.
    row = f"| {rate:>7} | {sent / elapsed.value:>8.0f} | {sent:>8} | {got:>8} | {100 * (sent - got) / sent:>7.3f}% |"
    row += f" {source.ctx.counters.get('dropped', 0) - dropped0:>7} |"
    if rs:
        time.sleep(1.0)
        rl = rs.lines()
        row += f" {rl:>8} | {100 * (sent - rl) / sent:>7.3f}% |"
    else:
        row += " n/a | n/a |"
    return row


async def main(rates: list[int], seconds: float) -> None:
    ctx = SourceContext(Path(tempfile.mkdtemp()), "bench")
    source = build({"udp": "127.0.0.1:0"}, ctx)
    counted = [0]

    async def emit(table: str, records: list[Record], commit: Any = None) -> None:
        counted[0] += len(records)

    task = asyncio.create_task(source.run(emit))
    while source.status()["state"] != "running":
        await asyncio.sleep(0.01)
    print(f"SO_RCVBUF granted: {source.status()['receive_buffer_bytes']['udp']} bytes")
    rs = Rsyslog(Path(tempfile.mkdtemp())) if shutil.which("rsyslogd") else None
    if rs is None:
        print("rsyslogd not installed: no side-by-side column")
    rows = []
    try:
        for rate in rates:
            rows.append(await run_rate(source, counted, rate, seconds, rs))
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        if rs:
            rs.stop()
    print(f"\nUDP syslog, {seconds:g} s per rate, ~100-byte RFC 3164 messages, all parsed to Syslog records")
    print("| rate/s  | reached  | sent     | calypso  | loss     | dropped | rsyslog  | loss     |")
    print("|---------|----------|----------|----------|----------|---------|----------|----------|")
    for row in rows:
        print(row)


if __name__ == "__main__":
    ap = argparse.ArgumentParser()
    ap.add_argument("--seconds", type=float, default=8.0)
    ap.add_argument("--rates", default="25000,50000,100000")
    args = ap.parse_args()
    asyncio.run(main([int(r) for r in args.rates.split(",")], args.seconds))
