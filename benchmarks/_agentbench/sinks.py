"""Counting sinks that receive what a log shipper sends and count the records, nothing more.

Run as a child process of the benchmark, one sink per process:

    python sinks.py ack  --port P --count-file F --tls-dir D   # Calypso's /agent/v1/* (HTTPS)
    python sinks.py otlp --port P --count-file F               # OTLP/HTTP logs (JSON or protobuf)
    python sinks.py tcp  --port P --count-file F               # newline-delimited lines (rsyslog omfwd)

Invariant: the count file always holds one complete JSON object `{"records": n, "requests": m,
"errors": e}` (written to a temporary file, then renamed), and `records` only ever grows. Malformed
requests are counted as errors and answered 400; they never stop the sink. Nothing is verified
(no signatures, no schemas): the sinks must not be the bottleneck they measure.
"""

from __future__ import annotations

import argparse
import gzip
import http.server
import json
import os
import re
import socket
import socketserver
import ssl
import threading
import time
import zlib
from collections.abc import Callable
from pathlib import Path

import orjson
import zstandard

TABLE = "MyApp_CL"


class Counter:
    """Thread-safe totals, flushed to the count file at most every 0.1 s (and on demand)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.records = self.requests = self.errors = 0
        self._lock = threading.Lock()
        self._dirty = threading.Event()
        self.flush()

    def add(self, records: int, error: bool = False) -> None:
        with self._lock:
            self.records += records
            self.requests += 1
            self.errors += int(error)
        self._dirty.set()

    def flush(self) -> None:
        with self._lock:
            data = {"records": self.records, "requests": self.requests, "errors": self.errors}
        tmp = self.path.with_suffix(".tmp")
        tmp.write_text(json.dumps(data))
        os.replace(tmp, self.path)

    def run_flusher(self) -> None:
        while True:
            self._dirty.wait()
            self._dirty.clear()
            self.flush()
            time.sleep(0.1)


# -- Calypso's agent path --------------------------------------------------------------------------
_BATCH_HEAD = re.compile(rb'"table":"((?:[^"\\]|\\.)*)","count":(\d+)')
_calypso_mode = {"checked": 0, "fast": True}


def count_calypso_full(raw: bytes) -> int:
    return sum(int(b["count"]) for b in orjson.loads(raw)["batches"] if b.get("table") == TABLE)


def count_calypso(body: bytes) -> int:
    """Records of `TABLE` in one `/agent/v1/batches` body (zstd JSON; `count` per batch).

    The agent writes each batch as `{"batch_id", "table", "count", "columns"}` in that order, and a key's
    quotes cannot occur unescaped inside a JSON string, so a regular expression finds every batch head
    at a fraction of a full parse's cost (the sink must not slow the agent down). The first requests are
    checked against a full parse; on any mismatch the sink parses fully from then on.
    """
    raw = zstandard.ZstdDecompressor().decompress(body, max_output_size=256 << 20)
    if not _calypso_mode["fast"]:
        return count_calypso_full(raw)
    fast = sum(int(n) for table, n in _BATCH_HEAD.findall(raw) if table == TABLE.encode())
    if _calypso_mode["checked"] < 5:
        _calypso_mode["checked"] += 1
        full = count_calypso_full(raw)
        if full != fast:
            _calypso_mode["fast"] = False
            return full
    return fast


# -- OTLP/HTTP logs --------------------------------------------------------------------------------
def _varint(buf: bytes, i: int) -> tuple[int, int]:
    shift = value = 0
    while True:
        b = buf[i]
        i += 1
        value |= (b & 0x7F) << shift
        if b < 0x80:
            return value, i
        shift += 7


def _fields(buf: bytes) -> list[tuple[int, bytes]]:
    """Length-delimited fields (number, bytes) of one protobuf message; other wire types skipped."""
    out: list[tuple[int, bytes]] = []
    i, n = 0, len(buf)
    while i < n:
        key, i = _varint(buf, i)
        wire = key & 7
        if wire == 0:
            _, i = _varint(buf, i)
        elif wire == 1:
            i += 8
        elif wire == 5:
            i += 4
        elif wire == 2:
            length, i = _varint(buf, i)
            out.append((key >> 3, buf[i : i + length]))
            i += length
        else:
            raise ValueError(f"unsupported protobuf wire type {wire}")
    return out


def count_otlp_protobuf(body: bytes) -> int:
    """ExportLogsServiceRequest: resource_logs(1) -> scope_logs(2) -> log_records(2)."""
    total = 0
    for num, resource in _fields(body):
        if num != 1:
            continue
        for num2, scope in _fields(resource):
            if num2 == 2:
                total += sum(1 for num3, _ in _fields(scope) if num3 == 2)
    return total


def count_otlp_json_full(body: bytes) -> int:
    obj = orjson.loads(body)
    return sum(
        len(s.get("logRecords", ())) for r in obj.get("resourceLogs", ()) for s in r.get("scopeLogs", ())
    )


_checked = {"n": 0}


def count_otlp_json(body: bytes) -> int:
    """Every OTLP log record the filelog receiver makes has one `observedTimeUnixNano` key (a key's quotes
    cannot occur unescaped inside a string value), so counting that key is exact and costs far less than
    parsing; the first requests are checked against a full parse, and a mismatch is an error."""
    fast = body.count(b'"observedTimeUnixNano"')
    if _checked["n"] < 5:
        _checked["n"] += 1
        full = count_otlp_json_full(body)
        if full != fast:
            raise ValueError(f"fast count {fast} != parsed count {full}")
    return fast


DECODERS: dict[str, Callable[[bytes], bytes]] = {
    "": lambda b: b,
    "identity": lambda b: b,
    "gzip": gzip.decompress,
    "deflate": zlib.decompress,
    "zstd": lambda b: zstandard.ZstdDecompressor().decompressobj().decompress(b),
}


class _Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    # The reply goes out in two writes (head, body); with Nagle on, the body waits for the client's
    # delayed ACK of the head (~40 ms per request), which would throttle every shipper measured.
    disable_nagle_algorithm = True
    counter: Counter
    mode: str

    def log_message(self, format: str, *args: object) -> None:  # quiet
        return

    def _reply(
        self, code: int, body: bytes, ctype: str = "application/json", extra: dict[str, str] | None = None
    ) -> None:
        self.send_response(code)
        self.send_header("content-type", ctype)
        self.send_header("content-length", str(len(body)))
        for k, v in (extra or {}).items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self) -> None:
        if self.path.startswith("/agent/v1/config"):
            if self.headers.get("if-none-match") == '"bench"':
                self._reply(304, b"", extra={"etag": '"bench"'})
            else:
                self._reply(200, b'{"rules": {}}', extra={"etag": '"bench"'})
            return
        self._reply(404, b'{"error": {"code": "NotFound", "message": "no such path"}}')

    def do_POST(self) -> None:
        length = int(self.headers.get("content-length") or 0)
        body = self.rfile.read(length)
        try:
            if self.mode == "ack":
                self._post_ack(body)
            else:
                self._post_otlp(body)
        except (ValueError, KeyError, TypeError, IndexError, OSError, zstandard.ZstdError, zlib.error) as e:
            self.counter.add(0, error=True)
            msg = orjson.dumps({"error": {"code": "BadRequest", "message": f"{type(e).__name__}: {e}"}})
            self._reply(400, msg)

    def _post_ack(self, body: bytes) -> None:
        if self.path.startswith("/agent/v1/onboard"):
            self._reply(
                200, b'{"agent_id": "bench-agent", "workspace_id": "00000000-0000-0000-0000-00000000be0c"}'
            )
        elif self.path.startswith("/agent/v1/batches"):
            n = count_calypso(body)
            self.counter.add(n)
            self._reply(200, orjson.dumps({"accepted": n, "duplicates": 0}))
        else:
            self._reply(404, b'{"error": {"code": "NotFound", "message": "no such path"}}')

    def _post_otlp(self, body: bytes) -> None:
        if not self.path.startswith("/v1/logs"):
            self._reply(404, b"{}")
            return
        data = DECODERS[self.headers.get("content-encoding", "").lower()](body)
        if "json" in self.headers.get("content-type", ""):
            n = count_otlp_json(data)
            self.counter.add(n)
            self._reply(200, b"{}")
        else:
            n = count_otlp_protobuf(data)
            self.counter.add(n)
            self._reply(200, b"", ctype="application/x-protobuf")


class _HTTPServer(http.server.ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True


def serve_http(mode: str, port: int, counter: Counter, tls: ssl.SSLContext | None) -> None:
    handler = type("Handler", (_Handler,), {"counter": counter, "mode": mode})
    server = _HTTPServer(("127.0.0.1", port), handler)
    if tls is not None:
        server.socket = tls.wrap_socket(server.socket, server_side=True)
    server.serve_forever()


class _LineHandler(socketserver.BaseRequestHandler):
    counter: Counter

    def handle(self) -> None:
        sock: socket.socket = self.request
        while True:
            data = sock.recv(1 << 20)
            if not data:
                return
            self.counter.add(data.count(b"\n"))


class _TCPServer(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True


def serve_tcp(port: int, counter: Counter) -> None:
    handler = type("LineHandler", (_LineHandler,), {"counter": counter})
    _TCPServer(("127.0.0.1", port), handler).serve_forever()


def tls_context(directory: Path) -> ssl.SSLContext:
    from calypso.workspace.tls import ensure_certificates, server_context

    ensure_certificates(directory)
    return server_context(directory)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    ap.add_argument("mode", choices=["ack", "otlp", "tcp"])
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--count-file", type=Path, required=True)
    ap.add_argument("--tls-dir", type=Path, help="for ack: a directory with (or to get) a CA and server cert")
    args = ap.parse_args()
    counter = Counter(args.count_file)
    threading.Thread(target=counter.run_flusher, daemon=True).start()
    if args.mode == "tcp":
        serve_tcp(args.port, counter)
    else:
        tls = tls_context(args.tls_dir) if args.mode == "ack" and args.tls_dir else None
        serve_http(args.mode, args.port, counter, tls)


if __name__ == "__main__":
    main()
