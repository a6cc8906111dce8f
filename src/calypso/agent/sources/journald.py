"""journald source: `journalctl -o json --follow` as a subprocess -> `Syslog`, with a cursor checkpoint.

Invariants:
- the cursor file (`<state_dir>/journald.cursor`) only ever holds the `__CURSOR` of an entry whose
  record the runtime has committed to its buffer (it is written in the emit's `commit` callback),
  atomically (temp file, fsync, rename): after a restart reading resumes right after it, so nothing
  committed is read twice and nothing is skipped;
- without a cursor the source starts at the end of the journal (`start = "now"`) or at its
  beginning (`start = "all"`);
- a line that is not a journal JSON object is counted (`parse_errors`) and skipped; a field sent as
  a byte array (binary MESSAGE) is decoded as UTF-8 with invalid bytes replaced; nothing raises;
- if journalctl exits it is restarted after the last entry read, with a growing pause (1 s .. 30 s).

Mapping: PRIORITY -> SeverityLevel, SYSLOG_FACILITY -> Facility (default user), SYSLOG_IDENTIFIER
(else _COMM) -> ProcessName, _PID (else SYSLOG_PID) -> ProcessID, _HOSTNAME -> HostName/Computer,
MESSAGE -> SyslogMessage, __REALTIME_TIMESTAMP -> EventTime.

```toml
[sources.journald]
start = "now"                 # or "all" (only used when there is no cursor yet)
directory = "/var/log/journal"  # optional: journalctl -D
facilities = ["daemon", "auth"] # optional filters, as for syslog
[sources.journald.levels]
"*" = "info"
```
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson

from calypso.agent.sources.base import Emit, Record, SourceContext, Ticket, TwoPhaseCommit, iso
from calypso.agent.sources.pending import PendingCheckpoint
from calypso.agent.sources.syslog.config import allowed_table
from calypso.agent.sources.syslog.header import parse_pid
from calypso.agent.sources.syslog.names import FACILITIES, SEVERITIES

TABLE = "Syslog"
CURSOR_FILE = "journald.cursor"
_DEFAULT_FACILITY = 1  # user
_DEFAULT_SEVERITY = 6  # info


@dataclass(frozen=True)
class JournaldConfig:
    journalctl: str = "journalctl"
    start: str = "now"
    directory: str | None = None
    allowed: tuple[bool, ...] = field(default_factory=lambda: (True,) * (len(FACILITIES) * 8))
    batch_size: int = 1000
    flush_interval: float = 0.1

    @classmethod
    def from_mapping(cls, raw: Mapping[str, Any]) -> JournaldConfig:
        start = str(raw.get("start", "now"))
        if start not in ("now", "all"):
            raise ValueError(f"sources.journald.start: expected 'now' or 'all', got {start!r}")
        batch = raw.get("batch_size", 1000)
        if not isinstance(batch, int) or batch <= 0:
            raise ValueError(f"sources.journald.batch_size: expected a positive integer, got {batch!r}")
        return cls(
            journalctl=str(raw.get("journalctl", "journalctl")),
            start=start,
            directory=str(raw["directory"]) if raw.get("directory") else None,
            allowed=allowed_table(raw.get("facilities"), raw.get("levels", {}), "sources.journald"),
            batch_size=batch,
            flush_interval=float(raw.get("flush_interval", 0.1)),
        )


def _text(value: Any) -> str | None:
    """A journal field as text: strings as is, byte arrays decoded, multi-valued fields -> first value."""
    if isinstance(value, str):
        return value
    if isinstance(value, list) and value:
        if all(isinstance(b, int) and 0 <= b <= 255 for b in value):
            return bytes(value).decode("utf-8", "replace")
        return _text(value[0])
    if isinstance(value, int | float) and not isinstance(value, bool):
        return str(value)
    return None


def _code(value: Any, default: int, top: int) -> int:
    text = _text(value)
    if text is not None and text.isdigit() and text.isascii():
        code = int(text)
        if code <= top:
            return code
    return default


def parse_entry(line: bytes, collector: str) -> tuple[int, Record, str | None] | None:
    """(PRI, Syslog record, cursor) for one `journalctl -o json` line, or None if it is not an entry."""
    try:
        entry = orjson.loads(line)
    except orjson.JSONDecodeError:
        return None
    if not isinstance(entry, dict):
        return None
    facility = _code(entry.get("SYSLOG_FACILITY"), _DEFAULT_FACILITY, len(FACILITIES) - 1)
    severity = _code(entry.get("PRIORITY"), _DEFAULT_SEVERITY, 7)
    host = _text(entry.get("_HOSTNAME")) or collector
    event_time: str | None = None
    realtime = _text(entry.get("__REALTIME_TIMESTAMP"))
    if realtime and realtime.isdigit():
        with contextlib.suppress(OverflowError, OSError, ValueError):
            event_time = iso(datetime.fromtimestamp(int(realtime) / 1_000_000, UTC))
    record: Record = {
        "Computer": host,
        "HostName": host,
        "HostIP": None,
        "CollectorHostName": collector,
        "Facility": FACILITIES[facility],
        "SeverityLevel": SEVERITIES[severity],
        "ProcessName": _text(entry.get("SYSLOG_IDENTIFIER")) or _text(entry.get("_COMM")),
        "ProcessID": parse_pid(_text(entry.get("_PID")) or _text(entry.get("SYSLOG_PID"))),
        "SyslogMessage": _text(entry.get("MESSAGE")) or "",
        "EventTime": event_time,
    }
    return facility * 8 + severity, record, _text(entry.get("__CURSOR"))


def write_cursor(path: Path, cursor: str) -> None:
    """Replace the cursor file atomically: a crash leaves the old cursor or the new one, never a mix."""
    tmp = path.with_name(path.name + ".tmp")
    with tmp.open("w", encoding="utf-8") as f:
        f.write(cursor)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


class JournaldSource:
    name = "journald"

    def __init__(self, config: JournaldConfig, ctx: SourceContext) -> None:
        self.config = config
        self.ctx = ctx
        self.cursor_path = ctx.state_dir / CURSOR_FILE
        self.pending = PendingCheckpoint(self.cursor_path, ctx)
        self.read_cursor: str | None = self._load_cursor()  # last entry handed to emit
        self.committed_cursor: str | None = self.read_cursor
        self.state = "created"
        self.error: str | None = None
        self.restarts = 0

    def _load_cursor(self) -> str | None:
        pending = self.pending.resolve()
        if isinstance(pending, str):
            write_cursor(self.cursor_path, pending)
        self.pending.clear()
        try:
            text = self.cursor_path.read_text(encoding="utf-8").strip()
        except (FileNotFoundError, UnicodeDecodeError):
            return None
        return text or None

    def command(self) -> list[str]:
        exe = shutil.which(self.config.journalctl)
        if exe is None:
            raise FileNotFoundError(f"journald: '{self.config.journalctl}' not found on PATH")
        cmd = [exe, "-o", "json", "--follow", "--all", "--no-pager"]
        if self.config.directory:
            cmd += ["-D", self.config.directory]
        if self.read_cursor:
            cmd += ["--after-cursor", self.read_cursor, "--lines", "all"]
        elif self.config.start == "all":
            cmd += ["--lines", "all"]
        else:
            cmd += ["--lines", "0"]
        return cmd

    async def run(self, emit: Emit) -> None:
        pause = 1.0
        try:
            while True:
                self.state = "starting"
                try:
                    cmd = self.command()
                except FileNotFoundError as e:
                    self.state, self.error = "failed", str(e)
                    raise
                started = time.monotonic()
                await self._follow(cmd, emit)
                self.restarts += 1
                self.ctx.count("restarts")
                if time.monotonic() - started > 60:
                    pause = 1.0
                self.state = "waiting"
                await asyncio.sleep(pause)
                pause = min(pause * 2, 30.0)
        except asyncio.CancelledError:
            self.state = "stopped"
            raise

    async def _follow(self, cmd: list[str], emit: Emit) -> None:
        proc = await asyncio.create_subprocess_exec(
            *cmd,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            limit=16 << 20,
        )
        assert proc.stdout is not None and proc.stderr is not None
        self.state = "running"
        batch: list[Record] = []
        cursor: str | None = None
        deadline = time.monotonic() + self.config.flush_interval
        try:
            while True:
                timeout = max(0.0, deadline - time.monotonic())
                try:
                    line = await asyncio.wait_for(proc.stdout.readline(), timeout if batch else None)
                except TimeoutError:
                    line = None
                except ValueError:  # a line beyond the stream limit
                    self.ctx.count("parse_errors")
                    continue
                if line:
                    parsed = parse_entry(line, self.ctx.computer)
                    if parsed is None:
                        if line.strip():
                            self.ctx.count("parse_errors")
                    else:
                        pri, record, entry_cursor = parsed
                        cursor = entry_cursor or cursor
                        if self.config.allowed[pri]:
                            batch.append(record)
                        else:
                            self.ctx.count("filtered")
                        if len(batch) == 1:
                            deadline = time.monotonic() + self.config.flush_interval
                if batch and (line is None or line == b"" or len(batch) >= self.config.batch_size):
                    await self._emit(emit, batch, cursor)
                    batch = []
                if line == b"":
                    err = (await proc.stderr.read(4096)).decode("utf-8", "replace").strip()
                    await proc.wait()
                    self.error = f"journalctl exited with {proc.returncode}" + (f": {err}" if err else "")
                    return
        finally:
            if proc.returncode is None:
                proc.kill()
                with contextlib.suppress(Exception):
                    await proc.wait()

    async def _emit(self, emit: Emit, batch: list[Record], cursor: str | None) -> None:
        def prepare(ticket: Ticket) -> None:
            if cursor is not None:
                self.pending.save(ticket, cursor)

        def commit() -> None:
            if cursor is not None:
                write_cursor(self.cursor_path, cursor)
                self.committed_cursor = cursor

        await emit(TABLE, batch, TwoPhaseCommit(prepare, commit))
        self.read_cursor = cursor or self.read_cursor
        self.ctx.count("records", len(batch))

    def status(self) -> Mapping[str, Any]:
        return {
            "state": self.state,
            "error": self.error,
            "cursor": self.committed_cursor,
            "restarts": self.restarts,
            "counters": dict(self.ctx.counters),
        }


def build(config: Mapping[str, Any], ctx: SourceContext) -> JournaldSource:
    """Registry factory for `[sources.journald]`."""
    return JournaldSource(JournaldConfig.from_mapping(config), ctx)
