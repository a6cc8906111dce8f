from __future__ import annotations

import pytest
from sqlglot import exp

from calypso.kql.sqlgen import generate


def _trees() -> list[exp.Expression]:
    q = exp.Identifier(this='we"ird', quoted=True)
    commented = exp.Identifier(this="c", quoted=True)
    commented.add_comments(["note"])
    return [
        exp.select(exp.column("a", "t", quoted=True), exp.column("b", quoted=True)).from_("t"),
        exp.select(exp.Column(this=q, table=exp.Identifier(this="t", quoted=False))),
        exp.select(exp.Column(this=exp.Star(), table=exp.Identifier(this="t", quoted=True))),
        exp.select(exp.Column(this=commented), exp.column("x", "s", "db")),
        exp.select(exp.column("select", quoted=False), exp.column("plain")),
    ]


@pytest.mark.parametrize("dialect", ["duckdb", "clickhouse"])
def test_same_text_as_sqlglot(dialect: str) -> None:
    for tree in _trees():
        expected = tree.sql(dialect=dialect)
        assert generate(tree.copy(), dialect) == expected
        assert generate(tree.copy(), dialect) == expected  # names remembered from the first time
