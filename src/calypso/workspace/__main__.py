"""`python -m calypso.workspace ...`: the `workspace` command group without the top-level CLI."""

from __future__ import annotations

import argparse
import sys

from calypso.workspace.cli import register


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="calypso")
    sub = parser.add_subparsers(dest="command", required=True)
    register(sub)
    args = parser.parse_args(["workspace", *(sys.argv[1:] if argv is None else argv)])
    return int(args.func(args))


if __name__ == "__main__":
    sys.exit(main())
