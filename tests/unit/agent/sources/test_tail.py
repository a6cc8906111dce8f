"""Tail source on real files: globs, rotation, truncation, restarts, multi-line, encodings, bad bytes."""

from __future__ import annotations

import asyncio
import os
import shutil
from pathlib import Path
from typing import Any

import pytest

from calypso.agent.config import ConfigError
from calypso.agent.sources import factory
from calypso.agent.sources.base import Commit, Record, Records, SourceContext, TwoPhaseCommit
from calypso.agent.sources.tail import TailSource, parse_config
from calypso.wire.batch import Batch


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


class Sink:
    """A stand-in for the runtime: keeps records, calls commit unless told to 'crash' first."""

    def __init__(self) -> None:
        self.batches: list[tuple[str, list[Record]]] = []
        self.commit_enabled = True

    async def __call__(self, table: str, records: Records, commit: Commit | None = None) -> None:
        self.batches.append((table, records.records() if isinstance(records, Batch) else records))
        if commit is not None and self.commit_enabled:
            commit()

    @property
    def lines(self) -> list[str]:
        return [r["RawData"] for _, rs in self.batches for r in rs]


def make(tmp_path: Path, clock: Clock | None = None, **cfg: Any) -> TailSource:
    raw = {"name": "MyApp", "paths": [str(tmp_path / "logs" / "*.log")], **cfg}
    return TailSource(parse_config(raw), SourceContext(tmp_path / "state", "host1"), clock=clock or Clock())


def poll(src: TailSource, sink: Sink, times: int = 3) -> None:
    async def go() -> None:
        for _ in range(times):
            while await src.poll_once(sink):
                pass

    asyncio.run(go())


def write(path: Path, text: str | bytes, mode: str = "a") -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    data = text.encode() if isinstance(text, str) else text
    with open(path, mode + "b") as f:
        f.write(data)


@pytest.fixture
def logs(tmp_path: Path) -> Path:
    d = tmp_path / "logs"
    d.mkdir()
    return d


def test_columns_table_and_start_at_beginning(tmp_path: Path, logs: Path) -> None:
    write(logs / "a.log", "one\ntwo\r\nthree\n")
    sink = Sink()
    poll(make(tmp_path, start_at="beginning"), sink)
    assert sink.lines == ["one", "two", "three"]
    table, recs = sink.batches[0]
    assert table == "MyApp_CL"
    assert recs[0]["FilePath"] == str(logs / "a.log")
    assert recs[0]["Computer"] == "host1"
    assert recs[0]["TimeGenerated"].endswith("Z")


def test_default_skips_history_of_existing_files_but_reads_new_files_whole(
    tmp_path: Path, logs: Path
) -> None:
    write(logs / "old.log", "history\n")
    src, sink = make(tmp_path), Sink()
    poll(src, sink)
    assert sink.lines == []
    write(logs / "old.log", "fresh\n")
    write(logs / "new.log", "first\nsecond\n")
    poll(src, sink)
    assert sorted(sink.lines) == ["first", "fresh", "second"]


def test_partial_line_waits_for_its_newline(tmp_path: Path, logs: Path) -> None:
    src, sink = make(tmp_path, start_at="beginning"), Sink()
    write(logs / "a.log", "hel")
    poll(src, sink)
    assert sink.lines == []
    write(logs / "a.log", "lo\n")
    poll(src, sink)
    assert sink.lines == ["hello"]


def test_rotation_by_rename_reads_old_file_to_end_before_new(tmp_path: Path, logs: Path) -> None:
    clock = Clock()
    src, sink = make(tmp_path, clock, start_at="beginning", rotate_wait="5s"), Sink()
    write(logs / "app.log", "a1\na2\n")
    poll(src, sink)
    with open(logs / "app.log", "ab") as still_open:  # the writer still holds the old file
        os.rename(logs / "app.log", logs / "app.log.1")  # .1 is outside the glob
        write(logs / "app.log", "b1\n")
        still_open.write(b"a3\n")
        still_open.flush()
        poll(src, sink)
        still_open.write(b"a4\n")
    write(logs / "app.log", "b2\n")
    clock.now += 10  # rotate_wait over: the old file is drained and closed
    poll(src, sink)
    # within each pass the rotated file is read first; a4 was written after b1 was read
    assert sink.lines == ["a1", "a2", "a3", "b1", "a4", "b2"]
    assert len(src.tailer.files) == 1
    assert src.status()["closed"] == 1


