"""The agent path's batch envelope: constant columns travel once, string columns joined, and both
arrive as full columns."""

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


def test_string_columns_travel_joined_and_arrive_as_lists() -> None:
    sent = Batch(
        "Syslog",
        {"SyslogMessage": ["up", "", "ünïcode"], "ProcessID": [1, 2, 3], "HostName": ["a", None, "c"]},
        3,
    )
    doc = sent.to_json()
    assert doc["joined"] == {"SyslogMessage": "up\n\nünïcode"}
    assert doc["columns"] == {"ProcessID": [1, 2, 3], "HostName": ["a", None, "c"]}  # numbers, a null
    (got,) = batch.decode(batch.encode([sent]))
    assert got.records() == sent.records()


def test_a_string_with_a_newline_keeps_its_column_a_list() -> None:
    sent = Batch("MyApp_CL", {"RawData": ["one\ntwo", "three"]}, 2)
    assert "joined" not in sent.to_json()
    (got,) = batch.decode(batch.encode([sent]))
    assert got.columns["RawData"] == ["one\ntwo", "three"]


def test_joined_columns_that_do_not_fit_the_batch_are_refused() -> None:
    doc = Batch("T", {"A": ["x", "y"]}, 2).to_json()
    with pytest.raises(ValueError, match="holds 3 lines for 2 rows"):
        Batch.from_json(doc | {"joined": {"A": "x\ny\nz"}})
    with pytest.raises(ValueError, match="joined repeats column 'A'"):
        Batch.from_json(doc | {"columns": {"A": ["x", "y"]}, "joined": {"A": "x\ny"}})
    with pytest.raises(ValueError, match="must be a string of 2 lines"):
        Batch.from_json(doc | {"joined": {"A": 7}})
