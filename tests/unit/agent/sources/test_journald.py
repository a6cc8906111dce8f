"""journald: entry mapping from canned journal JSON, and the subprocess path with a fake journalctl."""

from __future__ import annotations

import asyncio
import json
import os
import stat
import sys
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from calypso.agent.sources import factory
from calypso.agent.sources.base import Commit, Record, SourceContext
from calypso.agent.sources.journald import CURSOR_FILE, JournaldConfig, JournaldSource, parse_entry

SSHD = {
    "__CURSOR": "s=abc;i=1",
    "__REALTIME_TIMESTAMP": "1764064800123456",
    "PRIORITY": "4",
    "SYSLOG_FACILITY": "10",
    "SYSLOG_IDENTIFIER": "sshd",
    "_PID": "4242",
    "_HOSTNAME": "web1",
    "_COMM": "sshd",
    "MESSAGE": "Failed password for root",
}


def entry(**changes: Any) -> bytes:
    e = {**SSHD, **changes}
    return json.dumps({k: v for k, v in e.items() if v is not None}).encode()


def test_entry_maps_to_syslog_columns() -> None:
    parsed = parse_entry(entry(), "collector")
    assert parsed is not None
    pri, rec, cursor = parsed
    assert (pri, cursor) == (10 * 8 + 4, "s=abc;i=1")
    assert rec == {
        "Computer": "web1",
        "HostName": "web1",
        "HostIP": None,
        "CollectorHostName": "collector",
        "Facility": "authpriv",
        "SeverityLevel": "warning",
        "ProcessName": "sshd",
        "ProcessID": 4242,
        "SyslogMessage": "Failed password for root",
        "EventTime": "2025-11-25T10:00:00.123456Z",
    }


def test_defaults_and_fallbacks() -> None:
    parsed = parse_entry(
        entry(PRIORITY=None, SYSLOG_FACILITY=None, SYSLOG_IDENTIFIER=None, _PID="x", _HOSTNAME=None), "me"
    )
    assert parsed is not None
    _, rec, _ = parsed
    assert (rec["Facility"], rec["SeverityLevel"]) == ("user", "info")
    assert (rec["ProcessName"], rec["ProcessID"], rec["HostName"]) == ("sshd", None, "me")


def test_binary_and_multivalued_fields() -> None:
    parsed = parse_entry(entry(MESSAGE=[104, 105, 255], SYSLOG_IDENTIFIER=["a", "b"]), "me")
    assert parsed is not None
    assert parsed[1]["SyslogMessage"] == "hi\ufffd"
    assert parsed[1]["ProcessName"] == "a"


@pytest.mark.parametrize("line", [b"", b"not json", b"[1,2]", b'"str"', b"{", b"\xff\xfe"])
def test_non_entries_are_rejected(line: bytes) -> None:
    assert parse_entry(line, "me") is None


@settings(max_examples=300, deadline=None)
@given(st.dictionaries(st.text(max_size=20), st.recursive(st.none() | st.booleans() | st.integers() | st.text(), st.lists, max_leaves=5), max_size=8))  # fmt: skip
def test_fuzz_never_raises(obj: dict[str, Any]) -> None:
    parse_entry(json.dumps(obj).encode(), "me")


FAKE = """#!{python}
import sys, time
with open({args!r}, "a") as f:
    f.write(" ".join(sys.argv[1:]) + "\\n")
sys.stdout.write(open({lines!r}).read())
sys.stdout.flush()
time.sleep(30)
"""


def _fake_journalctl(tmp_path: Path, lines: list[bytes]) -> Path:
    bindir = tmp_path / "bin"
    bindir.mkdir(exist_ok=True)
    (tmp_path / "lines.jsonl").write_bytes(b"\n".join(lines) + b"\n")
    script = bindir / "journalctl"
    script.write_text(
        FAKE.format(
            python=sys.executable, args=str(tmp_path / "args.txt"), lines=str(tmp_path / "lines.jsonl")
        )
    )
    script.chmod(script.stat().st_mode | stat.S_IEXEC)
    return bindir


async def _collect(source: JournaldSource, n: int, commit_all: bool = True) -> list[Record]:
    got: list[Record] = []

    async def emit(table: str, records: list[Record], commit: Commit | None = None) -> None:
        assert table == "Syslog"
        got.extend(records)
        if commit and commit_all:
            commit()

    task = asyncio.create_task(source.run(emit))
    for _ in range(250):
        if len(got) >= n:
            break
        await asyncio.sleep(0.02)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    return got


def test_subprocess_path_with_cursor_checkpoint(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    lines = [entry(__CURSOR=f"s=abc;i={i}", MESSAGE=f"m{i}") for i in range(5)]
    lines.insert(2, b"garbage line")
    bindir = _fake_journalctl(tmp_path, lines)
    monkeypatch.setenv("PATH", f"{bindir}{os.pathsep}{os.environ['PATH']}")
    state = tmp_path / "state"
    state.mkdir()
    ctx = SourceContext(state, "collector")
    source = factory("journald")({"facilities": ["authpriv"]}, ctx)
    assert isinstance(source, JournaldSource)

    got = asyncio.run(_collect(source, 5))
    assert [r["SyslogMessage"] for r in got] == [f"m{i}" for i in range(5)]
    assert (state / CURSOR_FILE).read_text() == "s=abc;i=4"
    assert ctx.counters["parse_errors"] == 1
    first_args = (tmp_path / "args.txt").read_text().splitlines()[0]
    assert "-o json --follow" in first_args and "--lines 0" in first_args

    again = factory("journald")({}, SourceContext(state, "collector"))
    asyncio.run(_collect(again, 1))
    second_args = (tmp_path / "args.txt").read_text().splitlines()[-1]
    assert "--after-cursor s=abc;i=4" in second_args


def test_cursor_not_written_until_commit(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    bindir = _fake_journalctl(tmp_path, [entry()])
    monkeypatch.setenv("PATH", f"{bindir}{os.pathsep}{os.environ['PATH']}")
    source = JournaldSource(JournaldConfig(), SourceContext(tmp_path, "c"))
    got = asyncio.run(_collect(source, 1, commit_all=False))
    assert len(got) == 1
    assert not (tmp_path / CURSOR_FILE).exists()


def test_missing_journalctl_fails_clearly(tmp_path: Path) -> None:
    source = JournaldSource(
        JournaldConfig(journalctl="no-such-journalctl-here"), SourceContext(tmp_path, "c")
    )

    async def emit(table: str, records: list[Record], commit: Commit | None = None) -> None:
        return None

    with pytest.raises(FileNotFoundError, match="not found"):
        asyncio.run(source.run(emit))
    assert source.status()["state"] == "failed"


def test_config_errors() -> None:
    with pytest.raises(ValueError, match=r"sources\.journald\.start"):
        JournaldConfig.from_mapping({"start": "yesterday"})
    with pytest.raises(ValueError, match=r"sources\.journald"):
        JournaldConfig.from_mapping({"facilities": ["nope"]})
