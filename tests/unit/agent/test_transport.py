from __future__ import annotations

import pytest

from calypso.agent.transport import parse_proxy
from calypso.wire.errors import ConfigError


@pytest.mark.parametrize(
    ("text", "url", "user", "password"),
    [
        ("proxy.corp:3128", "http://proxy.corp:3128", None, None),
        ("http://proxy.corp", "http://proxy.corp:80", None, None),
        ("https://u:p@proxy.corp:8443", "https://proxy.corp:8443", "u", "p"),
        ("http://user:p@ss:w0rd@10.0.0.1:3128", "http://10.0.0.1:3128", "user", "p@ss:w0rd"),
        ("user:p%40ss%3Aw%25rd@proxy:3128", "http://proxy:3128", "user", "p@ss:w%rd"),
        ("http://dom%5Cuser:secret@proxy:8080/", "http://proxy:8080", "dom\\user", "secret"),
    ],
)
def test_proxy_forms(text: str, url: str, user: str | None, password: str | None) -> None:
    spec = parse_proxy(text)
    assert (spec.url, spec.username, spec.password) == (url, user, password)
    if password:
        assert spec.redacted().endswith(":***@" + url.split("://")[1])


@pytest.mark.parametrize("text", ["", "socks5://proxy:1080", "http://proxy:notaport", "http://user:pw@"])
def test_bad_proxies_are_config_errors(text: str) -> None:
    with pytest.raises(ConfigError):
        parse_proxy(text)
