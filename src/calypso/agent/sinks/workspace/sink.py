"""Drives delivery to one workspace: buffer cursor -> request -> acknowledgement.

Invariants: an entry is acknowledged in the buffer only after the workspace stored it, or after it
was written to the dead-letter file because the workspace refused it for good. A request the
workspace refused as a whole (400/413) is split so one bad batch never holds back the others.
Retries back off exponentially with full jitter up to `max_retry_delay`; 429/503 wait Retry-After.
401/403 refuse the agent, not the data, so they are retried (and shown in `agent status`), never
dead-lettered. Up to `IN_FLIGHT` requests are sent before the oldest is answered; acknowledgements
still follow buffer order, and a retry resends from the oldest unacknowledged entry.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import struct
import time
from collections import deque
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import zstandard

from calypso.agent.buffer import DiskBuffer, Entry
from calypso.agent.config import DeliveryConfig
from calypso.agent.sinks.workspace.service import WorkspaceService
from calypso.logfmt import event
from calypso.wire.errors import Permanent, Retryable, Throttled

log = logging.getLogger("calypso.agent.sink")
_HEADER = struct.Struct("<I")  # record count, in front of each buffered batch's JSON


def pack_entry(count: int, batch_json: bytes) -> bytes:
    return _HEADER.pack(count) + batch_json


def unpack_entry(payload: bytes) -> tuple[int, memoryview]:
    """The record count and a view of the batch's JSON (not a copy: the sink copies it only once, into
    the compressor)."""
    if len(payload) < _HEADER.size:
        raise ValueError("buffer entry too short")
    return _HEADER.unpack_from(payload)[0], memoryview(payload)[_HEADER.size :]


Item = tuple[Entry, int, memoryview]  # a buffered batch: its entry, record count and JSON
# Requests sent before the oldest is answered: the workspace stores one while the next arrives.
IN_FLIGHT = 2
_OPEN, _CLOSE = b'{"batches":[', b"]}"


@dataclass(frozen=True, slots=True)
class Request:
    last_seq: int  # acknowledged in the buffer once the workspace stored `items`
    items: list[Item]
    body: bytes


def request_body(batches_json: list[memoryview]) -> bytes:
    """`{"batches":[...]}`, zstd-compressed piece by piece: joining the pieces first cost three copies
    of every byte, which took twice as long as compressing them (benchmarks/agent_throughput.py
    --profile)."""
    size = len(_OPEN) + sum(len(j) for j in batches_json) + max(len(batches_json) - 1, 0) + len(_CLOSE)
    # A compressor per request: zstandard's compressors must not be shared between threads.
    stream = zstandard.ZstdCompressor(level=1).compressobj(size=size)
    out = [stream.compress(_OPEN)]
    for i, j in enumerate(batches_json):
        if i:
            out.append(stream.compress(b","))
        out.append(stream.compress(j))
    out.append(stream.compress(_CLOSE))
    out.append(stream.flush())
    return b"".join(out)


class WorkspaceSink:
    def __init__(
        self, service: WorkspaceService, buffer: DiskBuffer, delivery: DeliveryConfig, state_dir: Path
    ):
        self.service, self.buffer, self.delivery = service, buffer, delivery
        self.workspace_id = service.conn.workspace_id
        self.reader = f"workspace-{self.workspace_id}"
        self.dead_letter = state_dir / "dead-letter.jsonl"
        self.wakeup = asyncio.Event()
        self.counters: dict[str, Any] = {
            "batches_out": 0,
            "records_out": 0,
            "duplicates": 0,
            "retries": 0,
            "dead_lettered": 0,
            "last_success": None,
            "last_error": None,
            "route": service.routes.names[0],
        }
        buffer.add_reader(self.reader)

    def status(self) -> dict[str, Any]:
        return {
            **self.counters,
            "route": self.service.routes.names[self.service.routes.current],
            "pending": self.buffer.stats().pending.get(self.reader, 0),
        }

    async def run(self) -> None:
        attempt = 0
        flying: deque[tuple[Request, asyncio.Task[None]]] = deque()  # sent, oldest first
        try:
            while True:
                while len(flying) < IN_FLIGHT:  # the next is read and compressed while one flies
                    request = await self._prepare()
                    if request is None:
                        break
                    flying.append((request, asyncio.create_task(self._send(request.items, request.body))))
                if not flying:
                    self.wakeup.clear()
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(self.wakeup.wait(), timeout=1.0)
                    continue
                request, sending = flying.popleft()
                try:
                    await sending
                except Retryable as e:
                    # Later requests may have been stored too: sent again after the rewind, the
                    # workspace answers them as duplicates (their batch ids are known).
                    await asyncio.gather(*(t for _, t in flying), return_exceptions=True)
                    flying.clear()
                    self.buffer.rewind(self.reader)
                    attempt += 1
                    await self._back_off(e, attempt)
                    continue
                attempt = 0
                # Persisting the cursor and deleting delivered segments touch the disk: off the loop.
                await asyncio.to_thread(self.buffer.ack, self.reader, request.last_seq)
        finally:
            for _, task in flying:
                task.cancel()

    async def _back_off(self, e: Retryable, attempt: int) -> None:
        self.counters["retries"] += 1
        self.counters["last_error"] = str(e)
        delay = random.uniform(0, min(self.delivery.max_retry_delay, 0.5 * 2**attempt))
        if isinstance(e, Throttled) and e.retry_after is not None:
            delay = min(max(e.retry_after, 0.1), 300)
        event(
            log,
            logging.WARNING,
            "Delivery failed; will retry.",
            workspace=self.workspace_id,
            attempt=attempt,
            delay=f"{delay:.1f}s",
            error=e,
        )
        await asyncio.sleep(delay)

    async def _prepare(self) -> Request | None:
        """The next entries from the buffer, with the body that carries them, or None when idle."""
        entries = await asyncio.to_thread(
            self.buffer.read, self.reader, 1000, self.delivery.max_request_bytes
        )
        if not entries:
            return None
        items = []
        for e in entries:
            try:
                items.append((e, *unpack_entry(e.payload)))
            except ValueError:
                self._set_aside(e.payload, "malformed buffer entry")
        body = await asyncio.to_thread(request_body, [j for _, _, j in items]) if items else b""
        return Request(entries[-1].seq, items, body)

    async def drain(self, timeout: float) -> bool:
        """Deliver what is buffered, for at most `timeout` seconds. True when nothing is left."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.buffer.stats().pending.get(self.reader, 0) == 0:
                return True
            await asyncio.sleep(0.1)
        return False

    async def _send(self, items: list[Item], body: bytes | None = None) -> None:
        if not items:
            return
        try:
            if body is None:  # a part of a refused request: compressed off the event loop
                body = await asyncio.to_thread(request_body, [j for _, _, j in items])
            result = await self.service.post_batches(body)
        except Permanent as e:
            if e.status in (401, 403):
                # Credentials, not data: keep the batches and wait for the operator (or a re-key).
                raise Retryable(f"workspace refused this agent's credentials ({e})", e.status) from None
            if len(items) > 1 and e.status in (400, 413, 422):
                half = len(items) // 2
                await self._send(items[:half])
                await self._send(items[half:])
                return
            for _, _, j in items:
                self._set_aside(j, str(e))
            return
        self.counters["batches_out"] += len(items)
        self.counters["records_out"] += sum(c for _, c, _ in items)
        self.counters["duplicates"] += int(result.get("duplicates", 0) or 0)
        self.counters["last_success"] = time.time()
        self.counters["last_error"] = None

    def _set_aside(self, batch_json: bytes | memoryview, reason: str) -> None:
        self.counters["dead_lettered"] += 1
        event(
            log,
            logging.ERROR,
            "Workspace refused a batch for good; set aside in the dead-letter file.",
            workspace=self.workspace_id,
            file=self.dead_letter,
            reason=reason,
        )
        self.dead_letter.parent.mkdir(parents=True, exist_ok=True)
        with self.dead_letter.open("ab") as f:
            f.write(bytes(batch_json).rstrip(b"\n") + b"\n")
