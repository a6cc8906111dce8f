"""Live Windows event channels (System, Application, Security, ...) -> `Event` / `SecurityEvent`.

The channel reader is the Windows API (`evtx.read_channel`, wevtapi via ctypes), so this source runs
only on Windows; elsewhere building it is a configuration error that says so. Everything else — the
per-channel checkpoint (highest EventRecordID committed), batching, the mapping to table rows shared
with `.evtx` files — is plain Python and tested here with an injected reader.

Config: `[sources.windows_events]` with `channels = ["System", "Application", "Security"]` and an
optional `poll_interval`.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
from collections.abc import Callable, Mapping
from typing import Any

from calypso.agent.config import ConfigError, duration
from calypso.agent.sources.base import Emit, Record, SourceContext, Ticket, TwoPhaseCommit
from calypso.agent.sources.evtx import EvtxCounters, read_channel, to_row
from calypso.agent.sources.pending import PendingCheckpoint, table_runs

Reader = Callable[[str, int, int], list[tuple[int, Mapping[str, Any]]]]


class WindowsEventSource:
    def __init__(
        self,
        channels: tuple[str, ...],
        ctx: SourceContext,
        poll_interval: float = 5.0,
        reader: Reader = read_channel,
        batch_records: int = 1000,
    ) -> None:
        self.name = "windows_events"
        self.channels, self.ctx, self.poll_interval = channels, ctx, poll_interval
        self.reader, self.batch_records = reader, batch_records
        self.counters = EvtxCounters()
        self.state_path = ctx.state_dir / "windows-events.checkpoint.json"
        self.pending = PendingCheckpoint(self.state_path, ctx)
        self.committed: dict[str, int] = self._load()
        if (pending := self.pending.resolve()) is not None:
            for k, v in dict(pending).items():
                self.committed[str(k)] = max(self.committed.get(str(k), 0), int(v))
            self._save()
        self.pending.clear()
        self.read_errors = 0

    def _load(self) -> dict[str, int]:
        try:
            raw = json.loads(self.state_path.read_text("utf-8"))
            return {str(k): int(v) for k, v in raw["channels"].items()}
        except FileNotFoundError:
            return {}
        except (OSError, ValueError, KeyError, TypeError, AttributeError):
            self.ctx.count("windows_events.checkpoint_corrupt")
            return {}

    def _save(self) -> None:
        self.state_path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.state_path.with_name(self.state_path.name + ".tmp")
        tmp.write_text(json.dumps({"version": 1, "channels": self.committed}), "utf-8")
        os.replace(tmp, self.state_path)

    async def poll_once(self, emit: Emit) -> int:
        emitted = 0
        for channel in self.channels:
            try:
                events = await asyncio.to_thread(
                    self.reader, channel, self.committed.get(channel, 0), self.batch_records
                )
            except OSError:
                self.read_errors += 1  # a channel that cannot be read now is tried again next poll
                continue
            if not events:
                continue
            rows: list[tuple[int, str, Record]] = []
            for rid, doc in events:
                row = to_row(doc, self.counters)
                if row is not None:
                    rows.append((rid, row[0], row[1]))
            last = max(rid for rid, _ in events)
            runs = table_runs(rows)
            if not runs:
                self._commit(channel, last)
            for n, (table, records, run_last) in enumerate(runs):
                upto = last if n == len(runs) - 1 else run_last  # the last run covers skipped events too
                await emit(table, records, self._two_phase(channel, upto))
                emitted += len(records)
        self.counters.records += emitted
        return emitted

    def _two_phase(self, channel: str, last: int) -> TwoPhaseCommit:
        def prepare(ticket: Ticket) -> None:
            self.pending.save(ticket, {channel: last})

        return TwoPhaseCommit(prepare, lambda: self._commit(channel, last))

    def _commit(self, channel: str, last: int) -> None:
        self.committed[channel] = max(self.committed.get(channel, 0), last)
        self._save()

    async def run(self, emit: Emit) -> None:
        while True:
            while await self.poll_once(emit):
                pass  # drain a backlog before sleeping
            await asyncio.sleep(self.poll_interval)

    def status(self) -> Mapping[str, Any]:
        return {
            "channels": dict(self.committed),
            "records": self.counters.records,
            "read_errors": self.read_errors,
        }


def build(config: Mapping[str, Any], ctx: SourceContext, reader: Reader | None = None) -> WindowsEventSource:
    unknown = set(config) - {"channels", "poll_interval", "name"}
    if unknown:
        raise ConfigError(
            f"unknown key 'sources.windows_events.{sorted(unknown)[0]}' (allowed: channels, poll_interval)"
        )
    channels = config.get("channels", ["System", "Application"])
    if isinstance(channels, str):
        channels = [channels]
    if not channels or not all(isinstance(c, str) and c for c in channels):
        raise ConfigError("sources.windows_events.channels: expected a list of channel names")
    if reader is None and sys.platform != "win32":
        raise ConfigError(
            "sources.windows_events reads live Windows event channels and needs Windows; "
            "on Linux use [[sources.evtx]] with exported .evtx files"
        )
    return WindowsEventSource(
        tuple(channels),
        ctx,
        duration(config.get("poll_interval", 5), "sources.windows_events.poll_interval"),
        reader or read_channel,
    )