def test_rename_within_glob_keeps_offset(tmp_path: Path, logs: Path) -> None:
    src, sink = make(tmp_path, start_at="beginning"), Sink()
    write(logs / "x.log", "1\n2\n")
    poll(src, sink)
    os.rename(logs / "x.log", logs / "y.log")
    write(logs / "y.log", "3\n")
    poll(src, sink)
    assert sink.lines == ["1", "2", "3"]
    assert src.status()["renamed"] == 1


def test_copy_truncate_restarts_at_zero_and_skips_nuls(tmp_path: Path, logs: Path) -> None:
    src, sink = make(tmp_path, start_at="beginning"), Sink()
    write(logs / "app.log", "one\ntwo\n")
    poll(src, sink)
    shutil.copy(logs / "app.log", tmp_path / "app.log.1")
    os.truncate(logs / "app.log", 0)
    poll(src, sink)
    write(logs / "app.log", "three\n")
    poll(src, sink)
    assert sink.lines == ["one", "two", "three"]
    assert src.status()["truncated"] == 1
    # a writer without O_APPEND continues at its old offset: the hole reads as NUL bytes
    with open(logs / "app.log", "r+b") as f:
        f.seek(20)
        f.write(b"four\n")
    poll(src, sink)
    assert sink.lines[-1] == "four"
    assert src.status()["nul_bytes_removed"] == 20 - len("three\n")


def test_deleted_file_is_drained_then_closed(tmp_path: Path, logs: Path) -> None:
    clock = Clock()
    src, sink = make(tmp_path, clock, start_at="beginning"), Sink()
    write(logs / "d.log", "x\n")
    poll(src, sink)
    with open(logs / "d.log", "ab") as f:
        f.write(b"y\nlast without newline")
        os.unlink(logs / "d.log")
    poll(src, sink)
    clock.now += 60
    poll(src, sink)
    assert sink.lines == ["x", "y", "last without newline"]
    assert src.tailer.files == {}


def test_restart_loses_and_duplicates_nothing(tmp_path: Path, logs: Path) -> None:
    first = [f"line {i}" for i in range(2500)]
    write(logs / "app.log", "".join(f"{x}\n" for x in first))
    src, sink = make(tmp_path, start_at="beginning"), Sink()
    poll(src, sink)
    asyncio.run(_cancel(src))
    write(logs / "app.log", "after 1\nafter 2\n")
    write(logs / "other.log", "appeared while down\n")
    src2, sink2 = make(tmp_path, start_at="beginning"), Sink()
    poll(src2, sink2)
    assert sink.lines == first
    assert sorted(sink2.lines) == ["after 1", "after 2", "appeared while down"]


def test_uncommitted_batch_is_read_again_after_restart(tmp_path: Path, logs: Path) -> None:
    write(logs / "app.log", "a\nb\n")
    src, sink = make(tmp_path, start_at="beginning"), Sink()
    poll(src, sink)
    sink.commit_enabled = False  # the runtime 'dies' before the buffer has the next batch
    write(logs / "app.log", "c\nd\n")
    poll(src, sink)
    src2, sink2 = make(tmp_path, start_at="beginning"), Sink()
    poll(src2, sink2)
    assert sink2.lines == ["c", "d"]


def test_replaced_file_with_reused_inode_starts_over(tmp_path: Path, logs: Path) -> None:
    write(logs / "app.log", "old content that is long enough\n" * 3)
    src, sink = make(tmp_path, start_at="beginning"), Sink()
    poll(src, sink)
    asyncio.run(_cancel(src))
    write(logs / "app.log", "brand new\n", mode="w")  # same inode, other content, shorter
    src2, sink2 = make(tmp_path, start_at="beginning"), Sink()
    poll(src2, sink2)
    assert sink2.lines == ["brand new"]


