from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

import pyarrow as pa
import pytest

from calypso.workspace.ingest.datacollector import MAX_COLUMNS, parse_body, to_batch
from calypso.workspace.ingest.prepare import IngestError

GUID = "6f9619ff-8b86-d011-b42d-00c04fc964ff"


def values(column: Sequence[Any] | pa.Array) -> list[Any]:
    return column.to_pylist() if isinstance(column, pa.Array) else list(column)


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
    assert values(batch.columns["a_s"]) == ["x", None] and values(batch.columns["n_d"]) == [1.0, None]
    assert values(batch.columns["b_b"]) == [None, True] and values(batch.columns["o_s"]) == [None, '{"k":1}']
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


def test_each_value_of_a_text_field_is_classified_on_its_own() -> None:
    records = [
        {"f": "plain"},
        {"f": GUID},
        {"f": "2026-01-01T00:00:00Z"},
        {"f": "2026-01-01T00:00:00.1234567890123456789012345Z"},  # longer than 40: text, as Azure does
        {"f": "é" * 18},  # 36 bytes of UTF-8, not a GUID
        {"f": None},
    ]
    batch = to_batch("App", records, time_field=None, resource_id=None)
    assert values(batch.columns["f_s"]) == ["plain", None, None, records[3]["f"], "é" * 18, None]
    assert values(batch.columns["f_g"]) == [None, GUID, None, None, None, None]
    assert values(batch.columns["f_t"]) == [None, None, "2026-01-01T00:00:00Z", None, None, None]
    texts = [r["f"] for r in records if r["f"] not in (GUID, "2026-01-01T00:00:00Z")]  # no GUID, no date
    plain = to_batch("App", [{"g": t} for t in texts], time_field=None, resource_id=None)
    assert set(plain.columns) == {"g_s"} and values(plain.columns["g_s"]) == texts


def test_fields_of_mixed_kinds_split_by_value() -> None:
    records = [{"m": "x"}, {"m": 2}, {"m": True}, {"m": [1]}, {"m": 1.5}, {}]
    batch = to_batch("App", records, time_field=None, resource_id=None)
    assert values(batch.columns["m_s"]) == ["x", None, None, "[1]", None, None]
    assert values(batch.columns["m_d"]) == [None, 2, None, None, 1.5, None]
    assert values(batch.columns["m_b"]) == [None, None, True, None, None, None]


def test_all_null_field_makes_no_column_and_too_many_fields_are_refused() -> None:
    assert set(to_batch("App", [{"a": None, "b": 1}], time_field=None, resource_id=None).columns) == {"b_d"}
    wide = [{f"f{i}": i for i in range(MAX_COLUMNS + 1)}]
    with pytest.raises(IngestError, match="more than"):
        to_batch("App", wide, time_field=None, resource_id=None)


TEXT_SAMPLES = [
    "plain",
    "",
    GUID,
    GUID.upper(),
    GUID[:-1] + "g",  # not hex
    GUID + " ",  # 37 characters
    "2026-01-01T00:00:00Z",
    "2026-01-01 00:00",  # 16 characters, no seconds
    "2026-01-01T00:00:00.123+02:00",
    "2026-01-01T00:00:00.1234567Z",
    "2026-01-01T00:00:00Z\n",  # a trailing newline: text
    "2026-01-01T00:00:00.12345678901234567890Z",  # 41 characters: text
    "٢٠٢٦-01-01T00:00:00Z",  # non-ASCII digits: text
    "2026-01-01 is a date",
    "é" * 18,
    None,
]


@pytest.mark.parametrize("seed", range(12))
def test_whole_text_columns_split_as_value_by_value(seed: int) -> None:
    """The vectorized split of an all-text field gives the columns (and their order) of _per_value."""
    import random

    from calypso.workspace.ingest.datacollector import _per_value

    rng = random.Random(seed)
    column = [rng.choice(TEXT_SAMPLES) for _ in range(rng.randint(1, 40))]
    if seed == 0:
        column = [s for s in TEXT_SAMPLES if s is not None]
    if all(v is None for v in column):
        column[0] = "plain"
    batch = to_batch("App", [{"f": v} for v in column], time_field=None, resource_id=None)
    expected: dict[str, Any] = {}
    _per_value(expected, "f", column, len(column))
    assert list(batch.columns) == list(expected)
    assert {k: values(v) for k, v in batch.columns.items()} == expected


def test_a_field_of_date_times_only_is_one_datetime_column() -> None:
    column = ["2026-01-01T00:00:00Z", None, "2026-01-01T00:00:00.5+01:00"]
    batch = to_batch("App", [{"when": v} for v in column], time_field=None, resource_id=None)
    assert list(batch.columns) == ["when_t"] and values(batch.columns["when_t"]) == column
    assert batch.type_hints == {"when_t": "datetime"}
