"""Perf source against the checked-in fake /proc + /sys tree (deterministic values) and this machine."""

from __future__ import annotations

import asyncio
import re
import shutil
import struct
from pathlib import Path
from typing import Any

import pytest

from calypso.agent.sources import factory
from calypso.agent.sources.base import Record, SourceContext
from calypso.agent.sources.perf import (
    OBJECTS,
    Collector,
    FsUsage,
    PerfConfig,
    PerfConfigError,
    PerfSource,
    ProcFS,
)
from calypso.agent.sources.perf.counters import parse_spec
from calypso.wire.schemas import standard_tables

FIXTURE = Path(__file__).resolve().parents[3] / "fixtures" / "proc"

STATVFS = {
    "/": FsUsage(4096, 1_000_000, 300_000, 250_000, 500_000, 400_000),
    "/data": FsUsage(4096, 2_000_000, 1_000_000, 1_000_000, 100_000, 50_000),
    "/mnt/my disk": FsUsage(1024, 100, 100, 100, 10, 10),
    "/srv/bind": FsUsage(4096, 1_000_000, 300_000, 250_000, 500_000, 400_000),
}


def fake_statvfs(path: str) -> FsUsage:
    try:
        return STATVFS[path]
    except KeyError:
        raise FileNotFoundError(path) from None


def utmp(types: list[int]) -> bytes:
    return b"".join(struct.pack("<i", t) + b"\0" * 380 for t in types)


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    root = tmp_path / "root"
    shutil.copytree(FIXTURE / "base", root)
    (tmp_path / "utmp").write_bytes(utmp([7, 8, 7, 2]))
    return root


def advance(root: Path) -> None:
    shutil.copytree(FIXTURE / "next", root, dirs_exist_ok=True)


def make_fs(root: Path) -> ProcFS:
    return ProcFS(
        root / "proc",
        root / "sys",
        statvfs=fake_statvfs,
        utmp_path=root.parent / "utmp",
        system_instance="Fake Linux 1.0 (x86_64)",
        clk_tck=100,
        page_size=4096,
    )


def sample_twice(
    root: Path, counters: list[str]
) -> tuple[dict[tuple[str, str, str], float], dict[tuple[str, str, str], float]]:
    clock = Clock()
    specs = [parse_spec(c) for c in counters]
    col = Collector(make_fs(root), specs, clock)
    first = {(s.object, s.instance, s.counter): s.value for s in col.collect()}
    advance(root)
    clock.now += 10.0
    second = {(s.object, s.instance, s.counter): s.value for s in col.collect()}
    return first, second


def test_processor_percentages_from_tick_deltas(tree: Path) -> None:
    first, second = sample_twice(tree, ["Processor(*)\\*"])
    assert first == {}, "a rate counter emits nothing on the first sample"
    assert second[("Processor", "0", "% Processor Time")] == pytest.approx(45.0)
    assert second[("Processor", "0", "% Idle Time")] == pytest.approx(50.0)
    assert second[("Processor", "0", "% User Time")] == pytest.approx(30.0)
    assert second[("Processor", "0", "% Privileged Time")] == pytest.approx(10.0)
    assert second[("Processor", "0", "% IO Wait Time")] == pytest.approx(5.0)
    assert second[("Processor", "0", "% Interrupt Time")] == pytest.approx(2.5)
    assert second[("Processor", "0", "% DPC Time")] == pytest.approx(2.5)
    assert second[("Processor", "0", "% Nice Time")] == pytest.approx(0.0)
    assert second[("Processor", "1", "% Processor Time")] == pytest.approx(20.0)
    assert second[("Processor", "_Total", "% Processor Time")] == pytest.approx(32.5)
    assert second[("Processor", "_Total", "% Idle Time")] == pytest.approx(65.0)
    assert {i for (_, i, _) in second} == {"0", "1", "_Total"}


def test_memory_counters(tree: Path) -> None:
    first, second = sample_twice(tree, ["Memory(*)\\*"])
    assert first[("Memory", "Memory", "Available MBytes Memory")] == pytest.approx(4000.0)
    assert first[("Memory", "Memory", "% Available Memory")] == pytest.approx(50.0)
    assert first[("Memory", "Memory", "Used Memory MBytes")] == pytest.approx(4000.0)
    assert first[("Memory", "Memory", "% Used Swap Space")] == pytest.approx(50.0)
    assert first[("Memory", "Memory", "Available MBytes Swap")] == pytest.approx(1024.0)
    assert ("Memory", "Memory", "Pages/sec") not in first
    assert second[("Memory", "Memory", "Page Reads/sec")] == pytest.approx(50.0)
    assert second[("Memory", "Memory", "Page Writes/sec")] == pytest.approx(10.0)
    assert second[("Memory", "Memory", "Pages/sec")] == pytest.approx(60.0)