def test_corrupt_checkpoint_is_set_aside(tmp_path: Path, logs: Path) -> None:
    (tmp_path / "state").mkdir()
    (tmp_path / "state" / "tail-MyApp.checkpoint.json").write_text("{not json")
    write(logs / "a.log", "x\n")
    src, sink = make(tmp_path, start_at="beginning"), Sink()
    poll(src, sink)
    assert sink.lines == ["x"]
    assert src.status()["checkpoint_corrupt"] == 1
    assert (tmp_path / "state" / "tail-MyApp.checkpoint.corrupt").exists()


def test_multiline_by_start_pattern_and_idle_flush(tmp_path: Path, logs: Path) -> None:
    clock = Clock()
    src, sink = make(tmp_path, clock, start_at="beginning", multiline={"start_pattern": r"^\d{4}-"}), Sink()
    write(logs / "j.log", "2024-01-01 boom\n  at a()\n  at b()\n2024-01-01 next\n")
    poll(src, sink)
    assert sink.lines == ["2024-01-01 boom\n  at a()\n  at b()"]
    clock.now += 5
    poll(src, sink)
    assert sink.lines[-1] == "2024-01-01 next"


def test_multiline_pending_record_is_reread_after_restart(tmp_path: Path, logs: Path) -> None:
    write(logs / "j.log", "May  1 12:00:00 start\ncont\nMay  1 12:00:01 second\ncont2\n")
    src, sink = make(tmp_path, start_at="beginning", multiline={"timestamp": True}), Sink()
    poll(src, sink)
    asyncio.run(_cancel(src))
    src2, sink2 = make(tmp_path, start_at="beginning", multiline={"timestamp": True}), Sink()
    write(logs / "j.log", "May  1 12:00:02 third\n")
    poll(src2, sink2)
    assert sink.lines == ["May  1 12:00:00 start\ncont"]
    assert sink2.lines == ["May  1 12:00:01 second\ncont2"]


def test_utf16_with_bom_and_utf8_bom(tmp_path: Path, logs: Path) -> None:
    write(logs / "w.log", "\ufeffprimera línea\nzweite Zeile ü\n".encode("utf-16-le"))
    write(logs / "u.log", "\ufeffcafé\n".encode())
    src, sink = make(tmp_path, start_at="beginning"), Sink()
    poll(src, sink)
    write(logs / "w.log", "三行目\n".encode("utf-16-le"))
    poll(src, sink)
    assert sorted(sink.lines) == sorted(["primera línea", "zweite Zeile ü", "café", "三行目"])


def test_utf16_newline_on_code_unit_boundary_only(tmp_path: Path, logs: Path) -> None:
    # U+0A00 encodes as b"\x00\x0a" in LE: its bytes contain "\n\0" straddling two code units
    write(logs / "w.log", "\ufeffx\u0a00\u0a00y\n".encode("utf-16-le"))
    src, sink = make(tmp_path, start_at="beginning"), Sink()
    poll(src, sink)
    assert sink.lines == ["x\u0a00\u0a00y"]


def test_invalid_bytes_replaced_and_long_lines_cut(tmp_path: Path, logs: Path) -> None:
    write(logs / "b.log", b"ok\n\xff\xfe\xc3bad\n" + b"L" * 5000 + b"\n" + b"M" * 9000 + b"\nafter\n")
    src, sink = make(tmp_path, start_at="beginning", max_line_bytes=1024), Sink()
    poll(src, sink)
    assert sink.lines[0] == "ok"
    assert sink.lines[1].endswith("bad") and "\ufffd" in sink.lines[1]
    assert sink.lines[2] == "L" * 1024
    assert sink.lines[3] == "M" * 1024
    assert sink.lines[4] == "after"
    st = src.status()
    assert st["lines_truncated"] == 2 and st["lines_invalid_encoding"] == 1


def test_overlong_line_arriving_in_pieces_uses_bounded_memory(tmp_path: Path, logs: Path) -> None:
    src, sink = make(tmp_path, start_at="beginning", max_line_bytes=64), Sink()
    for _ in range(50):
        write(logs / "big.log", b"z" * 100)
        poll(src, sink, times=1)
        assert src.tailer.files and all(f.splitter.pending_bytes <= 64 for f in src.tailer.files.values())
    write(logs / "big.log", b"\nnext\n")
    poll(src, sink)
    assert sink.lines == ["z" * 64, "next"]


