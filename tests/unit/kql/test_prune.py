"""Column pruning: a wide table read for a few columns scans only those, with the same results."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import duckdb
import pytest

from calypso.kql import KqlError, compile_query, compiler, storage_type

NOW = datetime(2024, 1, 2, 12, 0, 0, tzinfo=UTC)
FILLER = [(f"Extra{i:02d}", "string") for i in range(60)]
CATALOG = {
    "Wide": [
        ("TimeGenerated", "datetime"),
        ("Computer", "string"),
        ("Account", "string"),
        ("EventID", "int"),
        *FILLER,
        ("Data", "dynamic"),
    ]
}
ROWS = [
    (
        datetime(2024, 1, 2, 11) - timedelta(minutes=7 * i),
        f"host{i % 3}",
        f"user{i % 4}",
        4625 if i % 2 else 4624,
        *[f"v{i}_{j}" for j in range(len(FILLER))],
        f'{{"n": {i}}}',
    )
    for i in range(40)
]

SAME = [
    "Wide | where TimeGenerated > ago(3h) | where EventID == 4625 | summarize count() by Account, Computer"
    " | top 10 by count_",
    "Wide | where EventID == 4624 | extend h = strcat(Computer, '/', Account) | project h, EventID",
    "Wide | sort by TimeGenerated desc | take 5 | project TimeGenerated, Computer",
    "Wide | top 3 by TimeGenerated asc | distinct Computer",
    "Wide | where Computer == 'host1' | count",
    "Wide | count",
    "Wide | extend Computer = toupper(Computer) | summarize n = count() by Computer",
    "Wide | extend lag = ingestion_time() - TimeGenerated | summarize max(lag)",
    "Wide | summarize max(_TimeReceived) by Computer",
    "let id = 4625; Wide | where EventID == id | summarize dcount(Account)",
    "Wide | summarize n = sum(toint(Data.n)) by bin(TimeGenerated, 1h)",
    "Wide | serialize | extend r = row_number() | project r, Account",
]
FULL = [
    "Wide | summarize arg_max(TimeGenerated, *) by Computer",
    "Wide | where EventID == 4625 | project p = pack_all()",
    "Wide | where EventID == 4625 | distinct *",
    "Wide | project-away Extra*",
    "Wide | project-keep Comp* | count",
    "Wide | join kind=inner (Wide | project Computer) on Computer | count",
]


@pytest.fixture(scope="module")
def con() -> duckdb.DuckDBPyConnection:
    c = duckdb.connect()
    cols = CATALOG["Wide"]
    ddl = ", ".join(f'"{n}" {storage_type(t)}' for n, t in cols)
    c.execute(f'CREATE TABLE "Wide" ({ddl})')
    c.executemany(f'INSERT INTO "Wide" VALUES ({", ".join("?" * len(cols))})', ROWS)
    return c


def _run(con: duckdb.DuckDBPyConnection, kql: str, **kw: Any) -> tuple[str, list[Any], list[Any]]:
    q = compile_query(kql, CATALOG, now=NOW, **kw)
    return q.sql, [(c.name, c.type) for c in q.columns], sorted(con.execute(q.sql).fetchall(), key=repr)


def _unpruned(
    con: duckdb.DuckDBPyConnection, monkeypatch: pytest.MonkeyPatch, kql: str, **kw: Any
) -> tuple[str, list[Any], list[Any]]:
    with monkeypatch.context() as m:
        m.setattr(compiler, "scan_needs", lambda script, catalog: {})
        return _run(con, kql, **kw)


def _assert_pruned(
    con: duckdb.DuckDBPyConnection, monkeypatch: pytest.MonkeyPatch, kql: str, shrink: int
) -> None:
    """The pruned SQL leaves out the unread columns, is `shrink` times shorter, and gives the same
    (non-empty) result as the full scan."""
    sql, cols, rows = _run(con, kql)
    full_sql, full_cols, full_rows = _unpruned(con, monkeypatch, kql)
    assert "Extra30" in full_sql and "Extra30" not in sql
    assert len(sql) < len(full_sql) / shrink
    assert (cols, rows) == (full_cols, full_rows)
    assert rows


@pytest.mark.parametrize("kql", SAME)
def test_pruned_scan_selects_few_columns_and_returns_the_same_rows(
    con: duckdb.DuckDBPyConnection, monkeypatch: pytest.MonkeyPatch, kql: str
) -> None:
    _assert_pruned(con, monkeypatch, kql, shrink=3)


def test_timespan_filter_reads_the_table_when_time_is_not_selected(
    con: duckdb.DuckDBPyConnection, monkeypatch: pytest.MonkeyPatch
) -> None:
    span = (datetime(2024, 1, 2, 9, tzinfo=UTC), datetime(2024, 1, 2, 10, tzinfo=UTC))
    kql = "Wide | summarize count() by Computer"
    sql, cols, rows = _run(con, kql, timespan=span)
    assert '"TimeGenerated" >=' in sql and "Extra30" not in sql
    assert (cols, rows) == _unpruned(con, monkeypatch, kql, timespan=span)[1:]
    assert sum(r[1] for r in rows) == 9  # rows 11, ..., 19 lie in 09:00-10:00


@pytest.mark.parametrize("kql", FULL)
def test_queries_that_may_read_every_column_scan_every_column(kql: str) -> None:
    sql = compile_query(kql, CATALOG, now=NOW).sql
    assert "Extra30" in sql or "*" in sql


@pytest.mark.parametrize(
    ("kql", "compiles", "hint"),
    [
        ("Wide | where EventID == 1 | project Acount", 2, "Account"),  # the hint is a dropped column
        ("Wide | where EventID == 1 | project Extra3", 2, "Extra53"),  # a name with digits
        ("Wide | join (Wide | project Computer, Account) on Computer | project Extra3", 2, "Extra53"),
        ("Wide | where Computer == 'x' | project Computr", 1, "Computer"),  # no dropped column is close
        ("Wide | summarize n = count() by Computer | where n > 1 | project Computr", 1, "Computer"),
        ("Wide | where EventID == 1 | project extra07", 2, "Extra07"),  # equal but for case
        (
            "Wide | project Computer | join (Wide | project Computer) on Computer | project Computr",
            1,
            "Computer",
        ),
        # unpruned, the union fails first: Extra05 is a string on one side and an int on the other
        ("union Wide, (Wide | extend Extra05 = 1) | where Computer == 'x' | project Computr", 2, None),
    ],
)
def test_unknown_column_error_is_unchanged(
    con: duckdb.DuckDBPyConnection, monkeypatch: pytest.MonkeyPatch, kql: str, compiles: int, hint: str | None
) -> None:
    """The same error as unpruned, compiled once when no dropped column could change its hint."""
    calls: list[object] = []
    compile_once = compiler._compile

    def counted(*args: Any) -> Any:
        calls.append(args)
        return compile_once(*args)

    with monkeypatch.context() as m:
        m.setattr(compiler, "_compile", counted)
        with pytest.raises(KqlError) as pruned:
            _run(con, kql)
    with pytest.raises(KqlError) as full:
        _unpruned(con, monkeypatch, kql)
    assert str(pruned.value) == str(full.value)
    assert len(calls) == compiles
    if hint is not None:
        assert f"did you mean '{hint}'" in str(pruned.value)


# joins, unions, lets and functions: each side scans only what is read after it
COMPOSED = [
    "Wide | where EventID == 4625 | join kind=inner (Wide | where EventID == 4624 | project Computer, Account)"
    " on Computer | project Computer, Account, Account1",
    "Wide | join kind=leftouter (Wide | summarize n = count() by Computer) on Computer | project Computer, n, Computer1",
    "Wide | join kind=leftanti (Wide | where EventID == 4624) on Account | summarize count() by Computer",
    "Wide | join kind=rightsemi (Wide | where EventID == 4624 | project Account, TimeGenerated) on Account"
    " | summarize max(TimeGenerated) by Account",
    "Wide | join (Wide | project Account, Computer) on $left.Computer == $right.Computer | project Computer, Account1",
    "Wide | lookup (Wide | summarize c = dcount(Account) by Computer) on Computer | project Computer, c, EventID",
    "Wide | extend Computer1 = 'x' | join (Wide | project Computer, Account) on Computer | project Computer1, Computer2",
    "Wide | project-rename Host = Computer | join (Wide | project Host = Computer, Account) on Host"
    " | project Host, Account1",
    "union (Wide | where EventID == 4625), (Wide | where Computer == 'host1') | summarize count() by Account",
    "union withsource=T Wide, (Wide | extend x = 1) | summarize count() by T, x",
    "Wide | union (Wide | where EventID == 4624) | summarize count() by Computer",
    "let base = Wide | where EventID == 4625; base | summarize n = count() by Computer"
    " | join (base | project Computer, Account) on Computer | project Computer, n, Account",
    "let f = (id: int) { Wide | where EventID == id }; f(4625) | project Computer, Account",
    "let g = () { Wide | extend k = strcat(Computer, Account) }; g | summarize count() by k",
    "let ids = Wide | where Computer == 'host1' | distinct Account; Wide | where Account in (ids) | count",
    "let m = materialize(Wide | where EventID == 4624); m | summarize count() by Account",
    "Wide | project-away Extra01 | join (Wide | project Computer) on Computer | summarize count() by Computer1",
    "Wide | parse Extra05 with 'v' n:int '_' m:int | project n, m, Computer",
    "Wide | extend strlen(Computer) | join (Wide | project Computer) on Computer | project strlen_Computer, Computer1",
    "let hosts = datatable(Host: string)['host1', 'host2']; hosts | join (Wide | where EventID == 4625)"
    " on $left.Host == $right.Computer | summarize count() by Host, Account",
    "print x = 1 | join (Wide | summarize n = count() by x = 1) on x | project n",
]
COMPOSED_FULL = [
    "Wide | join kind=inner (Wide | project Computer, Account) on Computer | take 1",
    "let b = Wide | where EventID == 4625; b | join (b | summarize count() by Computer) on Computer",
    "union Wide, (Wide | where EventID == 4625 | project Computer) | where Computer == 'host1'",
    "Wide | project-away Extra01 | join (Wide | project Computer) on Computer | where EventID == 4625",
]


@pytest.mark.parametrize("kql", COMPOSED)
def test_join_union_let_and_function_sides_scan_only_what_is_read(
    con: duckdb.DuckDBPyConnection, monkeypatch: pytest.MonkeyPatch, kql: str
) -> None:
    _assert_pruned(con, monkeypatch, kql, shrink=2)


@pytest.mark.parametrize("kql", COMPOSED_FULL)
def test_join_union_and_let_outputs_that_show_whole_rows_are_unchanged(
    con: duckdb.DuckDBPyConnection, monkeypatch: pytest.MonkeyPatch, kql: str
) -> None:
    sql, cols, rows = _run(con, kql)
    assert "Extra30" in sql
    assert (cols, rows) == _unpruned(con, monkeypatch, kql)[1:]


@pytest.mark.parametrize(
    "kql",
    [
        "let w = Wide | where EventID == 4625; w | summarize count() by Computer"
        " | join (search in (w) 'v3_30' | summarize n = count() by Computer) on Computer",
        "let w = Wide | where EventID == 4625; w | summarize count() by Computer"
        " | join (find in (w) where Extra30 == 'v3_30' | summarize n = count() by Computer = tostring(pack_.Computer))"
        " on Computer",
    ],
)
def test_a_let_that_search_or_find_reads_by_name_keeps_every_column(
    con: duckdb.DuckDBPyConnection, monkeypatch: pytest.MonkeyPatch, kql: str
) -> None:
    sql, cols, rows = _run(con, kql)
    assert "Extra30" in sql
    assert (cols, rows) == _unpruned(con, monkeypatch, kql)[1:]
    assert rows
