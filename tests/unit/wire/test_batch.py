"""The agent path's batch envelope: constant columns travel once and arrive as full columns."""

from __future__ import annotations

import pytest

from calypso.wire import batch
from calypso.wire.batch import Batch


def test_constant_columns_round_trip_as_full_columns() -> None:
    sent = Batch("MyApp_CL", {"RawData": ["a", "b", "c"]}, 3, consts={"FilePath": "/var/log/app.log"})
    (got,) = batch.decode(batch.encode([sent]))
    assert got.batch_id == sent.batch_id and got.count == 3
    assert got.columns == {"RawData": ["a", "b", "c"], "FilePath": ["/var/log/app.log"] * 3}
    assert got.records()[1] == {"RawData": "b", "FilePath": "/var/log/app.log"}


def test_defaults_fill_only_missing_columns() -> None:
    b = Batch("T", {"Computer": ["x"]}, 1, consts={"TimeGenerated": "2024-01-01T00:00:00Z"})
    filled = b.with_defaults({"Computer": "agent-host", "TimeGenerated": "now", "SourceSystem": "Linux"})
    assert filled.expanded() == {
        "Computer": ["x"],
        "TimeGenerated": ["2024-01-01T00:00:00Z"],
        "SourceSystem": ["Linux"],
    }


def test_a_column_given_twice_is_refused() -> None:
    doc = Batch("T", {"A": [1, 2]}, 2).to_json() | {"consts": {"A": 3}}
    with pytest.raises(ValueError, match="repeats column 'A'"):
        Batch.from_json(doc)
    with pytest.raises(ValueError, match="consts must be an object"):
        Batch.from_json(Batch("T", {"A": [1]}, 1).to_json() | {"consts": [1]})