def test_exclude_and_files_appearing_later_in_new_dirs(tmp_path: Path, logs: Path) -> None:
    raw = {"name": "Web_CL", "paths": [str(tmp_path / "logs" / "**" / "*.log")], "exclude": ["*debug*"]}
    src = TailSource(parse_config(raw), SourceContext(tmp_path / "state", "h"), clock=Clock())
    sink = Sink()
    poll(src, sink)
    write(logs / "sub" / "deep" / "x.log", "deep\n")
    write(logs / "debug.log", "noisy\n")
    poll(src, sink)
    assert sink.lines == ["deep"]
    assert sink.batches[0][0] == "Web_CL"


def test_batches_are_bounded(tmp_path: Path, logs: Path) -> None:
    write(logs / "big.log", "".join(f"{i}\n" for i in range(5000)))
    src, sink = make(tmp_path, start_at="beginning"), Sink()
    poll(src, sink)
    assert len(sink.lines) == 5000
    assert max(len(rs) for _, rs in sink.batches) <= 1000


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ({"paths": ["/x"]}, "name"),
        ({"name": "A"}, "paths"),
        ({"name": "A", "paths": ["/x"], "start_at": "middle"}, "start_at"),
        ({"name": "A", "paths": ["/x"], "encoding": "latin-9"}, "encoding"),
        ({"name": "A", "paths": ["/x"], "multiline": {"start_pattern": "("}}, "invalid regex"),
        ({"name": "A", "paths": ["/x"], "colour": "red"}, "unknown key"),
    ],
)
def test_bad_config_is_a_clear_error(raw: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        parse_config(raw)


def test_run_via_registry_until_cancelled(tmp_path: Path, logs: Path) -> None:
    src = factory("tail")(
        {"name": "Reg", "paths": [str(logs / "*.log")], "poll_interval": "50ms"},
        SourceContext(tmp_path / "s", "h"),
    )
    sink = Sink()

    async def go() -> None:
        task = asyncio.create_task(src.run(sink))
        await asyncio.sleep(0.1)
        write(logs / "late.log", "hello\n")
        for _ in range(100):
            await asyncio.sleep(0.02)
            if sink.lines:
                break
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    asyncio.run(go())
    assert sink.lines == ["hello"]
    assert (tmp_path / "s" / "tail-Reg.checkpoint.json").exists()


async def _cancel(src: TailSource) -> None:
    async def idle(table: str, records: list[Record], commit: Commit | None = None) -> None:
        if commit:
            commit()

    task = asyncio.create_task(src.run(idle))
    await asyncio.sleep(0.05)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task


class KilledAroundTheWrite(Sink):
    """The runtime's two phases, then a kill: after `prepare`, before or after the buffer write."""

    def __init__(self) -> None:
        super().__init__()
        self.tickets: list[list[int]] = []

    async def __call__(self, table: str, records: Records, commit: Commit | None = None) -> None:
        assert isinstance(commit, TwoPhaseCommit), "tail must prepare its checkpoint before the write"
        ticket = [1, len(self.tickets) + 1]
        commit.prepare(ticket)
        self.tickets.append(ticket)
        rows = records.records() if isinstance(records, Batch) else records
        self.batches.append((table, rows))  # ... and the process dies before `commit()`


@pytest.mark.parametrize("write_happened", [True, False])
def test_kill_between_prepare_and_commit_neither_repeats_nor_loses(
    tmp_path: Path, logs: Path, write_happened: bool
) -> None:
    write(logs / "a.log", "one\ntwo\n")
    first = Sink()
    poll(make(tmp_path, start_at="beginning"), first)
    write(logs / "a.log", "three\n")
    killed = KilledAroundTheWrite()
    poll(make(tmp_path, start_at="beginning"), killed, times=1)
    assert killed.lines == ["three"] and killed.tickets

    def restart() -> TailSource:
        cfg = parse_config({"name": "MyApp", "paths": [str(logs / "*.log")], "start_at": "beginning"})
        ctx = SourceContext(
            tmp_path / "state", "host1", written=lambda t: write_happened and t in killed.tickets
        )
        return TailSource(cfg, ctx, clock=Clock())

    after = Sink()
    poll(restart(), after)
    assert after.lines == ([] if write_happened else ["three"])
    again = Sink()  # the resolution was saved: a second restart asks nothing and repeats nothing
    poll(restart(), again)
    assert again.lines == []
