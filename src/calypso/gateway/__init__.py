"""The gateway: an HTTP CONNECT forward proxy that tunnels agents' TLS only to allowlisted workspaces.

Modules: `allowlist` (which targets are served), `auth` (basic auth), `config` (flags + TOML),
`httphead` (the request head), `proxy` (handshake of one connection), `relay` (byte relay of a
tunnel), `counters` (health), `server` (listening, limits, shutdown), `cli` (`calypso gateway`).
"""

from __future__ import annotations

from calypso.gateway.allowlist import Allowlist, Target
from calypso.gateway.config import GatewayConfig
from calypso.gateway.server import Gateway, serve

__all__ = ["Allowlist", "Gateway", "GatewayConfig", "Target", "serve"]
