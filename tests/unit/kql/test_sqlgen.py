from __future__ import annotations

import contextlib
import json
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlglot import exp

from calypso.kql import KqlError, compile_query, compiler
from calypso.kql.sqlgen import generate, release
from calypso.wire.schemas import standard_tables


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
        exp.select(
            exp.alias_(
                exp.Anonymous(
                    this="lower",
                    expressions=[
                        exp.Literal.string("it's a\\b\nc"),
                        exp.Literal.number(1.5),
                        exp.Anonymous(this="myFunc", expressions=[exp.Literal.string(""), exp.Null()]),
                    ],
                ),
                "x",
                quoted=True,
            ),
            exp.alias_(exp.Literal.string("it's"), "y", quoted=False),
            exp.Dot(this=exp.column("a"), expression=exp.Anonymous(this="qualified", expressions=[])),
        ),
        exp.select(exp.column("k", "t"), exp.Count(this=exp.Star()))
        .distinct()
        .from_(exp.select("*").from_("u").subquery("t"))
        .join("v", on="t.k = v.k", join_type="left")
        .where("t.x > 1")
        .group_by("t.k")
        .having("COUNT(*) > 2")
        .order_by("t.k DESC")
        .limit(5)
        .offset(1)
        .with_("u", as_="SELECT 1 AS k, 2 AS x"),
        exp.select("a").from_("t").qualify("ROW_NUMBER() OVER (ORDER BY a) = 1"),  # not a plain SELECT
        exp.select("*").from_(exp.select("a").from_("t").subquery()),  # a subquery without an alias
        exp.select("*").from_(exp.alias_(exp.select("a").from_("t").subquery(), "s", table=["c"])),
    ]


@pytest.mark.parametrize("dialect", ["duckdb", "clickhouse"])
def test_same_text_as_sqlglot(dialect: str) -> None:
    for tree in _trees():
        expected = tree.sql(dialect=dialect)
        assert generate(tree.copy(), dialect) == expected
        assert generate(tree.copy(), dialect) == expected  # names remembered from the first time


def test_a_released_tree_is_freed_without_the_cyclic_collector() -> None:
    import gc
    import weakref

    tree = exp.select(exp.Add(this=exp.column("a"), expression=exp.Literal.number(1))).from_("t")
    generate(tree, "duckdb")
    leaf = weakref.ref(tree.find(exp.Literal))
    release(tree)
    gc.disable()
    try:
        del tree
        assert leaf() is None
    finally:
        gc.enable()


def _queries() -> list[str]:
    repo = Path(__file__).resolve().parents[3]
    corpus = repo / ".." / "shared" / "kql" / "dev-corpus.jsonl"
    texts = [json.loads(line)["query"] for line in corpus.read_text("utf-8").splitlines() if line.strip()]
    for path in sorted((repo / "tests" / "golden" / "kql").glob("*.json")):
        texts += [case["query"] for case in json.loads(path.read_text("utf-8"))]
    return texts


@pytest.mark.parametrize("dialect", ["duckdb", "clickhouse"])
def test_fast_paths_print_what_sqlglot_prints_for_every_corpus_and_golden_query(
    dialect: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    if not (Path(__file__).resolve().parents[3] / ".." / "shared" / "kql" / "dev-corpus.jsonl").exists():
        pytest.skip("the development corpus is not available")
    trees: list[exp.Expression] = []

    def keep(tree: exp.Expression, sqlglot_dialect: str) -> str:
        trees.append(tree.copy())
        return generate(tree, sqlglot_dialect)

    monkeypatch.setattr(compiler, "generate", keep)
    catalog = {name: list(cols) for name, cols in standard_tables().items()}
    for text in _queries():
        with contextlib.suppress(KqlError):
            compile_query(text, catalog, dialect=dialect, now=datetime(2024, 1, 2, tzinfo=UTC))
    assert len(trees) > 250
    for tree in trees:
        assert generate(tree.copy(), dialect) == generate(tree.copy(), dialect, fast=False)
