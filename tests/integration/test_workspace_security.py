"""TLS and isolation against a real server: TLS 1.1 refused, workspaces isolated, key rotation, secrets 0600."""

from __future__ import annotations

import contextlib
import json
import socket
import ssl
import stat
import warnings
from collections.abc import Iterator

import pytest

from calypso.workspace import layout
from tests.integration.test_workspace_support import (
    Agent,
    Server,
    datacollector_headers,
    running_server,
    wait_for,
    workspace_cli,
)

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def two(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Server, Server]]:
    root = tmp_path_factory.mktemp("iso")
    for server in running_server(root):
        other_info = json.loads(workspace_cli("add", "--data", str(server.data)).stdout)
        other = Server(server.data, other_info, server.port, server.proc, server.log)

        def both_loaded(s: Server = server) -> bool:
            with s.client() as c:
                return bool(c.get("/healthz").json()["workspaces"] == 2)

        wait_for(both_loaded, 10, "the new workspace")
        yield server, other


def test_tls_1_1_handshake_is_refused(two: tuple[Server, Server]) -> None:
    server, _ = two
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.load_verify_locations(server.ca)
    ctx.minimum_version = ssl.TLSVersion.MINIMUM_SUPPORTED
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        ctx.maximum_version = ssl.TLSVersion.TLSv1_1
    with contextlib.suppress(ssl.SSLError):
        ctx.set_ciphers("ALL:@SECLEVEL=0")
    with (
        socket.create_connection(("127.0.0.1", server.port), timeout=5) as raw,
        pytest.raises(ssl.SSLError) as refused,
    ):
        ctx.wrap_socket(raw, server_hostname="127.0.0.1")
    # The client did offer TLS 1.1 (a client unable to would fail with NO_PROTOCOLS_AVAILABLE); the server refused.
    assert refused.value.reason != "NO_PROTOCOLS_AVAILABLE"
    ok = ssl.create_default_context(cafile=server.ca)
    ok.minimum_version = ok.maximum_version = ssl.TLSVersion.TLSv1_2
    with (
        socket.create_connection(("127.0.0.1", server.port), timeout=5) as raw,
        ok.wrap_socket(raw, server_hostname="127.0.0.1") as tls,
    ):
        assert tls.version() == "TLSv1.2"


def test_tokens_of_one_workspace_cannot_touch_the_other(two: tuple[Server, Server]) -> None:
    a, b = two
    assert a.query("Heartbeat | take 1", token=b.info["query_token"]).status_code == 403
    assert b.query("Heartbeat | take 1", token=a.info["admin_token"]).status_code == 403
    with a.client() as c:
        r = c.put(
            f"/admin/v1/workspaces/{b.ws_id}/rules",
            json={"x": 1},
            headers={"Authorization": f"Bearer {a.info['admin_token']}"},
        )
        assert r.status_code == 403


def test_shared_key_of_one_workspace_cannot_write_the_other(two: tuple[Server, Server]) -> None:
    a, b = two
    body = b'[{"Secret": "from a"}]'
    headers = datacollector_headers(b.ws_id, a.info["primary_key"], body, "Leak")
    with a.client() as c:
        assert c.post("/api/logs?api-version=2016-04-01", content=body, headers=headers).status_code == 403
    assert Agent(a).onboard(ws_id=b.ws_id, key=a.info["primary_key"]).status_code == 403
    assert "Leak_CL" not in b.tables() and "Leak_CL" not in a.tables()


def test_data_lands_only_in_its_workspace(two: tuple[Server, Server]) -> None:
    a, b = two
    body = b'[{"Who": "b"}]'
    with b.client() as c:
        r = c.post(
            "/api/logs?api-version=2016-04-01",
            content=body,
            headers=datacollector_headers(b.ws_id, b.info["primary_key"], body, "Mine"),
        )
        assert r.status_code == 200
    assert b.rows("Mine_CL") == 1
    assert "Mine_CL" not in a.tables()


def test_key_rotation_takes_effect_without_restart(two: tuple[Server, Server]) -> None:
    a, _ = two
    old = a.info["secondary_key"]
    rotated = json.loads(
        workspace_cli(
            "rotate-key", "--data", str(a.data), "--workspace", a.ws_id, "--key", "secondary"
        ).stdout
    )["secondary_key"]
    body = b'[{"k": 1}]'

    def status(key: str) -> int:
        with a.client() as c:
            return c.post(
                "/api/logs?api-version=2016-04-01",
                content=body,
                headers=datacollector_headers(a.ws_id, key, body, "Rot"),
            ).status_code

    wait_for(lambda: status(rotated) == 200, 10, "the rotated key to be accepted")
    assert status(old) == 403
    assert status(a.info["primary_key"]) == 200  # the other key never stopped working


def test_secrets_are_0600(two: tuple[Server, Server]) -> None:
    a, b = two
    for path in [
        layout.secrets_path(a.data, a.ws_id),
        layout.secrets_path(b.data, b.ws_id),
        a.data / "tls" / "ca.key",
        a.data / "tls" / "server.key",
    ]:
        assert stat.S_IMODE(path.stat().st_mode) == 0o600, path


def test_bad_cli_input_is_one_line(two: tuple[Server, Server]) -> None:
    a, _ = two
    proc = workspace_cli(
        "rotate-key", "--data", str(a.data), "--workspace", "nope", "--key", "primary", check=False
    )
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr and len(proc.stderr.strip().splitlines()) == 1
