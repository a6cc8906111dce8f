"""Windows event log files (.evtx) -> `Event`, and `SecurityEvent` for the Security channel.

Parsing is done by the `evtx` package (pyevtx-rs, Rust) which renders each record as JSON.

Invariants:
- Per file (by path) the checkpoint is the highest parser record id committed; a record is emitted
  when its id is above it, so re-reading a grown file (or restarting) emits each record once. The
  checkpoint advances only in the commit callback, after the runtime has the batch in its buffer.
- A damaged chunk or record is counted and skipped; the rest of the file is still read. A file that
  cannot be opened is counted and retried on the next poll, never fatal.
- EventData fields whose names are SecurityEvent columns fill those columns (converted to the
  column's type; a value that does not convert is left out and counted); the full EventData is kept
  as XML in `EventData`, as the Azure agent does.

Level mapping (the Azure agent reports the classic event types): ETW level 1-2 -> EventLevel 1
"Error", 3 -> 2 "Warning", 0/4/5 -> 4 "Information". RenderedDescription needs the provider's
message files, which exist only on Windows: left empty for files read elsewhere.
"""

from __future__ import annotations

import asyncio
import glob
import json
import os
import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any
from xml.sax.saxutils import escape, quoteattr

from calypso.agent.config import ConfigError, duration
from calypso.agent.sources.base import Emit, Record, SourceContext, Ticket, TwoPhaseCommit
from calypso.agent.sources.pending import PendingCheckpoint, table_runs
from calypso.wire.schemas import standard_tables

EVENT_NS = "http://schemas.microsoft.com/win/2004/08/events/event"
LEVELS: dict[int, tuple[int, str]] = {
    0: (4, "Information"),
    1: (1, "Error"),
    2: (1, "Error"),
    3: (2, "Warning"),
    4: (4, "Information"),
    5: (4, "Information"),
}
LOGON_TYPES = {
    0: "System",
    2: "Interactive",
    3: "Network",
    4: "Batch",
    5: "Service",
    7: "Unlock",
    8: "NetworkCleartext",
    9: "NewCredentials",
    10: "RemoteInteractive",
    11: "CachedInteractive",
}
# Activity text of the Security events users query most (the Azure agent's "<id> - <description>").
ACTIVITIES = {
    1102: "The audit log was cleared.",
    4624: "An account was successfully logged on.",
    4625: "An account failed to log on.",
    4634: "An account was logged off.",
    4647: "User initiated logoff.",
    4648: "A logon was attempted using explicit credentials.",
    4672: "Special privileges assigned to new logon.",
    4688: "A new process has been created.",
    4689: "A process has exited.",
    4697: "A service was installed in the system.",
    4698: "A scheduled task was created.",
    4719: "System audit policy was changed.",
    4720: "A user account was created.",
    4722: "A user account was enabled.",
    4723: "An attempt was made to change an account's password.",
    4724: "An attempt was made to reset an account's password.",
    4725: "A user account was disabled.",
    4726: "A user account was deleted.",
    4728: "A member was added to a security-enabled global group.",
    4732: "A member was added to a security-enabled local group.",
    4738: "A user account was changed.",
    4740: "A user account was locked out.",
    4756: "A member was added to a security-enabled universal group.",
    4768: "A Kerberos authentication ticket (TGT) was requested.",
    4769: "A Kerberos service ticket was requested.",
    4776: "The computer attempted to validate the credentials for an account.",
}
SECURITY_TYPES = dict(standard_tables()["SecurityEvent"])
_RESERVED = {"TimeGenerated", "Type", "TenantId", "SourceSystem", "_ResourceId", "Computer", "EventData"}


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, dict):
        return _text(value.get("#text"))
    if isinstance(value, list):
        return ",".join(_text(v) for v in value)
    return str(value)


def _int(value: Any) -> int | None:
    text = _text(value).strip()
    try:
        return int(text, 16) if text.lower().startswith("0x") else int(text)
    except ValueError:
        return None


def _attrs(node: Any) -> Mapping[str, Any]:
    return node.get("#attributes", {}) if isinstance(node, dict) else {}


def event_data(event: Mapping[str, Any]) -> tuple[dict[str, Any], list[Any]]:
    """EventData (or UserData) -> (named fields, positional values)."""
    data = event.get("EventData")
    if data is None and isinstance(event.get("UserData"), dict):
        inner = next(iter(event["UserData"].values()), None)
        data = {k: v for k, v in inner.items() if k != "#attributes"} if isinstance(inner, dict) else None
    if not isinstance(data, dict):
        return {}, []
    named = {k: v for k, v in data.items() if k not in ("#attributes", "Data", "Binary")}
    positional: list[Any] = []
    raw = data.get("Data")
    if isinstance(raw, dict):
        texts = raw.get("#text")
        positional = texts if isinstance(texts, list) else [texts]
    elif isinstance(raw, list):
        positional = raw
    elif raw is not None:
        positional = [raw]
    return named, positional


