"""EVTX source on real .evtx samples (counts and histograms from EXPECTED.json) and hostile input."""

from __future__ import annotations

import asyncio
import json
import shutil
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from calypso.agent.config import ConfigError
from calypso.agent.sources import factory
from calypso.agent.sources.base import Commit, Record, SourceContext, TwoPhaseCommit
from calypso.agent.sources.evtx import EvtxConfig, EvtxCounters, EvtxSource, to_row
from calypso.wire.schemas import standard_tables

SAMPLES = Path(__file__).resolve().parents[4] / ".." / "shared" / "samples" / "evtx"
EXPECTED = SAMPLES / "EXPECTED.json"
needs_samples = pytest.mark.skipif(not EXPECTED.exists(), reason=f"EVTX samples not found at {SAMPLES}")
FILES = sorted(json.loads(EXPECTED.read_text())["files"]) if EXPECTED.exists() else []


class Sink:
    def __init__(self, commit: bool = True) -> None:
        self.rows: list[tuple[str, Record]] = []
        self.commit = commit

    async def __call__(self, table: str, records: list[Record], commit: Commit | None = None) -> None:
        self.rows += [(table, r) for r in records]
        if commit and self.commit:
            commit()


def run_once(src: EvtxSource, sink: Sink) -> int:
    return asyncio.run(src.poll_once(sink))


def make(tmp_path: Path, paths: list[str]) -> EvtxSource:
    src = factory("evtx")({"paths": paths}, SourceContext(tmp_path / "state", "collector"))
    assert isinstance(src, EvtxSource)
    return src


@needs_samples
@pytest.mark.parametrize("name", FILES)
def test_real_files_match_expected_counts(tmp_path: Path, name: str) -> None:
    facts = json.loads(EXPECTED.read_text())["files"][name]
    src, sink = make(tmp_path, [str(SAMPLES / name)]), Sink()
    run_once(src, sink)
    assert len(sink.rows) == facts["records"]
    assert {t for t, _ in sink.rows} == {facts["azure_table_hint"]}
    ids = Counter(str(r["EventID"]) for _, r in sink.rows)
    assert dict(ids) == facts["event_id_histogram"]
    computers = Counter(r["Computer"] for _, r in sink.rows)
    # EXPECTED counts one security record's Computer as "null" (its extraction); evtx-rs gives a name
    slack = facts["computers_top5"].get("null", 0)
    for computer, n in facts["computers_top5"].items():
        if computer != "null":
            assert n <= computers[computer] <= n + slack
    table = facts["azure_table_hint"]
    columns = dict(standard_tables()[table])
    for _, r in sink.rows:
        assert set(r) <= set(columns), set(r) - set(columns)
        assert r["TimeGenerated"].endswith("Z")
        for col, value in r.items():
            if columns[col] in ("int", "long"):
                assert isinstance(value, int), (col, value)
    if table == "Event":
        channels = Counter(r["EventLog"] for _, r in sink.rows)
        providers = Counter(r["Source"] for _, r in sink.rows)
        assert dict(channels) == facts["channels"]
        assert dict(providers) == facts["providers"]


@needs_samples
def test_security_4625_fields(tmp_path: Path) -> None:
    name = "evtx-to-mitre_ID4625-failed_login_with_denied_access_due_to_account_restriction.evtx"
    src, sink = make(tmp_path, [str(SAMPLES / name)]), Sink()
    run_once(src, sink)
    _, r = sink.rows[0]
    assert r["Activity"] == "4625 - An account failed to log on."
    assert r["IpAddress"] == "10.23.23.9"
    assert r["LogonType"] == 10 and r["LogonTypeName"] == "10 - RemoteInteractive"
    assert r["SubjectAccount"] == "OFFSEC\\FS03$"
    assert r["Account"] == "OFFSEC\\FS03$" and r["AccountType"] == "Machine"
    assert r["Channel"] == "Security" and r["EventSourceName"] == "Microsoft-Windows-Security-Auditing"
    assert '<Data Name="IpAddress">10.23.23.9</Data>' in r["EventData"]
    assert r["TimeGenerated"] == "2021-10-23T21:50:11.666519Z"


@needs_samples
def test_checkpoint_survives_restart_and_uncommitted_rows_come_back(tmp_path: Path) -> None:
    sample = SAMPLES / "omerbenamram-evtx_system.evtx"
    path = tmp_path / "logs" / "System.evtx"
    path.parent.mkdir()
    shutil.copy(sample, path)
    lost = Sink(commit=False)  # first run: the runtime never confirms -> nothing may be checkpointed
    paths = [str(tmp_path / "logs" / "*.evtx")]
    run_once(make(tmp_path, paths), lost)
    src, sink = make(tmp_path, paths), Sink()
    run_once(src, sink)
    assert len(lost.rows) == len(sink.rows) == 1881
    assert run_once(src, sink) == 0, "an unchanged file is not re-emitted"
    path.touch()
    src2, sink2 = make(tmp_path, paths), Sink()
    assert run_once(src2, sink2) == 0, "after a restart every committed record is skipped"


