"""The agent's runtime: sources -> disk buffer -> one sink per workspace, plus rules and status.

Invariants:
- A source's `commit` runs only after its records are in the disk buffer; a two-phase commit's
  `prepare` runs just before the write, with a ticket the buffer can later vouch for (`holds`).
- Every workspace has its own buffer cursor and sink task: a slow or unreachable workspace never
  stalls the others (it only holds disk space until it catches up).
- Rules fetched from workspaces are cached on disk, so a restarted agent works offline, and are
  applied live: only sources whose section changed are restarted.
- On stop (SIGTERM), sources stop first, then sinks get a bounded time to drain the buffer.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import gc
import json
import logging
import os
import socket
import sys
import time
from collections.abc import Mapping
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from calypso import __version__
from calypso.agent import config as cfg
from calypso.agent import identity
from calypso.agent.buffer import BufferFull, DiskBuffer, EntryTooLarge
from calypso.agent.sinks.workspace.service import WorkspaceService
from calypso.agent.sinks.workspace.sink import WorkspaceSink, pack_entry
from calypso.agent.sources import factory
from calypso.agent.sources.base import (
    Commit,
    Emit,
    Record,
    Records,
    Source,
    SourceContext,
    Ticket,
    TwoPhaseCommit,
    iso,
)
from calypso.agent.transport import Routes
from calypso.logfmt import event
from calypso.wire import agentapi
from calypso.wire.batch import Batch
from calypso.wire.errors import CalypsoError, ConfigError

log = logging.getLogger("calypso.agent")
MAX_RECORDS_PER_BATCH = 5000
STATS_TABLE = "CalypsoAgent_CL"


class RunningSource:
    def __init__(self, name: str, kind: str, section: Mapping[str, Any], source: Source):
        self.name, self.kind, self.section, self.source = name, kind, section, source
        self.task: asyncio.Task[None] | None = None
        self.records = 0
        self.error: str | None = None


class Agent:
    def __init__(self, state: Path, config_path: Path | None = None):
        self.state = state
        self.config_path = config_path
        self.config = cfg.load(config_path)
        self.computer = self.config.computer or socket.gethostname()
        self.counters: dict[str, int] = {"records_in": 0, "buffer_full_waits": 0, "records_too_large": 0}
        self.sources: dict[str, RunningSource] = {}
        self.sinks: dict[str, WorkspaceSink] = {}
        self.rules: dict[str, dict[str, Any]] = {}
        self.started = time.time()
        self._routes: list[Routes] = []

    # -- wiring ---------------------------------------------------------------------------------
    async def _open(self) -> None:
        connections = identity.load_all(self.state)
        if not connections:
            raise ConfigError(
                f"this agent is not connected to any workspace (state {self.state}); "
                "run `calypso agent connect` first"
            )
        b = self.config.buffer
        self.buffer = DiskBuffer(
            self.state / "buffer", max_bytes=b.max_bytes, fsync=b.fsync, overflow=b.overflow
        )
        fingerprint = identity.machine_fingerprint()
        for conn, key in connections:
            routes = Routes(conn.ca_file, conn.proxy, conn.gateways)
            if conn.machine != fingerprint:
                try:
                    conn, key = await self._register_clone(conn, key, routes, fingerprint)
                except CalypsoError as e:
                    event(
                        log,
                        logging.ERROR,
                        "This state was onboarded on another machine (a cloned image) and "
                        "could not register as a new agent; run `calypso agent connect` again.",
                        workspace=conn.workspace_id,
                        error=e,
                    )
                    await routes.aclose()
                    continue
            self._routes.append(routes)
            sink = WorkspaceSink(
                WorkspaceService(conn, key, routes),
                self.buffer,
                self.config.delivery,
                identity.workspace_dir(self.state, conn.workspace_id),
            )
            self.sinks[conn.workspace_id] = sink
            self.rules[conn.workspace_id] = self._cached_rules(conn.workspace_id)
        known = {f"workspace-{w}" for w in self.sinks}
        for reader in self.buffer.readers():
            if reader not in known:  # a disconnected workspace must not pin the buffer forever
                self.buffer.remove_reader(reader)
        loop = asyncio.get_running_loop()

        def wake() -> None:
            for s in self.sinks.values():
                loop.call_soon_threadsafe(s.wakeup.set)

        self.buffer.subscribe(wake)

    async def _register_clone(
        self, conn: identity.Connection, key: Ed25519PrivateKey, routes: Routes, fingerprint: str
    ) -> tuple[identity.Connection, Ed25519PrivateKey]:
        """A state directory copied from another machine: become a new agent instead of impersonating it."""
        new_key = agentapi.new_private_key()
        payload = {
            "workspace_id": conn.workspace_id,
            "machine_id": fingerprint,
            "hostname": socket.gethostname(),
            "public_key": agentapi.public_key_pem(new_key),
            "labels": dict(self.config.labels),
        }
        result = await WorkspaceService(conn, key, routes).register_clone(payload)
        new_conn = replace(conn, agent_id=str(result["agent_id"]), machine=fingerprint)
        identity.save(self.state, new_conn, new_key, None)
        event(
            log,
            logging.WARNING,
            "Cloned machine detected; registered as a new agent.",
            workspace=conn.workspace_id,
            previous=conn.agent_id,
            agent=new_conn.agent_id,
        )
        return new_conn, new_key

    def _rules_file(self, workspace_id: str) -> Path:
        return identity.workspace_dir(self.state, workspace_id) / "rules.json"

    def _cached_rules(self, workspace_id: str) -> dict[str, Any]:
        try:
            cached: dict[str, Any] = json.loads(self._rules_file(workspace_id).read_text())
            return cached
        except (OSError, ValueError):
            return {}

    # -- records in -----------------------------------------------------------------------------
    def _written(self, ticket: Ticket) -> bool:
        try:
            epoch, seq = ticket
            return self.buffer.holds(int(epoch), int(seq))
        except (TypeError, ValueError):  # a damaged ticket: read again rather than skip
            return False

    def _emitter(self, running: RunningSource) -> Emit:
        async def emit(table: str, records: Records, commit: Commit | None = None) -> None:
            now = iso(datetime.now(UTC))
            n = records.count if isinstance(records, Batch) else len(records)
            payloads = []
            if isinstance(records, Batch):  # already columnar (a source's fast path)
                batch = records.with_defaults({"TimeGenerated": now, "Computer": self.computer})
                payloads.append(pack_entry(batch.count, orjson.dumps(batch.to_json())))
            else:
                for i in range(0, len(records), MAX_RECORDS_PER_BATCH):
                    chunk = records[i : i + MAX_RECORDS_PER_BATCH]
                    for r in chunk:
                        r.setdefault("TimeGenerated", now)
                        r.setdefault("Computer", self.computer)
                    batch = Batch.from_records(table, chunk)
                    payloads.append(pack_entry(batch.count, orjson.dumps(batch.to_json())))
            before_write = None
            if isinstance(commit, TwoPhaseCommit):  # its ticket: this run's epoch and the last seq
                prepare, epoch = commit.prepare, self.buffer.epoch
                before_write = lambda last_seq: prepare([epoch, last_seq])  # noqa: E731

            while True:
                try:
                    self.buffer.append_many(payloads, before_write)
                    break
                except EntryTooLarge as e:
                    # Bigger than the whole buffer: it can never be stored; count it, never crash.
                    self.counters["records_too_large"] += n
                    event(
                        log,
                        logging.ERROR,
                        "Records dropped: larger than the buffer.",
                        source=running.name,
                        records=n,
                        error=e,
                    )
                    return
                except BufferFull:
                    # Back-pressure: the source waits here, so it stops reading until sinks catch up.
                    self.counters["buffer_full_waits"] += 1
                    await asyncio.to_thread(self.buffer.wait_for_space, sum(map(len, payloads)), 0.5)
            running.records += n
            self.counters["records_in"] += n
            if commit is not None:
                commit()

        return emit

    # -- sources --------------------------------------------------------------------------------
    def _desired(self) -> dict[str, tuple[str, Mapping[str, Any]]]:
        sources = cfg.effective_sources(self.config.sources, list(self.rules.values()))
        sources.setdefault("heartbeat", {})
        return {
            name: (kind, {k: v for k, v in section.items() if k != "enabled"})
            for name, kind, section in cfg.instances(sources)
        }

    def _reconcile(self) -> None:
        desired = self._desired()
        for name in list(self.sources):
            running = self.sources[name]
            if name not in desired or desired[name] != (running.kind, running.section):
                if running.task:
                    running.task.cancel()
                del self.sources[name]
                event(log, logging.INFO, "Source stopped.", source=name)
        for name, (kind, section) in desired.items():
            if name in self.sources:
                continue
            ctx = SourceContext(self.state / "sources" / name, self.computer, written=self._written)
            ctx.state_dir.mkdir(parents=True, exist_ok=True)
            try:
                source = factory(kind)(section, ctx)
            except (KeyError, ConfigError, ValueError, TypeError) as e:
                msg = e.args[0] if e.args else str(e)
                event(log, logging.ERROR, "Source not started: bad configuration.", source=name, error=msg)
                continue
            running = RunningSource(name, kind, section, source)
            running.task = asyncio.create_task(self._run_source(running), name=f"source:{name}")
            self.sources[name] = running
            event(log, logging.INFO, "Source started.", source=name)

    async def _run_source(self, running: RunningSource) -> None:
        delay = 1.0
        while True:
            try:
                await running.source.run(self._emitter(running))
                return
            except asyncio.CancelledError:
                raise
            except Exception as e:  # a failing source must never take the agent down
                running.error = f"{type(e).__name__}: {e}"
                event(
                    log,
                    logging.ERROR,
                    "Source failed; restarting.",
                    source=running.name,
                    error=running.error,
                    delay=f"{delay:.0f}s",
                )
                await asyncio.sleep(delay)
                delay = min(delay * 2, 60)

    # -- rules ----------------------------------------------------------------------------------
    async def _poll_rules(self, workspace_id: str, sink: WorkspaceSink) -> None:
        etag = self.rules[workspace_id].get("_etag")
        while True:
            try:
                rules, etag = await sink.service.get_rules(etag)
                if rules is not None:
                    rules = {**rules, "_etag": etag}
                    if rules != self.rules[workspace_id]:
                        self.rules[workspace_id] = rules
                        tmp = self._rules_file(workspace_id).with_suffix(".tmp")
                        tmp.write_text(json.dumps(rules))
                        os.replace(tmp, self._rules_file(workspace_id))
                        event(
                            log,
                            logging.INFO,
                            "Collection rules changed; applying.",
                            workspace=workspace_id,
                            etag=etag,
                        )
                        self._reconcile()
            except CalypsoError as e:
                event(
                    log,
                    logging.WARNING,
                    "Could not fetch collection rules; keeping the last good set.",
                    workspace=workspace_id,
                    error=e,
                )
            except (ValueError, TypeError) as e:
                event(
                    log,
                    logging.WARNING,
                    "Workspace sent unreadable rules; ignored.",
                    workspace=workspace_id,
                    error=e,
                )
            await asyncio.sleep(self.config.delivery.rules_poll_interval)

    # -- status ---------------------------------------------------------------------------------
    def status(self) -> dict[str, Any]:
        stats = self.buffer.stats()
        return {
            "pid": os.getpid(),
            "version": __version__,
            "computer": self.computer,
            "started": self.started,
            "updated": time.time(),
            "counters": dict(self.counters),
            "buffer": {
                "bytes": stats.bytes,
                "entries": stats.entries,
                "segments": stats.segments,
                "dropped_entries": stats.dropped_entries,
                "corrupt_segments": stats.corrupt_segments,
            },
            "sources": {
                n: {"kind": r.kind, "records": r.records, "error": r.error, **r.source.status()}
                for n, r in self.sources.items()
            },
            "workspaces": {w: s.status() for w, s in self.sinks.items()},
        }

    def write_status(self, running: bool = True) -> None:
        data = self.status() | {"running": running}
        tmp = self.state / "status.json.tmp"
        tmp.write_bytes(orjson.dumps(data, default=str, option=orjson.OPT_INDENT_2))
        os.replace(tmp, self.state / "status.json")

    async def _status_loop(self) -> None:
        last_stats = time.monotonic()
        last_moved: tuple[int, ...] = ()
        released = False
        while True:
            self.write_status()
            moved = (self.counters["records_in"], *(s.counters["records_out"] for s in self.sinks.values()))
            if moved != last_moved:
                released = False
            elif not released:  # nothing read nor delivered since the last round: give memory back
                release_memory()
                released = True
            last_moved = moved
            if time.monotonic() - last_stats >= self.config.delivery.stats_interval:
                last_stats = time.monotonic()
                await self._emit_stats()
            await asyncio.sleep(self.config.delivery.status_interval)

    async def _emit_stats(self) -> None:
        """The agent's own counters, as rows in every workspace (one per source and per workspace)."""
        s = self.status()
        rows: list[Record] = [
            {"Component": f"source:{n}", "RecordsIn": v["records"]} for n, v in s["sources"].items()
        ]
        rows += [
            {
                "Component": f"workspace:{w}",
                "RecordsOut": v["records_out"],
                "Retries": v["retries"],
                "DeadLettered": v["dead_lettered"],
                "Pending": v["pending"],
            }
            for w, v in s["workspaces"].items()
        ]
        rows.append(
            {
                "Component": "buffer",
                "BufferBytes": s["buffer"]["bytes"],
                "Dropped": s["buffer"]["dropped_entries"],
                "AgentVersion": __version__,
            }
        )
        stats_source = RunningSource("stats", "stats", {}, _NullSource())
        await self._emitter(stats_source)(STATS_TABLE, rows)

    # -- lifecycle ------------------------------------------------------------------------------
    async def run(self, stop: asyncio.Event, drain_timeout: float = 10.0) -> None:
        await self._open()
        event(
            log,
            logging.INFO,
            "Agent started.",
            computer=self.computer,
            workspaces=len(self.sinks),
            state=self.state,
        )
        background = [asyncio.create_task(s.run(), name=f"sink:{w}") for w, s in self.sinks.items()]
        background += [asyncio.create_task(self._poll_rules(w, s)) for w, s in self.sinks.items()]
        self._reconcile()
        background.append(asyncio.create_task(self._status_loop()))
        await stop.wait()
        event(log, logging.INFO, "Stopping: sources first, then draining the buffer.")
        for r in self.sources.values():
            if r.task:
                r.task.cancel()
        await asyncio.gather(*(r.task for r in self.sources.values() if r.task), return_exceptions=True)
        drained = all(await asyncio.gather(*(s.drain(drain_timeout) for s in self.sinks.values())))
        for t in background:
            t.cancel()
        await asyncio.gather(*background, return_exceptions=True)
        for routes in self._routes:
            await routes.aclose()
        self.write_status(running=False)
        self.buffer.close()
        event(
            log,
            logging.INFO,
            "Agent stopped." if drained else "Agent stopped; undelivered data stays buffered.",
        )


