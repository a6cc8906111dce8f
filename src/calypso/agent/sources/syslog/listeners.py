"""Network listeners that hand raw syslog messages to one shared queue.

Invariants:
- every listener only appends `(bytes, peer)` to `Inbox.queue` and never parses: parsing happens in
  batches elsewhere, so receiving is never stalled by slow records;
- datagram sockets (UDP, Unix datagram) are drained by a dedicated thread in a tight non-blocking
  `recvfrom` loop with a large SO_RCVBUF; when the queue holds `max_pending` messages, new datagrams
  are dropped and counted (`dropped`), never blocking the kernel buffer;
- stream sockets (TCP, Unix stream) run on the event loop with RFC 6587 framing; when the queue is
  full they stop reading (TCP back-pressure) instead of dropping;
- `close()` stops every listener and removes the Unix socket files it created.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import select
import socket
import stat
import threading
from collections import deque
from pathlib import Path

from calypso.agent.sources.syslog.framing import StreamFramer

SO_RCVBUFFORCE = getattr(socket, "SO_RCVBUFFORCE", 33)


class Inbox:
    """The queue between listeners and the parser, with the listeners' own counters."""

    def __init__(self, max_pending: int, max_bytes: int) -> None:
        self.queue: deque[tuple[bytes, str | None]] = deque()
        self.max_pending = max_pending
        self.max_bytes = max_bytes
        self.received = 0
        self.dropped = 0
        self.oversized = 0
        self.connections = 0


def set_receive_buffer(sock: socket.socket, size: int) -> int:
    """Ask for `size` bytes of receive buffer (beyond rmem_max when privileged); returns what the kernel gave."""
    for option in (SO_RCVBUFFORCE, socket.SO_RCVBUF):
        try:
            sock.setsockopt(socket.SOL_SOCKET, option, size)
            break
        except OSError:
            continue
    return sock.getsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF)


class DatagramReceiver:
    """A thread draining one datagram socket into the inbox."""

    def __init__(self, sock: socket.socket, inbox: Inbox, peer_fixed: str | None = None) -> None:
        self.sock = sock
        self.inbox = inbox
        self.peer_fixed = peer_fixed
        self.stopping = False
        self.thread = threading.Thread(target=self._loop, name=f"syslog-recv-{sock.fileno()}", daemon=True)

    def start(self) -> None:
        self.sock.setblocking(False)
        self.thread.start()

    def _loop(self) -> None:
        sock, inbox = self.sock, self.inbox
        queue, append = inbox.queue, inbox.queue.append
        limit = inbox.max_bytes
        recvfrom = sock.recvfrom
        fixed = self.peer_fixed
        is_inet = sock.family in (socket.AF_INET, socket.AF_INET6)
        bufsize = limit + 1
        while not self.stopping:
            try:
                while True:
                    data, addr = recvfrom(bufsize)
                    inbox.received += 1
                    if len(queue) >= inbox.max_pending:
                        inbox.dropped += 1
                        continue
                    if len(data) > limit:
                        inbox.oversized += 1
                        data = data[:limit]
                    append((data, addr[0] if is_inet else fixed))
            except (BlockingIOError, InterruptedError):
                pass
            except OSError:
                if self.stopping:
                    return
                continue  # e.g. ICMP errors surfacing on the socket; keep receiving
            try:
                select.select([sock], [], [], 0.2)
            except (OSError, ValueError):
                return

    def stop(self) -> None:
        self.stopping = True
        self.thread.join(timeout=2)
        self.sock.close()


class StreamHandler:
    """Reads one stream connection, frames it, and queues the frames."""

    def __init__(self, inbox: Inbox) -> None:
        self.inbox = inbox
        self.writers: set[asyncio.StreamWriter] = set()

    def close_all(self) -> None:
        for writer in list(self.writers):
            writer.close()

    async def __call__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        inbox = self.inbox
        inbox.connections += 1
        self.writers.add(writer)
        peername = writer.get_extra_info("peername")
        peer = peername[0] if isinstance(peername, tuple) else None
        framer = StreamFramer(inbox.max_bytes)
        try:
            while True:
                data = await reader.read(256 * 1024)
                frames = framer.feed(data) if data else framer.close()
                if frames:
                    inbox.received += len(frames)
                    inbox.queue.extend((f, peer) for f in frames)
                inbox.oversized += framer.oversized
                framer.oversized = 0
                if not data:
                    break
                while len(inbox.queue) >= inbox.max_pending:
                    await asyncio.sleep(0.01)
        except (ConnectionError, OSError):
            pass
        finally:
            inbox.connections -= 1
            self.writers.discard(writer)
            writer.close()
            with contextlib.suppress(Exception):
                await writer.wait_closed()


def _remove_stale_socket(path: str) -> None:
    """Remove a leftover socket file at path; refuse to remove anything that is not a socket."""
    try:
        mode = os.lstat(path).st_mode
    except FileNotFoundError:
        return
    if not stat.S_ISSOCK(mode):
        raise ValueError(f"sources.syslog: {path} exists and is not a socket")
    os.unlink(path)


class Listeners:
    """Opens the configured sockets; `addresses` tells where each one actually listens."""

    def __init__(self, inbox: Inbox, receive_buffer: int) -> None:
        self.inbox = inbox
        self.receive_buffer = receive_buffer
        self.receivers: list[DatagramReceiver] = []
        self.servers: list[asyncio.AbstractServer] = []
        self.handlers: list[StreamHandler] = []
        self.paths: list[str] = []
        self.addresses: dict[str, str] = {}
        self.rcvbuf: dict[str, int] = {}

    def open_udp(self, host: str, port: int) -> None:
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        sock = socket.socket(family, socket.SOCK_DGRAM)
        self.rcvbuf["udp"] = set_receive_buffer(sock, self.receive_buffer)
        sock.bind((host, port))
        bound = sock.getsockname()
        self.addresses["udp"] = f"{bound[0]}:{bound[1]}"
        self._start(DatagramReceiver(sock, self.inbox))

    def open_unix_datagram(self, path: str) -> None:
        _remove_stale_socket(path)
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.rcvbuf["unix"] = set_receive_buffer(sock, self.receive_buffer)
        sock.bind(path)
        self.paths.append(path)
        self.addresses["unix"] = path
        self._start(DatagramReceiver(sock, self.inbox))

    async def open_tcp(self, host: str, port: int) -> None:
        handler = StreamHandler(self.inbox)
        self.handlers.append(handler)
        server = await asyncio.start_server(handler, host, port, limit=1 << 20)
        bound = server.sockets[0].getsockname()
        self.addresses["tcp"] = f"{bound[0]}:{bound[1]}"
        self.servers.append(server)

    async def open_unix_stream(self, path: str) -> None:
        _remove_stale_socket(path)
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        handler = StreamHandler(self.inbox)
        self.handlers.append(handler)
        server = await asyncio.start_unix_server(handler, path)
        self.paths.append(path)
        self.addresses["unix_stream"] = path
        self.servers.append(server)

    def _start(self, receiver: DatagramReceiver) -> None:
        receiver.start()
        self.receivers.append(receiver)

    async def close(self) -> None:
        for server in self.servers:
            server.close()
        for handler in self.handlers:
            handler.close_all()
        for receiver in self.receivers:
            await asyncio.to_thread(receiver.stop)
        for server in self.servers:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(server.wait_closed(), 2)
        for path in self.paths:
            with contextlib.suppress(OSError):
                os.unlink(path)
        self.servers.clear()
        self.receivers.clear()
