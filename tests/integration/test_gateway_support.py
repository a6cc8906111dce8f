"""Helpers for tests that need real gateways and a real TLS upstream on 127.0.0.1.

Reusable from any test module:

    from tests.integration.test_gateway_support import GatewayProcess, TlsUpstream, make_tls_material

    tls = make_tls_material(tmp_path)                    # CA + cert for localhost/127.0.0.1
    with TlsUpstream(tls) as upstream, \\
         GatewayProcess([f"127.0.0.1:{upstream.port}"]) as gw1, \\
         GatewayProcess([f"127.0.0.1:{upstream.port}"]) as gw2:
        ...  # point a client at gw1.url and gw2.url; gw1.kill() mid-stream; gw2.health()["bytes_up"]

`GatewayProcess` runs `python -m calypso.gateway serve --listen 127.0.0.1:0 ...`, learns the port from
its "Listening." log line, keeps its log lines in `.logs`, and stops it (SIGTERM, then SIGKILL) on exit.
"""

from __future__ import annotations

import datetime
import hashlib
import http.server
import ipaddress
import os
import re
import signal
import socket
import ssl
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any
from urllib.parse import quote

import httpx
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

_LISTENING = re.compile(r"listen=(\S+):(\d+) kind=(proxy|health) .*Listening\.")


@dataclass(frozen=True)
class TlsMaterial:
    ca: Path  # PEM of the CA that signed `cert`; give it to clients as verify=
    cert: Path
    key: Path

    def context(self) -> ssl.SSLContext:
        """A client context trusting only this CA (give it to httpx as verify=)."""
        return ssl.create_default_context(cafile=str(self.ca))


def make_tls_material(
    directory: Path, hostnames: tuple[str, ...] = ("localhost", "127.0.0.1")
) -> TlsMaterial:
    """A throw-away CA and a server certificate for `hostnames`, written as PEM files."""
    now = datetime.datetime.now(datetime.UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "calypso test CA")])
    ca = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .sign(ca_key, hashes.SHA256())
    )
    key = ec.generate_private_key(ec.SECP256R1())
    names: list[x509.GeneralName] = []
    for name in hostnames:
        try:
            names.append(x509.IPAddress(ipaddress.ip_address(name)))
        except ValueError:
            names.append(x509.DNSName(name))
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, hostnames[0])]))
        .issuer_name(ca_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName(names), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    directory.mkdir(parents=True, exist_ok=True)
    material = TlsMaterial(directory / "ca.pem", directory / "server.pem", directory / "server.key")
    material.ca.write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    material.cert.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    material.key.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    return material


class _Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def _send(self, status: int, body: bytes) -> None:
        self.send_response(status)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self) -> None:
        """`/` answers hello; `/slow?seconds=S` answers after S seconds (a request in flight)."""
        if self.path.startswith("/slow"):
            seconds = float(self.path.partition("seconds=")[2] or "1")
            time.sleep(seconds)
            self._send(200, b"slow done")
        else:
            self._send(200, b"hello through the gateway")

    def do_POST(self) -> None:
        """Answers `<sha256 hex> <length>` of the body it received."""
        length = int(self.headers.get("Content-Length", "0"))
        digest, remaining = hashlib.sha256(), length
        while remaining:
            chunk = self.rfile.read(min(remaining, 1 << 20))
            if not chunk:
                break
            digest.update(chunk)
            remaining -= len(chunk)
        self.server.received_bytes += length - remaining  # type: ignore[attr-defined]
        self._send(200, f"{digest.hexdigest()} {length - remaining}".encode())


class _TlsServer(http.server.ThreadingHTTPServer):
    """Does each TLS handshake in the connection's own thread, so a silent client blocks nobody."""

    daemon_threads = True

    def finish_request(self, request: Any, client_address: Any) -> None:
        try:
            request.do_handshake()
        except (ssl.SSLError, OSError):
            return
        super().finish_request(request, client_address)


