"""Custom text logs (tail): globs, rotation, truncation, checkpoints, multi-line, encodings -> `<Name>_CL`.

Modules: `config` (validated settings), `checkpoint` (file identity and the persisted offsets),
`lines` (bytes -> lines), `multiline` (lines -> records), `watcher` (the engine), `source` (the
source contract, batching and commits). `build` is the registry factory.
"""

from __future__ import annotations

from calypso.agent.sources.tail.config import TailConfig, parse_config
from calypso.agent.sources.tail.source import LineHandler, TailSource, build

__all__ = ["LineHandler", "TailConfig", "TailSource", "build", "parse_config"]
