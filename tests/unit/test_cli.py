"""The `calypso` command line: one program's commands load only that program."""

from __future__ import annotations

import subprocess
import sys


def _modules_after(argv: list[str]) -> set[str]:
    code = (
        "import sys\n"
        "from calypso.cli import build_parser\n"
        f"build_parser({argv!r})\n"
        "print('\\n'.join(sys.modules))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return set(out.stdout.split())


def test_an_agent_command_loads_neither_the_workspace_server_nor_the_gateway() -> None:
    loaded = _modules_after(["agent", "run", "--state", "/nonexistent"])
    assert "calypso.agent.cli" in loaded
    assert not {m for m in loaded if m.startswith(("calypso.workspace", "calypso.gateway"))}


def test_top_level_help_still_lists_every_program() -> None:
    out = subprocess.run(
        [sys.executable, "-c", "from calypso.cli import main; main(['--help'])"],
        capture_output=True,
        text=True,
    ).stdout
    for program in ("workspace", "agent", "gateway", "query", "kql"):
        assert f"    {program} " in out