def event_data_xml(named: Mapping[str, Any], positional: list[Any]) -> str:
    parts = [f"<Data Name={quoteattr(k)}>{escape(_text(v))}</Data>" for k, v in named.items()]
    parts += [f"<Data>{escape(_text(v))}</Data>" for v in positional]
    return f'<EventData xmlns="{EVENT_NS}">{"".join(parts)}</EventData>'


def _account(domain: Any, user: Any) -> str | None:
    d, u = _text(domain), _text(user)
    if not u or u == "-":
        return None
    return f"{d}\\{u}" if d and d != "-" else u


@dataclass
class EvtxCounters:
    records: int = 0
    record_errors: int = 0
    open_errors: int = 0
    bad_values: int = 0


def to_row(doc: Mapping[str, Any], counters: EvtxCounters) -> tuple[str, Record] | None:
    """One parsed record (the JSON document of pyevtx-rs) -> (table, record), None if unusable."""
    event = doc.get("Event")
    if not isinstance(event, dict) or not isinstance(event.get("System"), dict):
        return None
    system = event["System"]
    event_id = _int(system.get("EventID"))
    level = _int(system.get("Level")) or 0
    level_num, level_name = LEVELS.get(level, (4, "Information"))
    channel = _text(system.get("Channel"))
    provider = _attrs(system.get("Provider"))
    named, positional = event_data(event)
    rec: Record = {
        "Computer": _text(system.get("Computer")),
        "EventID": event_id,
        "EventData": event_data_xml(named, positional),
    }
    created = _attrs(system.get("TimeCreated")).get("SystemTime")
    if isinstance(created, str) and created:
        rec["TimeGenerated"] = created if created.endswith("Z") else created + "Z"
    user_sid = _attrs(system.get("Security")).get("UserID")
    if channel != "Security":
        params = [*(v for v in named.values()), *positional]
        rec.update(
            {
                "Source": _text(provider.get("Name") or provider.get("EventSourceName")),
                "EventLog": channel,
                "EventLevel": level_num,
                "EventLevelName": level_name,
                "EventCategory": _int(system.get("Task")),
                "ParameterXml": "".join(f"<Param>{escape(_text(v))}</Param>" for v in params),
                "RenderedDescription": "",
                "UserName": _text(user_sid) or None,
            }
        )
        return "Event", {k: v for k, v in rec.items() if v is not None}
    execution = _attrs(system.get("Execution"))
    rec.update(
        {
            "Channel": channel,
            "EventSourceName": _text(provider.get("Name")),
            "Activity": f"{event_id} - {ACTIVITIES[event_id]}" if event_id in ACTIVITIES else str(event_id),
            "EventLevelName": level_name,
            "Level": str(level),
            "Task": _int(system.get("Task")),
            "Version": _int(system.get("Version")),
            "Opcode": _text(system.get("Opcode")) or None,
            "Keywords": _text(system.get("Keywords")) or None,
            "EventRecordId": _text(system.get("EventRecordID")) or None,
            "SystemProcessId": _int(execution.get("ProcessID")),
            "SystemThreadId": _int(execution.get("ThreadID")),
            "SystemUserId": _text(user_sid) or None,
        }
    )
    for key, value in named.items():
        kind = SECURITY_TYPES.get(key)
        if kind is None or key in _RESERVED:
            continue
        if kind in ("int", "long"):
            number = _int(value)
            if number is None:
                if _text(value) not in ("", "-"):
                    counters.bad_values += 1
                continue
            rec[key] = number
        else:
            rec[key] = _text(value)
    subject = _account(named.get("SubjectDomainName"), named.get("SubjectUserName"))
    target = _account(named.get("TargetDomainName"), named.get("TargetUserName"))
    rec["SubjectAccount"] = subject
    rec["TargetAccount"] = target
    rec["Account"] = target or subject
    if rec["Account"]:
        rec["AccountType"] = "Machine" if str(rec["Account"]).endswith("$") else "User"
    logon = rec.get("LogonType")
    if isinstance(logon, int):
        rec["LogonTypeName"] = f"{logon} - {LOGON_TYPES.get(logon, 'Unknown')}"
    return "SecurityEvent", {k: v for k, v in rec.items() if v is not None}