def test_logical_disk_space_and_rates(tree: Path) -> None:
    first, second = sample_twice(tree, ["Logical Disk(*)\\*"])
    instances = {i for (_, i, _) in second}
    assert instances == {"/", "/data", "/mnt/my disk", "/srv/bind", "_Total"}, (
        "pseudo file systems are not disks"
    )
    assert first[("Logical Disk", "/", "% Free Space")] == pytest.approx(100 * 250_000 / 950_000)
    assert first[("Logical Disk", "/", "Free Megabytes")] == pytest.approx(250_000 * 4096 / 2**20)
    assert first[("Logical Disk", "/data", "% Used Inodes")] == pytest.approx(50.0)
    assert ("Logical Disk", "/", "Disk Reads/sec") not in first
    assert second[("Logical Disk", "/", "Disk Reads/sec")] == pytest.approx(10.0)
    assert second[("Logical Disk", "/", "Disk Write Bytes/sec")] == pytest.approx(4000 * 512 / 10)
    assert second[("Logical Disk", "/", "Disk Bytes/sec")] == pytest.approx(6000 * 512 / 10)
    # /dev/mapper/vg-data is dm-0 (found through /sys/block/dm-0/dm/name)
    assert second[("Logical Disk", "/data", "Disk Reads/sec")] == pytest.approx(5.0)
    # vdb's counters went backwards: no rate at all rather than a negative one
    assert ("Logical Disk", "/mnt/my disk", "Disk Reads/sec") not in second
    assert all(v >= 0 for v in second.values())
    # _Total counts vda1 once although it is mounted twice, and skips the reset device
    assert second[("Logical Disk", "_Total", "Disk Reads/sec")] == pytest.approx(15.0)
    used = (1_000_000 - 300_000) * 4096 + (2_000_000 - 1_000_000) * 4096
    avail = 250_000 * 4096 + 1_000_000 * 4096 + 100 * 1024
    assert second[("Logical Disk", "_Total", "% Used Space")] == pytest.approx(100 * used / (used + avail))


def test_network_totals_without_loopback(tree: Path) -> None:
    _, second = sample_twice(tree, ["Network(*)\\*"])
    assert {i for (_, i, _) in second} == {"eth0"}
    assert second[("Network", "eth0", "Total Bytes Received")] == 1_100_000
    assert second[("Network", "eth0", "Total Bytes Transmitted")] == 550_000
    assert second[("Network", "eth0", "Total Bytes")] == 1_650_000
    assert second[("Network", "eth0", "Total Packets Received")] == 2100
    assert second[("Network", "eth0", "Total Rx Errors")] == 3
    assert second[("Network", "eth0", "Total Collisions")] == 2


def test_system_counters(tree: Path) -> None:
    first, _ = sample_twice(tree, ["System(*)\\*"])
    inst = "Fake Linux 1.0 (x86_64)"
    assert first[("System", inst, "Processes")] == 3
    assert first[("System", inst, "Users")] == 2
    assert first[("System", inst, "Uptime")] == 12345
    assert first[("System", inst, "Free Physical Memory")] == 2_048_000
    assert first[("System", inst, "Size Stored In Paging Files")] == 2_097_152


def test_process_grouped_by_name(tree: Path) -> None:
    first, second = sample_twice(tree, ["Process(*)\\*"])
    assert first[("Process", "systemd", "Used Memory")] == 3000 * 4
    assert ("Process", "systemd", "Pct User Time") not in first
    assert second[("Process", "systemd", "Pct User Time")] == pytest.approx(5.0)
    assert second[("Process", "systemd", "Pct Privileged Time")] == pytest.approx(1.0)
    # a name with ") " inside the parentheses, two pids summed
    assert second[("Process", "my app) worker", "Pct User Time")] == pytest.approx(20.0)
    assert second[("Process", "my app) worker", "Pct Privileged Time")] == pytest.approx(7.0)
    assert second[("Process", "my app) worker", "Used Memory")] == (20000 + 10000) * 4