def test_not_an_evtx_file_is_counted(tmp_path: Path) -> None:
    bad = tmp_path / "junk.evtx"
    bad.write_bytes(b"ElfFile\x00" + b"\xff" * 5000)
    (tmp_path / "empty.evtx").write_bytes(b"")
    src, sink = make(tmp_path, [str(tmp_path / "*.evtx")]), Sink()
    run_once(src, sink)
    assert sink.rows == []
    st = src.status()
    assert st["open_errors"] + st["record_errors"] >= 2


@needs_samples
def test_truncated_file_yields_what_it_can(tmp_path: Path) -> None:
    data = (SAMPLES / "omerbenamram-evtx_security.evtx").read_bytes()
    cut = tmp_path / "cut.evtx"
    cut.write_bytes(data[: 4096 + 65536 * 3 + 1000])  # header, three whole chunks, a torn fourth
    src, sink = make(tmp_path, [str(cut)]), Sink()
    run_once(src, sink)
    assert 0 < len(sink.rows) < 2261


@pytest.mark.parametrize(
    "doc",
    [
        {},
        {"Event": None},
        {"Event": {"System": "text"}},
        {
            "Event": {
                "System": {"EventID": {"#text": "notanumber"}, "Channel": "Security"},
                "EventData": {"LogonType": "x"},
            }
        },
        {"Event": {"System": {"EventID": 1, "Level": "9"}, "EventData": {"Data": {"#text": None}}}},
        {"Event": {"System": {"EventID": 7}, "UserData": {"Thing": {"A": 1, "#attributes": {}}}}},
    ],
)
def test_odd_documents_never_raise(doc: dict[str, Any]) -> None:
    row = to_row(doc, EvtxCounters())
    assert row is None or row[0] in ("Event", "SecurityEvent")


def test_bad_config() -> None:
    with pytest.raises(ConfigError, match="paths"):
        EvtxConfig.from_mapping({})
    with pytest.raises(ConfigError, match="unknown key"):
        EvtxConfig.from_mapping({"paths": ["/x"], "channel": "System"})


def test_windows_api_xml_maps_like_files() -> None:
    from calypso.agent.sources.evtx import xml_to_doc

    xml = (
        '<Event xmlns="http://schemas.microsoft.com/win/2004/08/events/event"><System>'
        '<Provider Name="Microsoft-Windows-Security-Auditing" Guid="{5484}"/><EventID>4624</EventID>'
        '<Level>0</Level><Task>12544</Task><TimeCreated SystemTime="2024-01-01T00:00:00.000000Z"/>'
        "<EventRecordID>42</EventRecordID><Channel>Security</Channel><Computer>DC01</Computer></System>"
        '<EventData><Data Name="TargetUserName">bob</Data><Data Name="TargetDomainName">CORP</Data>'
        '<Data Name="LogonType">3</Data></EventData></Event>'
    )
    table, rec = to_row(xml_to_doc(xml), EvtxCounters()) or ("", {})
    assert table == "SecurityEvent"
    assert rec["Account"] == "CORP\\bob" and rec["LogonTypeName"] == "3 - Network"
    assert rec["Activity"] == "4624 - An account was successfully logged on."
    assert rec["TimeGenerated"] == "2024-01-01T00:00:00.000000Z" and rec["EventRecordId"] == "42"


class KilledAroundTheWrite(Sink):
    """The runtime prepares each commit, then the process dies before confirming any."""

    def __init__(self) -> None:
        super().__init__(commit=False)
        self.tickets: list[list[int]] = []

    async def __call__(self, table: str, records: list[Record], commit: Commit | None = None) -> None:
        self.rows += [(table, r) for r in records]
        if commit is not None:
            assert isinstance(commit, TwoPhaseCommit), "evtx must prepare its checkpoint before the write"
            self.tickets.append([1, len(self.tickets) + 1])
            commit.prepare(self.tickets[-1])


@needs_samples
@pytest.mark.parametrize("write_happened", [True, False])
def test_kill_between_prepare_and_commit_neither_repeats_nor_loses(
    tmp_path: Path, write_happened: bool
) -> None:
    path = tmp_path / "logs" / "System.evtx"
    path.parent.mkdir()
    shutil.copy(SAMPLES / "omerbenamram-evtx_system.evtx", path)
    config = EvtxConfig(paths=(str(path),), batch_records=500)
    killed = KilledAroundTheWrite()
    asyncio.run(EvtxSource(config, SourceContext(tmp_path / "state", "c")).poll_once(killed))
    assert len(killed.rows) == 1881 and len(killed.tickets) == 4
    last = killed.tickets[-1]

    def written(ticket: list[int]) -> bool:
        return write_happened and ticket == last  # only the newest pending write is asked about

    again = Sink()
    asyncio.run(EvtxSource(config, SourceContext(tmp_path / "state", "c", written=written)).poll_once(again))
    # Nothing was confirmed: either the last prepared write happened (all is in the buffer) or not.
    assert len(again.rows) == (0 if write_happened else 1881)