ParserFactory = Callable[[str], Iterator[Mapping[str, Any]]]


def parse_file(path: str) -> Iterator[Mapping[str, Any]]:
    """Records of one .evtx file as pyevtx-rs JSON dicts; errors surface as exceptions per record."""
    from evtx import PyEvtxParser  # the optional dependency is loaded only when used

    records: Iterator[Mapping[str, Any]] = iter(PyEvtxParser(path).records_json())  # type: ignore[arg-type]
    return records


@dataclass(frozen=True)
class EvtxConfig:
    paths: tuple[str, ...]
    poll_interval: float = 10.0
    batch_records: int = 1000

    @classmethod
    def from_mapping(cls, raw: Mapping[str, Any]) -> EvtxConfig:
        unknown = set(raw) - {"paths", "poll_interval", "batch_records", "name"}
        if unknown:
            raise ConfigError(f"sources.evtx: unknown key(s) {', '.join(sorted(unknown))}")
        paths = raw.get("paths", [])
        if isinstance(paths, str):
            paths = [paths]
        if not paths or not all(isinstance(p, str) and p for p in paths):
            raise ConfigError("sources.evtx.paths: expected a list of paths or globs of .evtx files")
        return cls(
            tuple(paths),
            duration(raw.get("poll_interval", 10.0), "sources.evtx.poll_interval"),
            max(1, int(raw.get("batch_records", 1000))),
        )


def _state_name(paths: tuple[str, ...]) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]", "_", "_".join(paths))[:80]


class EvtxSource:
    def __init__(self, config: EvtxConfig, ctx: SourceContext, parser: ParserFactory = parse_file) -> None:
        self.name = "evtx"
        self.config = config
        self.ctx = ctx
        self.parser = parser
        self.counters = EvtxCounters()
        self.state_path = ctx.state_dir / f"evtx-{_state_name(config.paths)}.checkpoint.json"
        self.pending = PendingCheckpoint(self.state_path, ctx)
        self.committed: dict[str, int] = self._load()
        if (pending := self.pending.resolve()) is not None:
            for k, v in dict(pending).items():
                self.committed[str(k)] = max(self.committed.get(str(k), 0), int(v))
            self._save()
        self.pending.clear()
        self._seen: dict[str, tuple[int, int]] = {}  # path -> (size, mtime_ns) when last read fully
        self.tables: dict[str, int] = {}

    def _load(self) -> dict[str, int]:
        try:
            raw = json.loads(self.state_path.read_text("utf-8"))
            return {str(k): int(v) for k, v in raw["files"].items()}
        except FileNotFoundError:
            return {}
        except (OSError, ValueError, KeyError, TypeError, AttributeError):
            self.ctx.count("evtx.checkpoint_corrupt")
            return {}

    def _save(self) -> None:
        self.state_path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.state_path.with_name(self.state_path.name + ".tmp")
        tmp.write_text(json.dumps({"version": 1, "files": self.committed}), "utf-8")
        os.replace(tmp, self.state_path)

    def _read(self, path: str, after: int) -> tuple[list[tuple[str, Record, int]], bool]:
        """New rows of one file (record id > after), in file order; False if it could not be opened."""
        rows: list[tuple[str, Record, int]] = []
        try:
            it = self.parser(path)
        except Exception:  # unreadable, not an evtx file: counted, tried again next poll
            self.counters.open_errors += 1
            return rows, False
        errors = 0
        while errors < 10_000:
            try:
                doc = next(it)
            except StopIteration:
                break
            except Exception:  # a damaged chunk or record: skip it, keep reading
                errors += 1
                continue
            rid = doc.get("event_record_id")
            if not isinstance(rid, int) or rid <= after:
                continue
            try:
                data = doc["data"]
                row = to_row(json.loads(data) if isinstance(data, str) else data, self.counters)
            except (ValueError, KeyError, TypeError):
                row = None
            if row is None:
                errors += 1
                continue
            rows.append((row[0], row[1], rid))
        self.counters.record_errors += errors
        return rows, True

    def _files(self) -> list[str]:
        found: set[str] = set()
        for pattern in self.config.paths:
            found.update(p for p in glob.glob(pattern, recursive=True) if os.path.isfile(p))
        return sorted(found)

    async def poll_once(self, emit: Emit) -> int:
        emitted = 0
        for path in self._files():
            try:
                st = os.stat(path)
            except OSError:
                continue
            stamp = (st.st_size, st.st_mtime_ns)
            if self._seen.get(path) == stamp:
                continue
            rows, ok = await asyncio.to_thread(self._read, path, self.committed.get(path, 0))
            emitted += await self._emit_rows(path, rows, emit)
            if ok:
                self._seen[path] = stamp
        return emitted

    async def _emit_rows(self, path: str, rows: list[tuple[str, Record, int]], emit: Emit) -> int:
        step = self.config.batch_records
        for i in range(0, len(rows), step):
            chunk = rows[i : i + step]
            for table, records, last_id in table_runs([(rid, table, rec) for table, rec, rid in chunk]):
                await emit(table, records, self._two_phase(path, last_id))
                self.tables[table] = self.tables.get(table, 0) + len(records)
            self.counters.records += len(chunk)
        return len(rows)

    def _two_phase(self, path: str, last_id: int) -> TwoPhaseCommit:
        def prepare(ticket: Ticket) -> None:
            self.pending.save(ticket, {path: last_id})

        def commit() -> None:
            self.committed[path] = max(self.committed.get(path, 0), last_id)
            self._save()

        return TwoPhaseCommit(prepare, commit)

    async def run(self, emit: Emit) -> None:
        while True:
            await self.poll_once(emit)
            await asyncio.sleep(self.config.poll_interval)

    def status(self) -> Mapping[str, Any]:
        c = self.counters
        return {
            "files": len(self._seen),
            "records": c.records,
            "record_errors": c.record_errors,
            "open_errors": c.open_errors,
            "bad_values": c.bad_values,
            "tables": dict(self.tables),
        }


