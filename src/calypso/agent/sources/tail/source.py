"""The tail source: lines of files matched by globs -> records of a custom table (`<Name>_CL`).

Invariants: records leave in batches (up to `batch_records` records or `batch_bytes` bytes, or
whatever is ready after one poll); the checkpoint of a batch is captured when it is read and written
only from the commit callback, i.e. after the runtime has the batch in its disk buffer (and, as
pending on the buffer's ticket, just before: see `checkpoint`, so a kill in between repeats no
line). A stopped
source (cancelled) writes its last committed checkpoint durably; it never records an offset whose
lines were not committed. The per-line mapping is a `LineHandler`, so W3C logs reuse all of this.
"""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol

from calypso.agent.sources.base import Emit, Record, Records, SourceContext, Ticket, TwoPhaseCommit, iso
from calypso.agent.sources.tail.checkpoint import Checkpoints, Entry
from calypso.agent.sources.tail.config import TailConfig, parse_config
from calypso.agent.sources.tail.watcher import Line, Run, Tailer
from calypso.wire.batch import Batch


class LineHandler(Protocol):
    """Turns one line (or multi-line record) of a file into a record, or None to skip it."""

    def __call__(self, path: str, text: str, now: str, end: int) -> Record | None: ...


def state_file(state_dir: Path, kind: str, name: str) -> Path:
    safe = re.sub(r"[^A-Za-z0-9_.-]", "_", name) or "default"
    return state_dir / f"{kind}-{safe}.checkpoint.json"


class TailSource:
    def __init__(
        self,
        config: TailConfig,
        ctx: SourceContext,
        handler: LineHandler | None = None,
        table: str | None = None,
        kind: str = "tail",
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.name = f"{kind}:{config.name or 'default'}"
        self.config = config
        self.ctx = ctx
        self.table = table or config.table
        self.handler = handler  # None: plain lines, sent as columns (no dict per line)
        self.checkpoints = Checkpoints(state_file(ctx.state_dir, kind, config.name or "default"), ctx.written)
        self.tailer = Tailer(config, self.checkpoints, clock)
        self._clock = clock
        self._next_scan = float("-inf")  # while reading flat out, look for new files only this often
        self.records = 0
        self.skipped = 0
        self.batches = 0
        self._committed: list[Entry] | None = None
        self._outstanding = False  # a batch was emitted and its commit has not come yet

    def _commit(self, entries: list[Entry]) -> TwoPhaseCommit:
        prepared = False

        def prepare(ticket: Ticket) -> None:
            nonlocal prepared
            confirmed = self._committed
            if confirmed is None:
                confirmed = list(self.checkpoints.entries.values())
            self.checkpoints.prepare(confirmed, entries, ticket)
            prepared = True

        def commit() -> None:
            self._outstanding = False
            self._committed = entries
            if prepared:  # the file already holds `entries`, pending on a write that happened
                self.checkpoints.confirm(entries)
            else:
                self.checkpoints.save(entries)

        return TwoPhaseCommit(prepare, commit)

    def _batch(self, lines: list[Line]) -> Batch | None:
        """Plain multi-line records as one columnar batch."""
        if not lines:
            return None
        paths, texts, _ = zip(*lines, strict=True)
        return self._columns(list(paths), {"RawData": list(texts)}, {})

    def _joined_batch(self, runs: list[Run]) -> Batch | None:
        """Plain lines as one batch without an object per line: RawData joined."""
        if not runs:
            return None
        paths = [path for run in runs for path in [run.path] * run.count]
        return self._columns(paths, {}, {"RawData": "\n".join([run.text for run in runs])})

    def _columns(self, paths: list[str], columns: dict[str, list[Any]], joined: dict[str, str]) -> Batch:
        """The batch of these rows, the collection time and computer sent once, and the path once
        when every row has the same."""
        consts: dict[str, Any] = {"TimeGenerated": iso(datetime.now(UTC)), "Computer": self.ctx.computer}
        if len(set(paths)) == 1:
            consts["FilePath"] = paths[0]
        else:
            columns["FilePath"] = paths
        return Batch(self.table, columns, len(paths), consts=consts, joined=joined)

    def _records(self, lines: list[Line], handler: LineHandler) -> list[Record]:
        now = iso(datetime.now(UTC))
        out: list[Record] = []
        for path, text, end in lines:
            try:
                rec = handler(path, text, now, end)
            except Exception:  # a handler bug on one hostile line must not stop the source
                rec = None
                self.ctx.count(f"{self.name}.handler_errors")
            if rec is None:
                self.skipped += 1
            else:
                out.append(rec)
        return out

    async def poll_once(self, emit: Emit) -> bool:
        """One read + emit, after a scan for new files (at most every `poll_interval` while the
        reads come back full); True when more data is ready right away."""
        cfg = self.config
        now = self._clock()
        if now >= self._next_scan:
            self.tailer.scan()
            self._next_scan = now + cfg.poll_interval
        handler = self.handler
        records: Records | None
        if handler is None and cfg.multiline_start is None:
            runs, more = self.tailer.read_joined(cfg.batch_records, cfg.batch_bytes)
            records, read_any = self._joined_batch(runs), bool(runs)
        else:
            lines, more = self.tailer.read(cfg.batch_records, cfg.batch_bytes)
            records = self._batch(lines) if handler is None else self._records(lines, handler) or None
            read_any = bool(lines)
        if not more:
            self._next_scan = float("-inf")  # caught up: the next poll, after a pause, scans
        entries = self.tailer.entries()
        # One emit per read, whatever its size: its records go into the buffer in one write, so the
        # checkpoint it carries covers all of them (several emits would let a kill split them).
        commit = self._commit(entries)
        if records is None:
            if not self._outstanding and (read_any or entries != self._committed):
                commit()  # skipped lines or moved offsets (truncation, close): nothing to wait for
            return more
        self._outstanding = True
        await emit(self.table, records, commit)
        self.records += records.count if isinstance(records, Batch) else len(records)
        self.batches += 1
        return more

    async def run(self, emit: Emit) -> None:
        try:
            while True:
                more = await self.poll_once(emit)
                if not more:
                    await asyncio.sleep(self.config.poll_interval)
                else:
                    await asyncio.sleep(0)
        finally:
            if self._committed is not None:
                self.checkpoints.save(self._committed, durable=True)
            self.checkpoints.close()
            self.tailer.close()

    def status(self) -> Mapping[str, Any]:
        lc = self.tailer.line_counters
        return {
            "table": self.table,
            "files": sorted(f.path for f in self.tailer.files.values()),
            "records": self.records,
            "skipped": self.skipped,
            "lines": lc.lines,
            "lines_truncated": lc.truncated,
            "lines_invalid_encoding": lc.invalid,
            "nul_bytes_removed": lc.nul_bytes,
            "checkpoint_corrupt": self.checkpoints.corrupt,
            **self.tailer.counters,
        }


def build(config: Mapping[str, Any], ctx: SourceContext) -> TailSource:
    return TailSource(parse_config(config), ctx)
