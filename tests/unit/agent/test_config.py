from __future__ import annotations

from pathlib import Path

import pytest

from calypso.agent import config as cfg
from calypso.wire.errors import ConfigError


def test_defaults_when_no_file() -> None:
    c = cfg.load(None)
    assert c.buffer.overflow == "block"
    assert c.delivery.rules_poll_interval == 30.0


@pytest.mark.parametrize(
    ("text", "needle"),
    [
        ("[buffr]\nmax_bytes = 1", "'buffr'"),
        ("[buffer]\nmax_byts = 1", "'buffer.max_byts'"),
        ('[buffer]\nfsync = "sometimes"', "buffer.fsync"),
        ('[delivery]\nmax_retry_delay = "soon"', "delivery.max_retry_delay"),
        ("[buffer\n", "invalid TOML"),
    ],
)
def test_bad_config_names_the_key(tmp_path: Path, text: str, needle: str) -> None:
    path = tmp_path / "agent.toml"
    path.write_text(text)
    with pytest.raises(ConfigError, match=needle.replace("[", r"\[")):
        cfg.load(path)


def test_sizes_and_durations(tmp_path: Path) -> None:
    path = tmp_path / "agent.toml"
    path.write_text(
        '[buffer]\nmax_bytes = "64MiB"\noverflow = "drop_oldest"\n[delivery]\nmax_retry_delay = "2m"\n'
    )
    c = cfg.load(path)
    assert c.buffer.max_bytes == 64 << 20
    assert c.buffer.overflow == "drop_oldest"
    assert c.delivery.max_retry_delay == 120.0
    assert cfg.duration("500ms", "x") == 0.5


def test_local_sections_override_workspace_rules_and_arrays_fan_out() -> None:
    rules = [{"sources": {"perf": {"interval": "60s"}, "tail": [{"name": "A", "paths": ["/a"]}]}}]
    merged = cfg.effective_sources({"perf": {"interval": "5s"}}, rules)
    assert merged["perf"] == {"interval": "5s"}
    names = [(n, k) for n, k, _ in cfg.instances(merged)]
    assert ("perf", "perf") in names and ("tail.A", "tail") in names


def test_disabled_sections_do_not_run() -> None:
    assert cfg.instances({"perf": {"enabled": False}}) == []