def build(config: Mapping[str, Any], ctx: SourceContext) -> EvtxSource:
    return EvtxSource(EvtxConfig.from_mapping(config), ctx)


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def xml_to_doc(xml: str) -> Mapping[str, Any]:
    """An event rendered as XML by the Windows API -> the same dict shape pyevtx-rs gives for files."""
    import xml.etree.ElementTree as ET

    root = ET.fromstring(xml)
    event: dict[str, Any] = {}
    for section in root:
        name = _local(section.tag)
        if name == "System":
            system: dict[str, Any] = {}
            for el in section:
                node: Any = el.text
                if el.attrib:
                    node = {"#attributes": dict(el.attrib), **({"#text": el.text} if el.text else {})}
                system[_local(el.tag)] = node
            event["System"] = system
        elif name == "EventData":
            named = {d.attrib["Name"]: d.text for d in section if "Name" in d.attrib}
            unnamed = [d.text for d in section if "Name" not in d.attrib]
            event["EventData"] = {**named, **({"Data": {"#text": unnamed}} if unnamed else {})}
    return {"Event": event}


def read_channel(
    channel: str, after_record: int = 0, limit: int = 1000
) -> list[tuple[int, Mapping[str, Any]]]:
    """Live events of a Windows channel with record id > `after_record` (Windows only, via wevtapi).

    Not testable off Windows; `run` would poll it like a file with `channels = ["System", ...]`.
    """
    import sys

    if sys.platform != "win32":
        raise OSError("live Windows event channels need Windows (wevtapi.dll)")
    import ctypes
    from ctypes import wintypes

    api = ctypes.WinDLL("wevtapi.dll")  # type: ignore[attr-defined,unused-ignore]
    api.EvtQuery.restype = wintypes.HANDLE
    query = f"*[System[EventRecordID > {int(after_record)}]]"
    handle = api.EvtQuery(None, channel, query, 0x1 | 0x100)  # EvtQueryChannelPath | ForwardDirection
    if not handle:
        raise OSError(f"EvtQuery failed for channel {channel!r}")
    out: list[tuple[int, Mapping[str, Any]]] = []
    events = (wintypes.HANDLE * 64)()
    returned = wintypes.DWORD()
    try:
        while len(out) < limit and api.EvtNext(handle, 64, events, 1000, 0, ctypes.byref(returned)):
            for i in range(returned.value):
                used, props = wintypes.DWORD(), wintypes.DWORD()
                api.EvtRender(None, events[i], 1, 0, None, ctypes.byref(used), ctypes.byref(props))
                buf = ctypes.create_unicode_buffer(used.value // 2 + 1)
                if api.EvtRender(None, events[i], 1, used, buf, ctypes.byref(used), ctypes.byref(props)):
                    doc = xml_to_doc(buf.value)
                    rid = _int(doc["Event"].get("System", {}).get("EventRecordID")) or 0
                    out.append((rid, doc))
                api.EvtClose(events[i])
    finally:
        api.EvtClose(handle)
    return out
