"""Source registry: config section name -> "module:factory". Adding a source is one module plus one line.

A factory has the signature `SourceFactory` (see `base.py`): `(config: Mapping, ctx: SourceContext) -> Source`.
A config section given as a TOML array of tables (`[[sources.tail]]`) builds one source per entry.
Factories are imported lazily so an agent only loads what its config uses.
"""

from __future__ import annotations

from importlib import import_module

from calypso.agent.sources.base import SourceFactory

SOURCES: dict[str, str] = {
    "heartbeat": "calypso.agent.sources.heartbeat:build",
    "syslog": "calypso.agent.sources.syslog:build",
    "journald": "calypso.agent.sources.journald:build",
    "perf": "calypso.agent.sources.perf:build",
    "tail": "calypso.agent.sources.tail:build",
    "w3c": "calypso.agent.sources.w3c:build",
    "evtx": "calypso.agent.sources.evtx:build",
    "windows_events": "calypso.agent.sources.winevent:build",
}


def factory(kind: str) -> SourceFactory:
    try:
        target = SOURCES[kind]
    except KeyError:
        known = ", ".join(sorted(SOURCES))
        raise KeyError(f"unknown source '{kind}' (known: {known})") from None
    module, _, attr = target.partition(":")
    built: SourceFactory = getattr(import_module(module), attr)
    return built
