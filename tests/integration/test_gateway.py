"""The gateway as a user meets it: a real process, a real TLS upstream, httpx and raw sockets."""

from __future__ import annotations

import base64
import hashlib
import os
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.integration.test_gateway_support import (
    GatewayProcess,
    TlsMaterial,
    TlsUpstream,
    exchange,
    make_tls_material,
    status_of,
)

pytestmark = pytest.mark.integration

USER, PASSWORD = "agent", "p@ss:w%rd 1"


@pytest.fixture(scope="module")
def tls(tmp_path_factory: pytest.TempPathFactory) -> TlsMaterial:
    return make_tls_material(tmp_path_factory.mktemp("tls"))


@pytest.fixture(scope="module")
def upstream(tls: TlsMaterial) -> Iterator[TlsUpstream]:
    with TlsUpstream(tls) as server:
        yield server


@pytest.fixture(scope="module")
def gateway(upstream: TlsUpstream) -> Iterator[GatewayProcess]:
    """Serves the upstream (as localhost and 127.0.0.1), asks for basic auth, health on its own port too."""
    allow = [f"localhost:{upstream.port}", f"127.0.0.1:{upstream.port}", f"*.calypso.test:{upstream.port}"]
    with GatewayProcess(allow, user=USER, password=PASSWORD, health=True) as gw:
        yield gw


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def basic(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


def test_https_upload_through_gateway_is_intact_and_counted(
    gateway: GatewayProcess, upstream: TlsUpstream, tls: TlsMaterial
) -> None:
    before = gateway.health()
    body = os.urandom(3 * 1024 * 1024 + 17)
    with httpx.Client(proxy=gateway.url, verify=tls.context(), timeout=30) as client:
        assert client.get(upstream.url + "/").text == "hello through the gateway"
        answer = client.post(upstream.url + "/upload", content=body)
    assert answer.status_code == 200
    assert answer.text == f"{hashlib.sha256(body).hexdigest()} {len(body)}"
    after = gateway.wait_for(lambda h: h["tunnels_open"] == before["tunnels_open"])
    assert after["tunnels_total"] >= before["tunnels_total"] + 1
    assert after["bytes_up"] - before["bytes_up"] > len(body)  # TLS adds framing, never removes bytes
    assert after["bytes_down"] > before["bytes_down"]
    opened = [line for line in gateway.logs if line.endswith("Tunnel opened.")]
    assert any(f"target=localhost:{upstream.port}" in line and "client=127.0.0.1:" in line for line in opened)


def test_tls_is_end_to_end(gateway: GatewayProcess, upstream: TlsUpstream, tls: TlsMaterial) -> None:
    """The client verifies the upstream's own certificate through the tunnel; a client trusting
    nothing but the system CAs fails, so the gateway does not terminate TLS."""
    with httpx.Client(proxy=gateway.url, verify=tls.context(), timeout=10) as client:
        response = client.get(upstream.url + "/")
        assert response.status_code == 200
    with (
        pytest.raises(httpx.ConnectError, match="CERTIFICATE_VERIFY_FAILED"),
        httpx.Client(proxy=gateway.url, timeout=10) as client,
    ):
        client.get(upstream.url + "/")


def connect(target: str, *headers: str) -> bytes:
    lines = [f"CONNECT {target} HTTP/1.1", f"Host: {target}", *headers, "", ""]
    return "\r\n".join(lines).encode()


def bad_cases(port: int) -> list[tuple[str, bytes, int, str]]:
    auth = f"Proxy-Authorization: {basic(USER, PASSWORD)}"
    return [
        (
            "non-CONNECT",
            b"GET http://example.com/ HTTP/1.1\r\nHost: example.com\r\n\r\n",
            405,
            "method_not_allowed",
        ),
        ("POST", b"POST / HTTP/1.1\r\nContent-Length: 0\r\n\r\n", 405, "method_not_allowed"),
        ("garbage", b"GARBAGE\r\n\r\n", 400, "bad_request"),
        ("binary", b"\x16\x03\x01\x00\xa5\x01\x00\x00\xa1\x03\x03\r\n\r\n", 400, "bad_request"),
        ("no port", connect("localhost", auth), 400, "bad_request"),
        ("oversized", connect(f"localhost:{port}", auth, "X-Big: " + "a" * 9000), 431, "header_too_large"),
        ("not served", connect("example.com:443", auth), 403, "not_allowed"),
        ("not served port", connect("localhost:22", auth), 403, "not_allowed"),
        ("bare wildcard suffix", connect(f"calypso.test:{port}", auth), 403, "not_allowed"),
        ("no credentials", connect(f"localhost:{port}"), 407, "auth_missing"),
        (
            "wrong password",
            connect(f"localhost:{port}", f"Proxy-Authorization: {basic(USER, 'nope')}"),
            407,
            "auth_failed",
        ),
        (
            "unknown user",
            connect(f"localhost:{port}", f"Proxy-Authorization: {basic('x', PASSWORD)}"),
            407,
            "auth_failed",
        ),
        ("upstream down", connect(f"nothing.calypso.test:{port}", auth), 502, "upstream_failed"),
    ]


@pytest.mark.parametrize("index", range(13))
def test_bad_input_is_answered_counted_and_survived(
    gateway: GatewayProcess, upstream: TlsUpstream, tls: TlsMaterial, index: int
) -> None:
    name, request, status, reason = bad_cases(upstream.port)[index]
    before = gateway.health()["refusals"][reason]
    response = exchange(gateway.port, request)
    assert status_of(response) == status, (name, response[:200])
    if status == 407:
        assert b'Proxy-Authenticate: Basic realm="calypso-gateway"' in response
    assert gateway.wait_for(lambda h: h["refusals"][reason] == before + 1)["refusals"][reason] == before + 1
    assert any(f"reason={reason}" in line and "Request refused." in line for line in gateway.logs)
    # still serving real tunnels afterwards
    with httpx.Client(proxy=gateway.url, verify=tls.context(), timeout=10) as client:
        assert client.get(upstream.url + "/").status_code == 200
    assert gateway.proc.poll() is None and not any("Traceback" in line for line in gateway.logs)


def test_health_on_listen_port_and_separate_port(gateway: GatewayProcess) -> None:
    assert gateway.health_port is not None
    for port in (gateway.port, gateway.health_port):
        snapshot = gateway.health(port)
        assert snapshot["status"] == "ok" and snapshot["uptime"] > 0
        assert {"tunnels_open", "tunnels_total", "bytes_up", "bytes_down"} <= snapshot.keys()
        assert "not_allowed" in snapshot["refusals"]
    metrics = httpx.get(f"http://127.0.0.1:{gateway.health_port}/metrics", timeout=5)
    assert metrics.status_code == 200
    assert "calypso_gateway_tunnels_open " in metrics.text
    assert 'calypso_gateway_refusals{reason="not_allowed"}' in metrics.text
    # the separate health port serves health only, never tunnels
    assert status_of(exchange(gateway.health_port, connect("localhost:443"))) == 405


def test_password_with_at_colon_percent_via_httpx_proxy_url(
    tmp_path: Path, tls: TlsMaterial, upstream: TlsUpstream
) -> None:
    password = "a@b:c%41d/e?f#g"
    with GatewayProcess([f"localhost:{upstream.port}"], user="ops", password=password) as gw:
        assert "%40" in gw.url and "%3A" in gw.url
        with httpx.Client(proxy=gw.url, verify=tls.context(), timeout=10) as client:
            assert client.get(upstream.url + "/").status_code == 200
        bad_url = gw.url.replace("%23g@", "%23h@")
        assert bad_url != gw.url
        with (
            httpx.Client(proxy=bad_url, verify=tls.context(), timeout=10) as client,
            pytest.raises(httpx.ProxyError),
        ):
            client.get(upstream.url + "/")


def test_handshake_timeout_closes_slow_clients(upstream: TlsUpstream) -> None:
    with GatewayProcess([f"localhost:{upstream.port}"], "--handshake-timeout", "300ms") as gw:
        started = time.monotonic()
        with socket.create_connection(("127.0.0.1", gw.port), timeout=5) as sock:
            sock.sendall(b"CONNECT localhost:")  # slowloris: never finishes the head
            response = sock.recv(4096)
            assert sock.recv(4096) == b""  # closed by the gateway
        assert status_of(response) == 408
        assert time.monotonic() - started < 3
        snapshot = gw.wait_for(lambda h: h["connections_open"] <= 1)
        assert snapshot["refusals"]["handshake_timeout"] == 1


def test_idle_timeout_closes_idle_tunnels(upstream: TlsUpstream) -> None:
    with GatewayProcess([f"localhost:{upstream.port}"], "--idle-timeout", "400ms") as gw:
        with socket.create_connection(("127.0.0.1", gw.port), timeout=5) as sock:
            sock.sendall(connect(f"localhost:{upstream.port}"))
            assert sock.recv(4096).startswith(b"HTTP/1.1 200 Connection established")
            assert gw.health()["tunnels_open"] == 1
            started = time.monotonic()
            assert sock.recv(4096) == b""  # idle: the gateway closes it
            assert 0.3 < time.monotonic() - started < 3
        snapshot = gw.wait_for(lambda h: h["tunnels_open"] == 0)
        assert snapshot["idle_closed"] == 1 and snapshot["tunnels_open"] == 0


def test_tunnel_and_per_client_limits(upstream: TlsUpstream) -> None:
    target = f"localhost:{upstream.port}"
    with GatewayProcess([target], "--max-tunnels", "2", "--max-per-client", "3") as gw:
        held = [socket.create_connection(("127.0.0.1", gw.port), timeout=5) for _ in range(2)]
        try:
            for sock in held:
                sock.sendall(connect(target))
                assert sock.recv(4096).startswith(b"HTTP/1.1 200")
            assert status_of(exchange(gw.port, connect(target))) == 503
            idle = socket.create_connection(("127.0.0.1", gw.port), timeout=5)  # third connection from us
            try:
                assert status_of(exchange(gw.port, connect(target))) == 429  # fourth: over per-client
            finally:
                idle.close()
        finally:
            for sock in held:
                sock.close()
        snapshot = gw.wait_for(lambda h: h["tunnels_open"] == 0 and h["connections_open"] <= 1)
        assert snapshot["refusals"]["tunnel_limit"] == 1 and snapshot["refusals"]["client_limit"] == 1
        with socket.create_connection(("127.0.0.1", gw.port), timeout=5) as sock:  # slots were released
            sock.sendall(connect(target))
            assert sock.recv(4096).startswith(b"HTTP/1.1 200")


def test_sigterm_lets_open_tunnel_finish_then_exits_0(upstream: TlsUpstream, tls: TlsMaterial) -> None:
    with GatewayProcess([f"localhost:{upstream.port}"], "--grace", "10s") as gw:
        result: dict[str, object] = {}

        def slow_request() -> None:
            with httpx.Client(proxy=gw.url, verify=tls.context(), timeout=15) as client:
                response = client.get(upstream.url + "/slow?seconds=1.5")
                result["status"], result["text"] = response.status_code, response.text

        thread = threading.Thread(target=slow_request)
        thread.start()
        gw.wait_for(lambda h: h["tunnels_open"] == 1)
        gw.terminate()
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:  # stops accepting while the tunnel is still open
            try:
                socket.create_connection(("127.0.0.1", gw.port), timeout=1).close()
            except ConnectionRefusedError:
                break
            time.sleep(0.05)
        else:
            pytest.fail("gateway kept accepting after SIGTERM")
        assert gw.proc.poll() is None
        thread.join(15)
        assert result == {"status": 200, "text": "slow done"}
        assert gw.wait(15) == 0
        assert any("Draining." in line for line in gw.logs) and any("aborted=0" in line for line in gw.logs)


def test_sigterm_grace_bounds_the_wait(upstream: TlsUpstream) -> None:
    with GatewayProcess([f"localhost:{upstream.port}"], "--grace", "300ms") as gw:
        with socket.create_connection(("127.0.0.1", gw.port), timeout=5) as sock:
            sock.sendall(connect(f"localhost:{upstream.port}"))
            assert sock.recv(4096).startswith(b"HTTP/1.1 200")
            started = time.monotonic()
            gw.terminate()
            assert gw.wait(10) == 0
            assert time.monotonic() - started < 5
            assert sock.recv(4096) == b""
        assert any("aborted=1" in line for line in gw.logs)


def test_config_mistake_exits_2_with_one_line() -> None:
    import subprocess
    import sys

    proc = subprocess.run(
        [sys.executable, "-m", "calypso.gateway", "serve", "--listen", "127.0.0.1:0", "--allow", "a*b"],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert proc.returncode == 2
    assert proc.stderr.startswith("calypso gateway: error: allow:") and "Traceback" not in proc.stderr


def wait_for_log(gw: GatewayProcess, text: str, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not any(text in line for line in gw.logs):
        assert time.monotonic() < deadline, f"no log line with {text!r}"
        time.sleep(0.05)


def test_sighup_reloads_allowlist_and_credentials_without_dropping_tunnels(
    tmp_path: Path, upstream: TlsUpstream
) -> None:
    config = tmp_path / "gateway.toml"
    config.write_text(f'[gateway]\nallow = ["127.0.0.1:{upstream.port}"]\n')
    with GatewayProcess([], "--config", str(config)) as gw:
        held = socket.create_connection(("127.0.0.1", gw.port), timeout=5)
        try:
            held.sendall(connect(f"127.0.0.1:{upstream.port}"))
            assert held.recv(4096).startswith(b"HTTP/1.1 200")
            assert status_of(exchange(gw.port, connect(f"localhost:{upstream.port}"))) == 403

            (tmp_path / "users").write_text("ops:n3w@pass\n")
            config.write_text(
                f'[gateway]\nallow = ["localhost:{upstream.port}"]\nauth_file = "{tmp_path / "users"}"\n'
            )
            gw.reload()
            wait_for_log(gw, "Configuration reloaded.")
            auth = f"Proxy-Authorization: {basic('ops', 'n3w@pass')}"
            assert (
                status_of(exchange(gw.port, connect(f"localhost:{upstream.port}", auth), timeout=0.5)) == 200
            )
            assert status_of(exchange(gw.port, connect(f"localhost:{upstream.port}"))) == 407
            assert status_of(exchange(gw.port, connect(f"127.0.0.1:{upstream.port}", auth))) == 403
            # the tunnel opened before the reload is still there (the 200 one above is closing)
            assert gw.wait_for(lambda h: h["tunnels_open"] == 1)["tunnels_open"] == 1

            config.write_text("[gateway]\nallow = [")  # a broken file keeps the running configuration
            gw.reload()
            wait_for_log(gw, "Reload failed")
            assert (
                status_of(exchange(gw.port, connect(f"localhost:{upstream.port}", auth), timeout=0.5)) == 200
            )
        finally:
            held.close()
