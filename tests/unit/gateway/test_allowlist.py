from __future__ import annotations

import pytest

from calypso.gateway.allowlist import Allowlist, Target, parse_entry, parse_target
from calypso.wire.errors import ConfigError


def allows(entries: list[str], authority: str) -> bool:
    return Allowlist.parse(entries).allows(parse_target(authority))


def test_entry_without_port_serves_443_only() -> None:
    assert allows(["ws.example.com"], "ws.example.com:443")
    assert not allows(["ws.example.com"], "ws.example.com:80")
    assert not allows(["ws.example.com"], "ws.example.com:8443")


def test_explicit_port_is_exact() -> None:
    assert allows(["ws.example.com:8443"], "ws.example.com:8443")
    assert not allows(["ws.example.com:8443"], "ws.example.com:443")


def test_host_match_is_exact_and_case_insensitive() -> None:
    assert allows(["WS.Example.com"], "ws.EXAMPLE.com:443")
    assert allows(["ws.example.com"], "ws.example.com.:443")  # trailing dot is the same name
    assert not allows(["ws.example.com"], "evil-ws.example.com:443")
    assert not allows(["ws.example.com"], "ws.example.com.evil.net:443")
    assert not allows(["example.com"], "ws.example.com:443")


def test_wildcard_matches_subdomains_not_the_bare_suffix() -> None:
    entries = ["*.ods.example.com"]
    assert allows(entries, "abc.ods.example.com:443")
    assert allows(entries, "a.b.ods.example.com:443")
    assert not allows(entries, "ods.example.com:443")
    assert not allows(entries, "abcods.example.com:443")


def test_ip_literals() -> None:
    assert allows(["127.0.0.1:8443"], "127.0.0.1:8443")
    assert allows(["[::1]:8443"], "[0:0::1]:8443")
    assert not allows(["127.0.0.1:8443"], "127.0.0.2:8443")


def test_empty_allowlist_refuses_everything() -> None:
    assert not Allowlist.parse([]).allows(Target("ws.example.com", 443))


@pytest.mark.parametrize(
    "bad", ["", "ws.example.com:0", "ws.example.com:99999", "a*b.com", "*.", "ws:x", "::1"]
)
def test_bad_entries_raise_config_error(bad: str) -> None:
    with pytest.raises(ConfigError, match="allow"):
        parse_entry(bad)


@pytest.mark.parametrize(
    "bad",
    ["ws.example.com", "ws.example.com:", ":443", "ws.example.com:443x", "[::1", "a b:443", "ex%41.com:443"],
)
def test_malformed_connect_targets_raise_value_error(bad: str) -> None:
    with pytest.raises(ValueError):
        parse_target(bad)


def test_target_renders_ipv6_with_brackets() -> None:
    assert str(parse_target("[::1]:443")) == "[::1]:443"
    assert str(parse_target("Host.Example:8443")) == "host.example:8443"
