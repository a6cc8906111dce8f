"""The agent: sources -> disk buffer -> sinks, one per machine."""

import sys

# httpx imports its command-line module whenever click is installed, pulling in click and pygments
# (about 2 MB resident) even though rich, which it also needs, is missing and the import fails. The
# agent never uses that command line: mark it absent so httpx takes its fallback at once.
sys.modules.setdefault("httpx._main", None)  # type: ignore[arg-type]
