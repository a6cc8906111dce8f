"""The tailer's joined read (plain lines as one string per file) against its line-by-line read.

Both read the same real files through the same appends; whatever the bytes and the batch size, the
joined read must hand out the same lines, from the same files, in the same batches, and leave the
same checkpoint offsets.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from calypso.agent.sources.tail.checkpoint import Checkpoints
from calypso.agent.sources.tail.config import parse_config
from calypso.agent.sources.tail.watcher import Tailer

PIECES = st.one_of(
    st.text(alphabet="abc xyz\n", max_size=60).map(str.encode),
    st.binary(max_size=20),
    st.sampled_from([b"\n", b"\r\n", b"\x00", "é\n".encode(), b"\xff\n", b"a" * 70 + b"\n", b"\n\n\n"]),
)


def tailer(root: Path, name: str, max_line: int) -> Tailer:
    config = parse_config(
        {
            "name": "T",
            "paths": [str(root / "logs" / "*.log")],
            "start_at": "beginning",
            "max_line_bytes": max_line,
        }
    )
    return Tailer(config, Checkpoints(root / f"{name}.checkpoint.json"))


def offsets(t: Tailer) -> list[tuple[str, int]]:
    return sorted((e.path, e.offset) for e in t.entries())


def drain_lines(t: Tailer, batch: int) -> list[list[tuple[str, str]]]:
    t.scan()
    batches = []
    while True:
        lines, more = t.read(batch, 1 << 30)
        if lines:
            batches.append([(path, text) for path, text, _ in lines])
        if not more:
            return batches


def drain_joined(t: Tailer, batch: int) -> list[list[tuple[str, str]]]:
    t.scan()
    batches = []
    while True:
        runs, more = t.read_joined(batch, 1 << 30)
        if runs:
            assert all(run.count == len(run.text.split("\n")) for run in runs)
            batches.append([(run.path, text) for run in runs for text in run.text.split("\n")])
        if not more:
            return batches


@settings(max_examples=150, deadline=None)
@given(
    st.lists(st.tuples(st.sampled_from(["a.log", "b.log"]), st.lists(PIECES, max_size=8)), max_size=6),
    st.integers(min_value=1, max_value=12),
    st.sampled_from([16, 64, 4096]),
)
def test_joined_reads_hand_out_the_same_lines_batches_and_offsets(
    appends: list[tuple[str, list[bytes]]], batch: int, max_line: int
) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        (root / "logs").mkdir()
        by_lines, joined = tailer(root, "lines", max_line), tailer(root, "joined", max_line)
        for name, pieces in appends:
            with open(root / "logs" / name, "ab") as f:
                f.write(b"".join(pieces))
            assert drain_joined(joined, batch) == drain_lines(by_lines, batch)
            assert offsets(joined) == offsets(by_lines)
        assert joined.line_counters == by_lines.line_counters
        by_lines.close()
        joined.close()


def test_utf16_files_are_joined_too(tmp_path: Path) -> None:
    (tmp_path / "logs").mkdir()
    lines = ["première", "", "second ✓"] * 400
    (tmp_path / "logs" / "w.log").write_bytes(
        b"\xff\xfe" + "".join(f"{x}\r\n" for x in lines).encode("utf-16-le")
    )
    t = tailer(tmp_path, "j", 4096)
    got = [text for batch in drain_joined(t, 500) for _, text in batch]
    assert got == lines