M_TRIM_THRESHOLD, M_MMAP_THRESHOLD, M_ARENA_MAX = -1, -3, -8  # glibc's mallopt parameters


def tune_malloc(mmap_threshold: int = 16 << 20, trim_threshold: int = 8 << 20) -> None:
    """One glibc heap for all threads, which keeps up to `trim_threshold` free bytes at its top and
    serves blocks below `mmap_threshold` (read buffers, request bodies) from itself, however the agent
    was started (the systemd unit also sets MALLOC_ARENA_MAX). Why: on virtual machines a page fault
    costs microseconds, and blocks that come and go in mappings of their own (or a heap top trimmed at
    every free) fault on every page each time; that took a quarter of the agent's time
    (benchmarks/agent_throughput.py: 1.19M -> 1.6-1.8M lines/s). One heap, because the idle
    `malloc_trim` returns only the main heap's top: a thread's heap would keep its top resident.
    Call before threads start."""
    if sys.platform.startswith("linux"):
        with contextlib.suppress(OSError, AttributeError):  # not glibc: nothing to tune
            libc = ctypes.CDLL("libc.so.6")
            libc.mallopt(M_ARENA_MAX, 1)
            libc.mallopt(M_MMAP_THRESHOLD, mmap_threshold)
            libc.mallopt(M_TRIM_THRESHOLD, trim_threshold)


def release_memory() -> None:
    """Collect reference cycles, then ask glibc to return free heap pages (RSS drops back after a burst)."""
    gc.collect()
    if sys.platform.startswith("linux"):
        with contextlib.suppress(OSError, AttributeError):  # not glibc: nothing to trim
            ctypes.CDLL("libc.so.6").malloc_trim(0)


class _NullSource:
    name = "stats"

    async def run(self, emit: Any) -> None:
        return None

    def status(self) -> Mapping[str, Any]:
        return {}
