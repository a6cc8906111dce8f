"""The syslog source: listeners -> batched parsing -> `emit` to `Syslog` / `CommonSecurityLog`.

Invariants:
- records are emitted in batches of at most `batch_size`, at least every `flush_interval` while
  messages are waiting; one record per message that passes the facility/severity filter;
- nothing a peer sends can stop the source: undecodable or malformed messages are stored raw and
  counted (`parse_errors`, `cef_errors`), empty ones skipped (`empty`), oversized ones cut
  (`oversized`), those over the in-memory limit dropped (`dropped`), filtered ones counted (`filtered`);
- cancelling `run` closes every socket and removes the Unix socket files it created.
Syslog has no checkpoint: the network does not replay, so records are emitted without a commit.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from calypso.agent.sources.base import Emit, Record, SourceContext, iso
from calypso.agent.sources.syslog.config import SyslogConfig
from calypso.agent.sources.syslog.listeners import Inbox, Listeners
from calypso.agent.sources.syslog.parse import CEF, SYSLOG, MessageParser


class SyslogSource:
    name = "syslog"

    def __init__(self, config: SyslogConfig, ctx: SourceContext) -> None:
        self.config = config
        self.ctx = ctx
        self.inbox = Inbox(config.max_pending, config.max_message_bytes)
        self.listeners = Listeners(self.inbox, config.receive_buffer)
        self.parser = MessageParser(ctx.computer, config.zone)
        self.state = "created"
        self.error: str | None = None
        self._reported = {"received": 0, "dropped": 0, "oversized": 0}

    async def run(self, emit: Emit) -> None:
        self.state = "starting"
        try:
            await self._open()
            self.state = "running"
            while True:
                await asyncio.sleep(self.config.flush_interval)
                await self.drain(emit)
        except asyncio.CancelledError:
            self.state = "stopping"
            raise
        except Exception as e:  # a socket that cannot be opened: report, do not loop
            self.state = "failed"
            self.error = f"{type(e).__name__}: {e}"
            raise
        finally:
            await self.listeners.close()
            self._sync_counters()
            if self.state != "failed":
                self.state = "stopped"

    async def _open(self) -> None:
        c = self.config
        if c.udp:
            self.listeners.open_udp(*c.udp)
        if c.tcp:
            await self.listeners.open_tcp(*c.tcp)
        if c.unix:
            self.listeners.open_unix_datagram(c.unix)
        if c.unix_stream:
            await self.listeners.open_unix_stream(c.unix_stream)

    async def drain(self, emit: Emit) -> int:
        """Parse and emit everything queued so far; returns the number of records emitted."""
        queue = self.inbox.queue
        batch_size = self.config.batch_size
        emitted = 0
        while queue:
            n = min(len(queue), batch_size)
            items = [queue.popleft() for _ in range(n)]
            by_table = self._parse(items)
            for table, records in by_table.items():
                if records:
                    await emit(table, records)
                    emitted += len(records)
            if n < batch_size:
                break
        if emitted:
            self.ctx.count("records", emitted)
        self._sync_counters()
        return emitted

    def _parse(self, items: list[tuple[bytes, str | None]]) -> dict[str, list[Record]]:
        now = datetime.now(UTC)
        received = iso(now)
        allowed = self.config.allowed
        parse = self.parser.parse
        out: dict[str, list[Record]] = {SYSLOG: [], CEF: []}
        empty = filtered = bad = cef_bad = 0
        for data, peer in items:
            if not data.strip():
                empty += 1
                continue
            parsed = parse(data, peer, now, received)
            if not allowed[parsed.pri]:
                filtered += 1
                continue
            if not parsed.header_ok:
                bad += 1
            if parsed.cef_error:
                cef_bad += 1
            out[parsed.table].append(parsed.record)
        for name, value in (
            ("empty", empty),
            ("filtered", filtered),
            ("parse_errors", bad),
            ("cef_errors", cef_bad),
        ):
            if value:
                self.ctx.count(name, value)
        return out

    def _sync_counters(self) -> None:
        inbox = self.inbox
        for name in self._reported:
            value = getattr(inbox, name)
            delta = value - self._reported[name]
            if delta:
                self.ctx.count(name, delta)
                self._reported[name] = value

    def status(self) -> Mapping[str, Any]:
        return {
            "state": self.state,
            "error": self.error,
            "listening": dict(self.listeners.addresses),
            "receive_buffer_bytes": dict(self.listeners.rcvbuf),
            "pending": len(self.inbox.queue),
            "connections": self.inbox.connections,
            "counters": dict(self.ctx.counters),
            "at": time.time(),
        }


def build(config: Mapping[str, Any], ctx: SourceContext) -> SyslogSource:
    """Registry factory for `[sources.syslog]`."""
    return SyslogSource(SyslogConfig.from_mapping(config), ctx)
