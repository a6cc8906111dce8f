from __future__ import annotations

import datetime as dt

import pytest

from calypso.workspace.ingest.datacollector import parse_body, to_batch
from calypso.workspace.ingest.prepare import IngestError


def test_suffixes_and_sparse_columns() -> None:
    batch = to_batch(
        "App",
        [
            {"a": "x", "n": 1},
            {
                "b": True,
                "when": "2026-01-01T00:00:00Z",
                "id": "6f9619ff-8b86-d011-b42d-00c04fc964ff",
                "o": {"k": 1},
            },
        ],
        time_field=None,
        resource_id=None,
    )
    assert batch.table == "App_CL"
    assert batch.columns["a_s"] == ["x", None] and batch.columns["n_d"] == [1.0, None]
    assert batch.columns["b_b"] == [None, True] and batch.columns["o_s"] == [None, '{"k":1}']
    assert batch.type_hints["when_t"] == "datetime" and batch.type_hints["id_g"] == "string"
    assert batch.source_system == "RestAPI"


def test_time_generated_field_falls_back_on_bad_values() -> None:
    batch = to_batch(
        "App", [{"t": "2026-01-01T00:00:00Z"}, {"t": "garbage"}], time_field="t", resource_id="/r"
    )
    assert batch.columns["TimeGenerated"].to_pylist() == [dt.datetime(2026, 1, 1), None]
    assert batch.resource_id == "/r"


def test_odd_field_names_are_cleaned() -> None:
    batch = to_batch("App", [{"my field": 1, "9lives": "x"}], time_field=None, resource_id=None)
    assert set(batch.columns) == {"my_field_d", "_9lives_s"}


@pytest.mark.parametrize("body", [b"[1, 2]", b'"x"', b"{", b"[{}, 3]"])
def test_bad_bodies(body: bytes) -> None:
    with pytest.raises(IngestError):
        parse_body(body)


def test_single_object_is_one_record() -> None:
    assert parse_body(b'{"a": 1}') == [{"a": 1}]
