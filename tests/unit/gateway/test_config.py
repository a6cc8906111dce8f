from __future__ import annotations

import argparse
from pathlib import Path

import pytest

from calypso.gateway import cli
from calypso.gateway.config import Address, build, load_toml, merge, parse_duration
from calypso.wire.errors import ConfigError


def parse(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    cli.register(parser.add_subparsers())
    return parser.parse_args(argv)


def test_flags_build_a_config() -> None:
    args = parse(
        [
            "gateway",
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--allow",
            "ws.example.com",
            "--allow",
            "*.x.org:8443",
            "--idle-timeout",
            "5m",
            "--max-tunnels",
            "7",
            "--health",
            "127.0.0.1:9",
        ]
    )
    config = cli.config_from_args(args)
    assert config.listen == Address("127.0.0.1", 0)
    assert [str(e) for e in config.allow.entries] == ["ws.example.com:443", "*.x.org:8443"]
    assert config.idle_timeout == 300.0 and config.max_tunnels == 7
    assert config.health == Address("127.0.0.1", 9)
    assert not config.credentials.required
    assert args.func is cli.run_serve


def test_toml_file_and_flags_override(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GW_PASSWORD", "s3cret")
    path = tmp_path / "gw.toml"
    path.write_text(
        '[gateway]\nlisten = "0.0.0.0:8080"\nallow = ["a.example"]\nuser = "agent"\n'
        'password_env = "GW_PASSWORD"\nhandshake_timeout = "500ms"\nmax_per_client = 3\n'
    )
    config = cli.config_from_args(
        parse(["gateway", "serve", "--config", str(path), "--listen", "127.0.0.1:1"])
    )
    assert config.listen == Address("127.0.0.1", 1)
    assert config.handshake_timeout == 0.5 and config.max_per_client == 3
    assert config.credentials.required


@pytest.mark.parametrize(
    "raw,key",
    [
        ({"allow": ["a"]}, "listen"),
        ({"listen": "127.0.0.1:1"}, "allow"),
        ({"listen": "nope", "allow": ["a"]}, "listen"),
        ({"listen": "127.0.0.1:1", "allow": ["a"], "max_tunnels": 0}, "max_tunnels"),
        ({"listen": "127.0.0.1:1", "allow": ["a"], "idle_timeout": "soon"}, "idle_timeout"),
        ({"listen": "127.0.0.1:1", "allow": ["a"], "colour": "red"}, "colour"),
        ({"listen": "127.0.0.1:1", "allow": ["a"], "user": "u"}, "auth"),
        ({"listen": "127.0.0.1:1", "allow": ["a"], "log_level": "loud"}, "log_level"),
    ],
)
def test_mistakes_name_the_key(raw: dict[str, object], key: str) -> None:
    with pytest.raises(ConfigError, match=key):
        build(raw)


def test_durations() -> None:
    assert parse_duration("k", "250ms") == 0.25
    assert parse_duration("k", "2h") == 7200
    assert parse_duration("k", 3) == 3.0
    for bad in ("-1s", "0", True, "1d"):
        with pytest.raises(ConfigError):
            parse_duration("k", bad)


def test_bad_toml(tmp_path: Path) -> None:
    path = tmp_path / "gw.toml"
    path.write_text("listen = [")
    with pytest.raises(ConfigError, match=r"gw\.toml"):
        load_toml(path)


def test_merge_keeps_file_values_when_flag_unset() -> None:
    assert merge({"allow": ["a"], "grace": "1s"}, {"allow": [], "grace": None}) == {
        "allow": ["a"],
        "grace": "1s",
    }


def test_run_serve_reports_config_error_without_traceback(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["serve", "--listen", "127.0.0.1:0"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("calypso gateway: error: allow:") and "Traceback" not in err
