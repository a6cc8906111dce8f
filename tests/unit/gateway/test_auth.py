from __future__ import annotations

import base64
from pathlib import Path

import pytest

from calypso.gateway.auth import Credentials, Verdict, load_auth_file, password_from_env
from calypso.wire.errors import ConfigError


def basic(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


CREDS = Credentials.of({"agent": "p@ss:w%rd", "other": "x"})


def test_no_credentials_means_no_auth() -> None:
    assert Credentials().check(None) is Verdict.OK


def test_right_password_with_special_characters() -> None:
    assert CREDS.check(basic("agent", "p@ss:w%rd")) is Verdict.OK
    assert CREDS.check("basic " + basic("agent", "p@ss:w%rd").split()[1]) is Verdict.OK


@pytest.mark.parametrize(
    "header,verdict",
    [
        (None, Verdict.MISSING),
        ("Bearer abc", Verdict.MISSING),
        (basic("agent", "p@ss:w%rD"), Verdict.FAILED),
        (basic("agent", "p@ss"), Verdict.FAILED),
        (basic("nobody", "p@ss:w%rd"), Verdict.FAILED),
        (basic("other", "p@ss:w%rd"), Verdict.FAILED),
        ("Basic !!!notbase64", Verdict.FAILED),
        ("Basic " + base64.b64encode(b"nocolon").decode(), Verdict.FAILED),
        ("Basic " + base64.b64encode(b"\xff\xfe:x").decode(), Verdict.FAILED),
    ],
)
def test_refusals(header: str | None, verdict: Verdict) -> None:
    assert CREDS.check(header) is verdict


def test_user_names_with_colon_are_refused() -> None:
    with pytest.raises(ConfigError):
        Credentials.of({"a:b": "x"})


def test_auth_file(tmp_path: Path) -> None:
    path = tmp_path / "users"
    path.write_text("# agents\nagent:p@ss:w%rd\n\nops:secret\n")
    creds = Credentials.of(load_auth_file(path))
    assert creds.check(basic("agent", "p@ss:w%rd")) is Verdict.OK
    assert creds.check(basic("ops", "secret")) is Verdict.OK


@pytest.mark.parametrize("text", ["", "# only a comment\n", "nopassword\n", "user:\n"])
def test_bad_auth_files(tmp_path: Path, text: str) -> None:
    path = tmp_path / "users"
    path.write_text(text)
    with pytest.raises(ConfigError, match="auth-file"):
        load_auth_file(path)


def test_missing_auth_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read"):
        load_auth_file(tmp_path / "absent")


def test_password_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GW_PW", "a@b")
    assert password_from_env("GW_PW") == "a@b"
    monkeypatch.delenv("GW_PW")
    with pytest.raises(ConfigError, match="GW_PW"):
        password_from_env("GW_PW")
