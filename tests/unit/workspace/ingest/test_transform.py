"""Ingestion-time transformations run KQL over the incoming rows, and nothing outside them."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pyarrow as pa
import pytest

from calypso.workspace.ingest import transform
from calypso.workspace.ingest.prepare import IngestError
from calypso.workspace.store.duckdb import DuckDBStore

pytest.importorskip("calypso.kql.compiler")
SCHEMA = (("Message", "string"), ("Level", "long"))


@pytest.fixture
def store(tmp_path: Path) -> Iterator[DuckDBStore]:
    s = DuckDBStore(tmp_path / "t.duckdb", "00000000-0000-0000-0000-000000000001")
    yield s
    s.close()


def test_a_transformation_reshapes_the_incoming_rows(store: DuckDBStore) -> None:
    source = pa.table({"Message": ["a", "bb", "ccc"], "Level": [1, 5, 9]})
    result, types = transform.apply(
        store, "source | where Level > 2 | extend Size = strlen(Message)", source, SCHEMA
    )
    assert result.column("Size").to_pylist() == [2, 3]
    assert types["Size"] == "long"


def test_a_transformation_cannot_fetch_external_data(store: DuckDBStore) -> None:
    source = pa.table({"Message": ["a"], "Level": [1]})
    kql = 'source | join (externaldata (Message:string) [@"https://feeds.example/x.csv"]) on Message'
    with pytest.raises(IngestError, match="externaldata"):
        transform.apply(store, kql, source, SCHEMA)