def test_counter_selection_by_instance_and_name(tree: Path) -> None:
    _, second = sample_twice(tree, ["Processor(_Total)\\% Processor Time", "Memory(*)\\% Used Memory"])
    assert set(second) == {("Processor", "_Total", "% Processor Time"), ("Memory", "Memory", "% Used Memory")}


def test_counter_that_resets_between_samples_yields_no_negative_rate(tree: Path) -> None:
    clock = Clock()
    col = Collector(make_fs(tree), [parse_spec("Processor(*)\\*"), parse_spec("Memory(*)\\*")], clock)
    advance(tree)
    col.collect()
    shutil.copytree(FIXTURE / "base", tree, dirs_exist_ok=True)  # counters go back in time
    clock.now += 10
    values = col.collect()
    assert not [s for s in values if s.object == "Processor"]
    assert not [s for s in values if s.counter.endswith("/sec")]


def test_missing_files_are_counted_not_raised(tmp_path: Path) -> None:
    fs = ProcFS(tmp_path / "nope", tmp_path / "nosys", statvfs=fake_statvfs, utmp_path=tmp_path / "u")
    col = Collector(fs, [parse_spec(f"{o}(*)\\*") for o in OBJECTS])
    assert col.collect() == [] or all(s.value >= 0 for s in col.collect())
    assert fs.errors.get("stat", 0) >= 1


@pytest.mark.parametrize(
    ("bad", "message"),
    [
        ({"interval": "soon"}, "not a duration"),
        ({"interval": "10ms"}, "shorter than 100ms"),
        ({"counters": ["Processor\\% Magic Time"]}, "no counter '% Magic Time'"),
        ({"counters": ["Toaster(*)\\Heat"]}, "unknown object 'Toaster'"),
        ({"counters": ["just text"]}, "Object(Instance)\\Counter"),
        ({"counters": "Processor(*)\\*"}, "list of strings"),
    ],
)
def test_bad_config_is_a_clear_error(bad: dict[str, Any], message: str) -> None:
    with pytest.raises(PerfConfigError, match=re.escape(message)):
        PerfConfig.from_mapping(bad)


def test_source_emits_perf_rows_with_azure_columns(tree: Path, tmp_path: Path) -> None:
    ctx = SourceContext(tmp_path / "state", "web01")
    clock = Clock()
    cfg = PerfConfig.from_mapping({"interval": "10s", "counters": ["Processor(*)\\*", "Memory(*)\\*"]})
    src = PerfSource(cfg, ctx, fs=make_fs(tree), clock=clock)
    emitted: list[tuple[str, list[Record]]] = []

    async def emit(table: str, records: list[Record], commit: Any = None) -> None:
        assert commit is None
        emitted.append((table, records))

    async def two_cycles() -> None:
        await src.collect_once(emit)
        advance(tree)
        clock.now += 10
        await src.collect_once(emit)

    asyncio.run(two_cycles())
    assert [t for t, _ in emitted] == ["Perf", "Perf"]
    rows = emitted[1][1]
    perf_columns = {c for c, _ in standard_tables()["Perf"]}
    assert all(set(r) <= perf_columns for r in rows)
    cpu = next(r for r in rows if r["InstanceName"] == "_Total" and r["CounterName"] == "% Processor Time")
    assert cpu["CounterPath"] == "\\\\web01\\Processor(_Total)\\% Processor Time"
    assert cpu["Computer"] == "web01" and cpu["ObjectName"] == "Processor"
    assert cpu["TimeGenerated"].endswith("Z")
    assert len({r["TimeGenerated"] for r in rows}) == 1
    assert src.status()["cycles"] == 2


def test_registry_builds_perf_and_runs_on_this_machine(tmp_path: Path) -> None:
    src = factory("perf")({"interval": "0.2s"}, SourceContext(tmp_path, "here"))
    rows: list[Record] = []

    async def emit(table: str, records: list[Record], commit: Any = None) -> None:
        rows.extend(records)

    async def run_briefly() -> None:
        task = asyncio.create_task(src.run(emit))
        for _ in range(100):
            await asyncio.sleep(0.05)
            if any(r["ObjectName"] == "Processor" for r in rows):
                break
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    asyncio.run(run_briefly())
    cpu = [r for r in rows if r["CounterName"] == "% Processor Time"]
    assert cpu, "the second cycle has CPU percentages"
    assert all(0.0 <= r["CounterValue"] <= 100.0 for r in cpu)
    avail = [r["CounterValue"] for r in rows if r["CounterName"] == "Available MBytes Memory"]
    assert avail and all(v > 0 for v in avail)
