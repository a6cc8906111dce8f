"""Live Windows channels: the checkpoint and row mapping, with the Windows API replaced by a reader."""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest

from calypso.agent.config import ConfigError
from calypso.agent.sources.base import Record, SourceContext
from calypso.agent.sources.evtx import xml_to_doc
from calypso.agent.sources.winevent import build

NS = "http://schemas.microsoft.com/win/2004/08/events/event"


def event_xml(rid: int, channel: str, event_id: int, data: dict[str, str]) -> str:
    fields = "".join(f'<Data Name="{k}">{v}</Data>' for k, v in data.items())
    return (
        f'<Event xmlns="{NS}"><System><Provider Name="Microsoft-Windows-Security-Auditing"/>'
        f"<EventID>{event_id}</EventID><Level>0</Level>"
        f'<TimeCreated SystemTime="2024-05-01T10:00:0{rid % 10}.000000Z"/>'
        f"<EventRecordID>{rid}</EventRecordID><Channel>{channel}</Channel><Computer>DC01</Computer>"
        f"</System><EventData>{fields}</EventData></Event>"
    )


class FakeChannels:
    def __init__(self) -> None:
        self.events: dict[str, list[tuple[int, Mapping[str, Any]]]] = {"Security": [], "System": []}
        self.fail = False

    def add(self, channel: str, rid: int, event_id: int, data: dict[str, str]) -> None:
        self.events[channel].append((rid, xml_to_doc(event_xml(rid, channel, event_id, data))))

    def __call__(self, channel: str, after: int, limit: int) -> list[tuple[int, Mapping[str, Any]]]:
        if self.fail:
            raise OSError("channel unavailable")
        return [e for e in self.events[channel] if e[0] > after][:limit]


def collect(source: Any) -> list[tuple[str, Record]]:
    got: list[tuple[str, Record]] = []

    async def emit(table: str, records: list[Record], commit: Any = None) -> None:
        got.extend((table, r) for r in records)
        if commit:
            commit()

    asyncio.run(source.poll_once(emit))
    return got


def test_security_and_system_events_map_to_their_tables_once(tmp_path: Path) -> None:
    fake = FakeChannels()
    fake.add("Security", 1, 4625, {"TargetUserName": "alice", "IpAddress": "10.1.2.3", "LogonType": "3"})
    fake.add("System", 7, 7036, {"param1": "Print Spooler", "param2": "stopped"})
    ctx = SourceContext(tmp_path, "collector")
    source = build({"channels": ["Security", "System"]}, ctx, reader=fake)
    rows = collect(source)
    tables = sorted(t for t, _ in rows)
    assert tables == ["Event", "SecurityEvent"]
    sec = next(r for t, r in rows if t == "SecurityEvent")
    assert sec["EventID"] == 4625 and sec["TargetUserName"] == "alice" and sec["IpAddress"] == "10.1.2.3"
    assert sec["Computer"] == "DC01"
    assert collect(source) == []  # nothing new: checkpoint held

    fake.add("Security", 2, 4624, {"TargetUserName": "bob"})
    restarted = build({"channels": ["Security", "System"]}, ctx, reader=fake)  # checkpoint survives
    again = collect(restarted)
    assert [r["EventID"] for _, r in again] == [4624]


def test_unreadable_channel_is_counted_and_retried(tmp_path: Path) -> None:
    fake = FakeChannels()
    fake.add("System", 1, 6005, {})
    fake.fail = True
    source = build({"channels": ["System"]}, SourceContext(tmp_path, "c"), reader=fake)
    assert collect(source) == []
    assert source.status()["read_errors"] == 1
    fake.fail = False
    assert len(collect(source)) == 1


@pytest.mark.skipif(sys.platform == "win32", reason="checks the message shown off Windows")
def test_off_windows_the_config_error_says_what_to_use_instead(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="needs Windows"):
        build({"channels": ["System"]}, SourceContext(tmp_path, "c"))


def test_a_kill_between_the_tables_of_one_read_duplicates_nothing(tmp_path: Path) -> None:
    """A read whose events go to two tables is emitted as runs, each with its own checkpoint: stopped
    after the first run (a kill), the next start reads only what had not entered the buffer."""
    fake = FakeChannels()
    fake.add("Security", 1, 4625, {"TargetUserName": "alice"})
    fake.events["Security"].append((2, xml_to_doc(event_xml(2, "System", 7036, {"param1": "Spooler"}))))
    fake.add("Security", 3, 4624, {"TargetUserName": "bob"})
    ctx = SourceContext(tmp_path, "collector")
    buffered: list[tuple[str, int]] = []

    async def emit_then_die(table: str, records: list[Record], commit: Any = None) -> None:
        buffered.extend((table, r["EventID"]) for r in records)
        assert commit is not None  # every run checkpoints
        commit()
        raise KeyboardInterrupt  # the agent is killed right after this run entered the buffer

    with pytest.raises(KeyboardInterrupt):
        asyncio.run(build({"channels": ["Security"]}, ctx, reader=fake).poll_once(emit_then_die))
    assert buffered == [("SecurityEvent", 4625)]
    rest = collect(build({"channels": ["Security"]}, ctx, reader=fake))
    assert [(t, r["EventID"]) for t, r in rest] == [("Event", 7036), ("SecurityEvent", 4624)]
