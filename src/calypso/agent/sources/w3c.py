"""W3C extended log files (IIS) -> `W3CIISLog`, built on the tail engine (rotation, checkpoints, batching).

Invariants:
- Each data line is read against the `#Fields:` directive in force at that point of its file;
  directives may change mid-file. After a restart in the middle of a file, the last `#Fields:`
  before the resume offset is found by re-reading the file's beginning (past a UTF-8 BOM), so
  columns never shift.
- A line whose token count differs from its `#Fields`, or that comes before any `#Fields`, is
  skipped and counted (never guessed). `-` is W3C's empty marker: string columns get "", numeric
  columns are left null. A numeric column that does not parse is left null and counted.
- `date` + `time` (UTC, as IIS writes them) make TimeGenerated; with only `time`, the `#Date`
  directive gives the day. `date-local`/`time-local` (IIS Advanced Logging) are not UTC: not mapped.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from calypso.agent.sources.base import Record, SourceContext
from calypso.agent.sources.tail.config import parse_config
from calypso.agent.sources.tail.source import TailSource
from calypso.wire.schemas import standard_tables

TABLE = "W3CIISLog"

# W3C field name (lower-case) -> W3CIISLog column
FIELD_COLUMNS: dict[str, str] = {
    "s-sitename": "sSiteName",
    "s-ip": "sIP",
    "s-port": "sPort",
    "cs-method": "csMethod",
    "cs-uri-stem": "csUriStem",
    "cs-uri-query": "csUriQuery",
    "cs-username": "csUserName",
    "c-ip": "cIP",
    "cs-version": "csVersion",
    "cs(user-agent)": "csUserAgent",
    "cs(cookie)": "csCookie",
    "cs(referer)": "csReferer",
    "cs(referrer)": "csReferer",
    "cs-host": "csHost",
    "cs(host)": "csHost",
    "sc-status": "scStatus",
    "sc-substatus": "scSubStatus",
    "sc-win32-status": "scWin32Status",
    "sc-bytes": "scBytes",
    "cs-bytes": "csBytes",
    "time-taken": "TimeTaken",
    "timetakenms": "TimeTaken",
}

_TOKEN = re.compile(r'"([^"]*)"|(\S+)')
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_TIME = re.compile(r"^\d{2}:\d{2}:\d{2}(\.\d{1,6})?$")


def tokenize(line: str) -> list[str]:
    """Whitespace-separated values; a double-quoted value is one token, quotes removed."""
    return [m.group(1) if m.group(1) is not None else m.group(2) for m in _TOKEN.finditer(line)]


def _converters() -> dict[str, str]:
    types = dict(standard_tables()[TABLE])
    return {col: types[col] for col in set(FIELD_COLUMNS.values())}


@dataclass
class W3CCounters:
    rows: int = 0
    directives: int = 0
    no_fields: int = 0
    field_count_mismatch: int = 0
    bad_values: int = 0


def to_record(
    fields: list[str], values: list[str], directive_date: str | None, counters: W3CCounters
) -> Record:
    """One data line's values (already split, same length as `fields`) -> a W3CIISLog record."""
    types = COLUMN_TYPES
    rec: Record = {}
    date = time = None
    for name, value in zip(fields, values, strict=True):
        key = name.lower()
        if key == "date":
            date = value
            continue
        if key == "time":
            time = value
            continue
        col = FIELD_COLUMNS.get(key)
        if col is None:
            continue
        if types[col] == "string":
            rec[col] = "" if value == "-" else value
        elif value != "-":
            try:
                rec[col] = int(value)
            except ValueError:
                counters.bad_values += 1
    stamp = _timestamp(date or directive_date, time)
    if stamp is not None:
        rec["TimeGenerated"] = stamp
    elif date or time:
        counters.bad_values += 1
    return rec


def _timestamp(date: str | None, time: str | None) -> str | None:
    if not (date and time and _DATE.match(date) and _TIME.match(time)):
        return None
    whole, _, frac = time.partition(".")
    try:
        dt = datetime.strptime(f"{date} {whole}", "%Y-%m-%d %H:%M:%S")
    except ValueError:
        return None
    return f"{dt.isoformat()}.{(frac + '000000')[:6]}Z"


COLUMN_TYPES = _converters()


@dataclass
class FileState:
    fields: list[str] | None = None
    date: str | None = None


@dataclass
class W3CHandler:
    computer: str
    counters: W3CCounters = field(default_factory=W3CCounters)
    files: dict[str, FileState] = field(default_factory=dict)

    def __call__(self, path: str, text: str, now: str, end: int) -> Record | None:
        state = self.files.get(path)
        if state is None:
            state = self.files[path] = self._recover(path, end - len(text.encode("utf-8", "replace")) - 1)
        line = text.strip()
        if not line:
            return None
        if line.startswith("#"):
            self.counters.directives += 1
            directive, _, rest = line[1:].partition(":")
            if directive.strip().lower() == "fields":
                state.fields = rest.split()
            elif directive.strip().lower() in ("date", "start-date"):
                state.date = rest.strip().split(" ")[0] or None
            return None
        if state.fields is None:
            self.counters.no_fields += 1
            return None
        values = tokenize(line)
        if len(values) != len(state.fields):
            self.counters.field_count_mismatch += 1
            return None
        rec = to_record(state.fields, values, state.date, self.counters)
        rec.setdefault("TimeGenerated", now)
        rec["Computer"] = self.computer
        self.counters.rows += 1
        return rec

    def _recover(self, path: str, before: int) -> FileState:
        """The directives in force at offset `before` (resume after a restart, or a renamed file)."""
        state = FileState()
        if before <= 0:
            return state
        try:
            with open(path, "rb") as f:
                head = f.read(before)
        except OSError:
            return state
        if head.startswith(b"\xef\xbb\xbf"):
            head = head[3:]
        for raw in head.splitlines():
            if raw.startswith(b"#"):
                directive, _, rest = raw[1:].decode("utf-8", "replace").partition(":")
                name = directive.strip().lower()
                if name == "fields":
                    state.fields = rest.split()
                elif name in ("date", "start-date"):
                    state.date = rest.strip().split(" ")[0] or None
        return state


class W3CSource(TailSource):
    def __init__(self, raw: Mapping[str, Any], ctx: SourceContext) -> None:
        config = parse_config({"name": "W3CIISLog", **raw}, where="sources.w3c", name_required=True)
        self.w3c = W3CHandler(ctx.computer)
        super().__init__(config, ctx, handler=self.w3c, table=TABLE, kind="w3c")

    def status(self) -> Mapping[str, Any]:
        c = self.w3c.counters
        return {
            **super().status(),
            "rows": c.rows,
            "directives": c.directives,
            "lines_before_fields": c.no_fields,
            "field_count_mismatch": c.field_count_mismatch,
            "bad_values": c.bad_values,
        }


def build(config: Mapping[str, Any], ctx: SourceContext) -> W3CSource:
    return W3CSource(config, ctx)
