"""`python -m calypso.gateway serve ...`: the gateway without the console script."""

from __future__ import annotations

import sys

from calypso.gateway.cli import main

if __name__ == "__main__":
    sys.exit(main())