class TlsUpstream:
    """A threaded HTTPS server on 127.0.0.1 (a stand-in for a workspace); `.port`, `.url`."""

    def __init__(self, tls: TlsMaterial) -> None:
        self.server = _TlsServer(("127.0.0.1", 0), _Handler)
        self.server.received_bytes = 0  # type: ignore[attr-defined]
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.minimum_version = ssl.TLSVersion.TLSv1_2
        context.load_cert_chain(tls.cert, tls.key)
        self.server.socket = context.wrap_socket(
            self.server.socket, server_side=True, do_handshake_on_connect=False
        )
        self.port = int(self.server.server_address[1])
        self.url = f"https://localhost:{self.port}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> TlsUpstream:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()


class GatewayProcess:
    """`python -m calypso.gateway serve` on 127.0.0.1 with a free port; stopped on exit."""

    def __init__(
        self,
        allow: list[str],
        *extra: str,
        user: str | None = None,
        password: str | None = None,
        health: bool = False,
        start_timeout: float = 15.0,
    ) -> None:
        self.user, self.password = user, password
        args = [
            sys.executable,
            "-m",
            "calypso.gateway",
            "serve",
            "--listen",
            "127.0.0.1:0",
        ]
        args += ["--allow", *allow] if allow else []  # none: they come from a --config file in `extra`
        env = dict(os.environ)
        if user is not None and password is not None:
            env["CALYPSO_TEST_GW_PASSWORD"] = password
            args += ["--user", user, "--password-env", "CALYPSO_TEST_GW_PASSWORD"]
        if health:
            args += ["--health", "127.0.0.1:0"]
        args += list(extra)
        self.proc = subprocess.Popen(args, stderr=subprocess.PIPE, text=True, env=env)
        self.logs: list[str] = []
        self.port = 0
        self.health_port: int | None = None
        self._ready = threading.Event()
        self._want_health = health
        threading.Thread(target=self._read_logs, daemon=True).start()
        if not self._ready.wait(start_timeout):
            self.stop()
            raise RuntimeError("gateway did not start:\n" + "\n".join(self.logs))

    def _read_logs(self) -> None:
        assert self.proc.stderr is not None
        for line in self.proc.stderr:
            self.logs.append(line.rstrip("\n"))
            if m := _LISTENING.search(line):
                if m.group(3) == "proxy":
                    self.port = int(m.group(2))
                else:
                    self.health_port = int(m.group(2))
                if self.port and (self.health_port or not self._want_health):
                    self._ready.set()
        self._ready.set()

    @property
    def url(self) -> str:
        """Proxy URL for clients, with percent-encoded credentials when the gateway asks for them."""
        if self.user is not None and self.password is not None:
            return f"http://{quote(self.user, safe='')}:{quote(self.password, safe='')}@127.0.0.1:{self.port}"
        return f"http://127.0.0.1:{self.port}"

    def health(self, port: int | None = None) -> dict[str, Any]:
        response = httpx.get(f"http://127.0.0.1:{port or self.port}/health", timeout=5)
        response.raise_for_status()
        result: dict[str, Any] = response.json()
        return result

    def wait_for(self, predicate: Any, timeout: float = 10.0) -> dict[str, Any]:
        """Poll /health until predicate(snapshot) holds; return the snapshot (bounded wait)."""
        deadline = time.monotonic() + timeout
        while True:
            snapshot = self.health()
            if predicate(snapshot) or time.monotonic() > deadline:
                return snapshot
            time.sleep(0.05)

    def terminate(self) -> None:
        self.proc.send_signal(signal.SIGTERM)

    def reload(self) -> None:
        """SIGHUP: re-read the configuration file and flags."""
        self.proc.send_signal(signal.SIGHUP)

    def kill(self) -> None:
        self.proc.kill()

    def wait(self, timeout: float = 15.0) -> int:
        return self.proc.wait(timeout)

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.kill()
                self.proc.wait(5)

    def __enter__(self) -> GatewayProcess:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()


def exchange(port: int, data: bytes, timeout: float = 5.0) -> bytes:
    """Send raw bytes to 127.0.0.1:port and read until the server closes (or timeout)."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
        sock.sendall(data)
        chunks = []
        try:
            while chunk := sock.recv(65536):
                chunks.append(chunk)
        except (TimeoutError, ConnectionResetError):
            pass
        return b"".join(chunks)


def status_of(response: bytes) -> int:
    return int(response.split(b" ", 2)[1]) if response.startswith(b"HTTP/1.") else 0
