from __future__ import annotations

import datetime as dt

import pytest

from calypso.workspace.timespan import parse_duration, parse_timespan

NOW = dt.datetime(2026, 1, 1, 12, 0, tzinfo=dt.UTC)


@pytest.mark.parametrize(
    ("text", "delta"),
    [
        ("PT1H", dt.timedelta(hours=1)),
        ("P1D", dt.timedelta(days=1)),
        ("P1DT2H30M", dt.timedelta(days=1, hours=2.5)),
        ("PT3600.0S", dt.timedelta(hours=1)),
        ("P2W", dt.timedelta(weeks=2)),
    ],
)
def test_durations(text: str, delta: dt.timedelta) -> None:
    assert parse_duration(text) == delta


def test_duration_ends_now() -> None:
    assert parse_timespan("PT1H", NOW) == (NOW - dt.timedelta(hours=1), NOW)


def test_intervals() -> None:
    start = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
    end = dt.datetime(2026, 1, 2, tzinfo=dt.UTC)
    assert parse_timespan("2026-01-01T00:00:00Z/2026-01-02T00:00:00Z") == (start, end)
    assert parse_timespan("2026-01-01T00:00:00Z/P1D") == (start, end)
    assert parse_timespan("P1D/2026-01-02T00:00:00Z") == (start, end)


@pytest.mark.parametrize("text", ["", "P", "PT", "1H", "yesterday", "2026-01-02/2026-01-01"])
def test_bad(text: str) -> None:
    with pytest.raises(ValueError):
        parse_timespan(text, NOW)
