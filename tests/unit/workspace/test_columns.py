from __future__ import annotations

import datetime as dt

import pyarrow as pa
import pytest

from calypso.workspace.columns import ColumnError, infer_kusto_type, parse_timespan, to_arrow


def test_datetimes_with_zone_and_seven_digits_become_naive_utc() -> None:
    arr = to_arrow(["2024-01-01T00:00:00.1234567Z", "2024-01-01T01:00:00+01:00", None], "datetime")
    assert arr.type == pa.timestamp("us")
    assert arr.to_pylist() == [dt.datetime(2024, 1, 1, 0, 0, 0, 123456), dt.datetime(2024, 1, 1), None]


def test_datetimes_without_zone_are_utc() -> None:
    assert to_arrow(["2024-05-06 07:08:09"], "datetime").to_pylist() == [dt.datetime(2024, 5, 6, 7, 8, 9)]


def test_bad_datetime_names_the_row() -> None:
    with pytest.raises(ColumnError) as e:
        to_arrow(["2024-01-01T00:00:00Z", "yesterday"], "datetime")
    assert e.value.row == 1 and "yesterday" in str(e.value)


def test_int_range_is_checked() -> None:
    assert to_arrow([1, "2", None], "int").to_pylist() == [1, 2, None]
    with pytest.raises(ColumnError):
        to_arrow([2**31], "int")
    assert to_arrow([2**31], "long").to_pylist() == [2**31]


def test_strings_accept_scalars_and_objects() -> None:
    assert to_arrow(["a", 1, True, {"k": [1]}], "string").to_pylist() == ["a", "1", "true", '{"k":[1]}']


def test_dynamic_is_json_text() -> None:
    assert to_arrow([{"a": 1}, [1, 2], "s", None], "dynamic").to_pylist() == ['{"a":1}', "[1,2]", '"s"', None]


def test_bool_and_real() -> None:
    assert to_arrow([True, "false", 1, None], "bool").to_pylist() == [True, False, True, None]
    assert to_arrow([1, 2.5, "3"], "real").to_pylist() == [1.0, 2.5, 3.0]
    with pytest.raises(ColumnError):
        to_arrow(["maybe"], "bool")


def test_timespan_ticks() -> None:
    assert parse_timespan("1.02:03:04.5") == ((1 * 24 + 2) * 3600 + 3 * 60 + 4) * 10_000_000 + 5_000_000
    assert parse_timespan("-00:00:01") == -10_000_000
    assert parse_timespan(dt.timedelta(milliseconds=1)) == 10_000
    assert to_arrow(["00:01:00"], "timespan").to_pylist() == [600_000_000]


def test_guid_validated() -> None:
    assert to_arrow(["6F9619FF-8B86-D011-B42D-00C04FC964FF"], "guid").to_pylist() == [
        "6f9619ff-8b86-d011-b42d-00c04fc964ff"
    ]
    with pytest.raises(ColumnError):
        to_arrow(["not-a-guid"], "guid")


def test_infer() -> None:
    assert [infer_kusto_type(v) for v in ([None, 1], [1.5], [True], [{"a": 1}], ["x"], [None])] == [
        "long",
        "real",
        "bool",
        "dynamic",
        "string",
        "string",
    ]
