"""HTTPS to a workspace: TLS 1.2 minimum, optional CA pinning, an HTTP proxy, a gateway list with failover.

Proxies are written `[protocol://][user:password@]host[:port]`. The credentials may be percent-encoded,
and a raw password may itself contain `@` or `:` — the host is what follows the *last* `@`, the user is
what precedes the *first* `:`. Gateways are CONNECT proxies too; with several, a connection failure on
one moves to the next (`Routes`), and the last good route is tried first.
"""

from __future__ import annotations

import ssl
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote

import httpx

from calypso.wire.errors import ConfigError


@dataclass(frozen=True)
class ProxySpec:
    url: str  # scheme://host:port, no credentials
    username: str | None = None
    password: str | None = None

    def to_httpx(self) -> httpx.Proxy:
        auth = (self.username, self.password or "") if self.username is not None else None
        return httpx.Proxy(self.url, auth=auth)

    def redacted(self) -> str:
        return self.url if self.username is None else self.url.replace("://", f"://{self.username}:***@", 1)


def parse_proxy(text: str) -> ProxySpec:
    raw = text.strip()
    if not raw:
        raise ConfigError("proxy: empty value")
    scheme, sep, rest = raw.partition("://")
    if not sep:
        scheme, rest = "http", raw
    scheme = scheme.lower()
    if scheme not in ("http", "https"):
        raise ConfigError(f"proxy: unsupported protocol '{scheme}' (use http or https)")
    creds, at, hostport = rest.rpartition("@")
    hostport = hostport.rstrip("/")
    if not hostport:
        raise ConfigError(f"proxy: no host in '{text}'")
    host, colon, port = hostport.rpartition(":") if not hostport.endswith("]") else (hostport, "", "")
    if colon and not port.isdigit():
        raise ConfigError(f"proxy: port must be a number in '{hostport}'")
    if not colon:
        host, port = hostport, "80" if scheme == "http" else "443"
    user = password = None
    if at:
        u, _, p = creds.partition(":")
        user, password = unquote(u), unquote(p)
    return ProxySpec(f"{scheme}://{host}:{port}", user, password)


def tls_context(ca_file: Path | None) -> ssl.SSLContext:
    ctx = ssl.create_default_context(cafile=str(ca_file) if ca_file else None)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    return ctx


class Routes:
    """One httpx client per way out (gateways in order, else the proxy, else direct); fails over."""

    def __init__(self, ca_file: Path | None, proxy: str | None, gateways: list[str], timeout: float = 30.0):
        self._tls = tls_context(ca_file)
        specs: list[ProxySpec | None] = [parse_proxy(g) for g in gateways] or [
            parse_proxy(proxy) if proxy else None
        ]
        self.names = [s.redacted() if s else "direct" for s in specs]
        self._clients = [
            httpx.AsyncClient(
                verify=self._tls, proxy=s.to_httpx() if s else None, timeout=timeout, trust_env=False
            )
            for s in specs
        ]
        self.current = 0

    @property
    def client(self) -> httpx.AsyncClient:
        return self._clients[self.current]

    def fail_over(self) -> bool:
        """Move to the next route; False when there is only one."""
        if len(self._clients) == 1:
            return False
        self.current = (self.current + 1) % len(self._clients)
        return True

    async def request(self, method: str, url: str, **kwargs: object) -> httpx.Response:
        """Send through the current route; on a transport failure try each other route once.

        Resending is harmless: every batch carries its id and the workspace stores it once.
        """
        last: Exception | None = None
        for _ in range(len(self._clients)):
            try:
                return await self.client.request(method, url, **kwargs)  # type: ignore[arg-type]
            except httpx.TransportError as e:
                last = e
                if not self.fail_over():
                    break
        assert last is not None
        raise last

    async def aclose(self) -> None:
        for c in self._clients:
            await c.aclose()
