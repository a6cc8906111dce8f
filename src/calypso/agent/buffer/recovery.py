"""Opening a buffer directory: find segments, cut torn tails, pick the next sequence number.

Invariant: after :func:`recover` the directory holds sealed segments named ``<first>-<last>.seg``
in increasing order and exactly one active segment (the last, open for appending) whose content
ends with a complete, checksummed entry. Bytes after the last valid entry of the last segment are a
torn write and are truncated (counted in ``truncated_bytes``); a damaged segment elsewhere is kept,
marked corrupt from the damage on, and counted. Nothing here deletes an entry that might be valid.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from pathlib import Path

from calypso.agent.buffer import segment as segfile
from calypso.agent.buffer.format import (
    SEGMENT_HEADER_SIZE,
    FormatError,
    parse_segment_header,
    parse_segment_name,
)
from calypso.agent.buffer.segment import Segment
from calypso.agent.buffer.state import (
    READERS_FILE,
    Cursor,
    Meta,
    StateError,
    load_meta,
    load_readers,
    remove_temporaries,
)

log = logging.getLogger(__name__)
KEPT_RUNS = 32  # runs remembered for DiskBuffer.holds: plenty for a source to start in one of them


@dataclass(frozen=True)
class Recovered:
    segments: list[Segment]
    cursors: dict[str, Cursor]
    next_seq: int
    corrupt_segments: int
    truncated_bytes: int
    # Earlier runs, newest first: (epoch = its first seq, the last seq it wrote); see DiskBuffer.holds.
    runs: tuple[tuple[int, int], ...] = ()


def recover(directory: Path, *, segment_bytes: int, durable: bool) -> Recovered:
    remove_temporaries(directory)
    meta = _load_meta(directory)
    cursors = _load_cursors(directory)
    names = sorted(
        (parsed, entry.name)
        for entry in os.scandir(directory)
        if (parsed := parse_segment_name(entry.name)) is not None
    )
    segments: list[Segment] = []
    corrupt = 0
    truncated = 0
    for i, ((first, last), name) in enumerate(names):
        path = directory / name
        is_last = i == len(names) - 1
        if last is not None and not is_last:
            seg = Segment(directory, first, last, path.stat().st_size, sealed=True)
            if not _header_ok(path, first):
                corrupt += 1
                seg.corrupt_at, seg.lost_from = 0, first
                log.error("segment=%s Corrupt buffer segment header, skipping the segment.", name)
            segments.append(seg)
            continue
        found = segfile.scan(path, first)
        if found.valid_end == 0:
            # The header itself is damaged: a crash while creating the file, or real damage.
            if found.file_size > SEGMENT_HEADER_SIZE:
                corrupt += 1
                aside = path.with_name(name + ".corrupt")
                os.replace(path, aside)
                log.error("segment=%s Corrupt buffer segment header, moved aside.", aside.name)
            else:
                path.unlink()
            continue
        if is_last:
            if found.error is not None:
                cut = found.file_size - found.valid_end
                truncated += cut
                segfile.truncate(path, found.valid_end, durable=durable)
                log.warning(
                    "segment=%s offset=%d bytes=%d reason=%r Torn tail of buffer truncated.",
                    name,
                    found.valid_end,
                    cut,
                    found.error,
                )
            seg = Segment(directory, first, found.last, found.valid_end, sealed=last is not None)
            if last is not None and last != found.last:
                os.replace(path, seg.path)
            segments.append(seg)
            continue
        # An open-named segment that is not the last: the crash came between starting the next
        # segment and renaming this one.
        seg = Segment(directory, first, found.last, found.file_size, sealed=False)
        if found.error is not None:
            corrupt += 1
            seg.corrupt_at = found.valid_end
            log.error(
                "segment=%s offset=%d reason=%r Corrupt buffer segment, skipping the rest of it.",
                name,
                found.valid_end,
                found.error,
            )
        if seg.count == 0:
            if seg.corrupt_at is None:
                path.unlink()
            else:
                os.replace(path, path.with_name(name + ".corrupt"))
            continue
        seg.sealed = True
        os.replace(path, seg.path)
        segments.append(seg)

    next_seq = _next_seq(segments, cursors, meta)
    written_through = max(
        max((s.last for s in segments if s.count > 0), default=0),
        max((c.acked for c in cursors.values()), default=0),
    )
    active = segments[-1] if segments else None
    if active is not None and active.last + 1 == next_seq and active.size < segment_bytes:
        if active.sealed:
            old = active.path
            active.sealed = False
            os.replace(old, active.path)
        segfile.open_active(active)
    else:
        if active is not None and not active.sealed:
            segfile.seal(active, durable=durable)
            if active.count == 0:
                segments.pop()
        segments.append(segfile.create(directory, next_seq, durable=durable))
    runs: tuple[tuple[int, int], ...] = ()
    if meta is not None:
        runs = meta.runs[: KEPT_RUNS - 1]
        if meta.opened_at:
            runs = ((meta.opened_at, written_through), *runs)
    return Recovered(segments, cursors, next_seq, corrupt, truncated, runs)


def _next_seq(segments: list[Segment], cursors: dict[str, Cursor], meta: Meta | None) -> int:
    derived = segments[-1].last + 1 if segments else 1
    acked = max((c.acked for c in cursors.values()), default=0)
    next_seq = max(derived, acked + 1, 1)
    if meta is not None and (not meta.clean or not segments):
        if not meta.clean and meta.seq_reserved > next_seq:
            log.info(
                "next_seq=%d Buffer was not closed cleanly, skipping reserved numbers.", meta.seq_reserved
            )
        next_seq = max(next_seq, meta.seq_reserved)
    return next_seq


def _header_ok(path: Path, first: int) -> bool:
    try:
        with path.open("rb") as f:
            return parse_segment_header(f.read(SEGMENT_HEADER_SIZE)) == first
    except (FormatError, OSError):
        return False


def _load_meta(directory: Path) -> Meta | None:
    try:
        return load_meta(directory)
    except StateError as exc:
        log.error("error=%r Buffer meta file unreadable, treating the last stop as unclean.", str(exc))
        return Meta(seq_reserved=0, clean=False)


def _load_cursors(directory: Path) -> dict[str, Cursor]:
    try:
        return load_readers(directory)
    except StateError as exc:
        aside = directory / (READERS_FILE + ".bad")
        os.replace(directory / READERS_FILE, aside)
        log.error(
            "error=%r moved_to=%s Buffer reader cursors unreadable; readers restart from the oldest entry.",
            str(exc),
            aside.name,
        )
        return {}
