"""prepare: constant and joined columns give exactly what the full column of those values gives."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from calypso.wire import batch
from calypso.wire.schemas import standard_tables
from calypso.workspace.ingest.prepare import IngestError, Prepared, RawBatch, prepare

WS = "00000000-0000-0000-0000-000000000000"
NOW = dt.datetime(2024, 5, 1, 12, 0, tzinfo=dt.UTC)
CATALOG = dict(standard_tables())


def both(table: str, columns: dict[str, list[Any]], consts: dict[str, Any], count: int) -> Prepared:
    """prepare() of the batch with `consts` kept apart, checked against the expanded batch."""
    apart = RawBatch(table, columns, count, "b", consts=consts)
    expanded = RawBatch(table, {**columns, **{k: [v] * count for k, v in consts.items()}}, count, "b")
    try:
        want = prepare(expanded, CATALOG, WS, NOW)
    except IngestError as e:
        with pytest.raises(IngestError) as got:
            prepare(apart, CATALOG, WS, NOW)
        assert str(got.value) == str(e)
        raise
    got_prepared = prepare(apart, CATALOG, WS, NOW)
    assert got_prepared.new_columns == want.new_columns
    assert got_prepared.data.select(sorted(want.data.column_names)).equals(
        want.data.select(sorted(want.data.column_names))
    )
    return got_prepared


@pytest.mark.parametrize(
    "value",
    [
        "2024-01-02T03:04:05Z",
        "2024-01-02T03:04:05.1234567Z",  # 7 fractional digits: truncated to µs
        "2024-01-02T03:04:05.5+02:00",  # an offset: stored as UTC
        "2024-01-02 03:04:05",
        None,
    ],
)
def test_datetime_constants(value: str | None) -> None:
    got = both("Syslog", {"SyslogMessage": ["a", "b", "c"]}, {"TimeGenerated": value}, 3)
    if value is not None:
        assert len(set(got.data.column("TimeGenerated").to_pylist())) == 1
    assert got.data.num_rows == 3


def test_a_datetime_offset_is_converted_to_utc() -> None:
    got = both("Syslog", {"SyslogMessage": ["a"]}, {"TimeGenerated": "2024-01-02T03:04:05.25+02:00"}, 1)
    assert got.data.column("TimeGenerated").to_pylist() == [dt.datetime(2024, 1, 2, 1, 4, 5, 250000)]


def test_typed_constants_of_a_standard_table() -> None:
    got = both(
        "Syslog",
        {"SyslogMessage": ["a", "b"]},
        {"Computer": "host", "ProcessID": 42, "HostIP": None, "SourceSystem": "Linux"},
        2,
    )
    assert got.data.column("ProcessID").to_pylist() == [42, 42]
    assert got.data.column("SourceSystem").to_pylist() == ["Linux", "Linux"]
    assert got.data.column("HostIP").null_count == 2


@pytest.mark.parametrize(
    ("name", "value"),
    [("TimeGenerated", "yesterday"), ("ProcessID", 2**40), ("ProcessID", "x"), ("Nope", "x")],
)
def test_bad_constants_fail_like_the_full_column(name: str, value: Any) -> None:
    with pytest.raises(IngestError, match=r"row 0|not in table"):
        both("Syslog", {"SyslogMessage": ["a", "b"]}, {name: value}, 2)


@pytest.mark.parametrize("value", ["text", 7, 2.5, True, {"a": [1]}, None])
def test_constants_grow_a_custom_table_with_the_inferred_type(value: Any) -> None:
    got = both("MyApp_CL", {"RawData": ["x", "y"]}, {"Extra": value}, 2)
    assert got.new_columns[-1][0] == "Extra"


def test_an_empty_batch_infers_as_the_empty_column_does() -> None:
    got = both("MyApp_CL", {"RawData": []}, {"Extra": 7}, 0)
    assert got.new_columns == (("RawData", "string"), ("Extra", "string"))
    assert got.data.num_rows == 0


def test_agent_batches_keep_constants_apart_on_request() -> None:
    sent = batch.Batch("MyApp_CL", {"RawData": ["a", "b"]}, 2, consts={"FilePath": "/var/log/a.log"})
    (kept,) = batch.decode(batch.encode([sent]), expand_consts=False)
    assert kept.consts == {"FilePath": "/var/log/a.log"}
    assert kept.joined == {"RawData": "a\nb"} and not kept.columns
    (expanded,) = batch.decode(batch.encode([sent]))
    assert expanded.columns["FilePath"] == ["/var/log/a.log"] * 2 and not expanded.consts


def joined_vs_list(table: str, column: str, values: list[str]) -> Prepared:
    """prepare() of `values` sent joined, checked against the same values sent as a list."""
    want = prepare(RawBatch(table, {column: values}, len(values), "b"), CATALOG, WS, NOW)
    got = prepare(RawBatch(table, {}, len(values), "b", joined={column: "\n".join(values)}), CATALOG, WS, NOW)
    assert got.new_columns == want.new_columns
    assert got.data.select(sorted(want.data.column_names)).equals(
        want.data.select(sorted(want.data.column_names))
    )
    return got


def test_joined_strings_arrive_as_the_list_of_them_would() -> None:
    got = joined_vs_list("MyApp_CL", "RawData", ["first line", "", "dernière ligne ✓", "  spaced  "])
    assert got.data.column("RawData").to_pylist() == ["first line", "", "dernière ligne ✓", "  spaced  "]
    assert got.new_columns == (("RawData", "string"),)


def test_joined_values_of_a_typed_column_convert_like_a_list() -> None:
    got = joined_vs_list("Syslog", "ProcessID", ["12", "4096"])
    assert got.data.column("ProcessID").to_pylist() == [12, 4096]


def test_joined_values_with_the_wrong_line_count_are_refused_by_name() -> None:
    raw = RawBatch("MyApp_CL", {}, 3, "b", joined={"RawData": "a\nb"})
    with pytest.raises(IngestError, match="column RawData: the joined values hold 2 lines for 3 rows"):
        prepare(raw, CATALOG, WS, NOW)
