from __future__ import annotations

from sqlglot import exp

from calypso.kql.functions.template import instantiate, slot


def test_slots_take_copies_of_the_arguments() -> None:
    arg = exp.column("a", quoted=True)
    text = f"coalesce({slot(0)}, {slot(1)}) + len({slot(0)})"
    tree = instantiate(text, "duckdb", arg, exp.Literal.number(1))
    assert tree.sql(dialect="duckdb") == 'COALESCE("a", 1) + LENGTH("a")'
    assert all(c is not arg for c in tree.find_all(exp.Column))


def test_cached_tree_is_never_handed_out() -> None:
    text = f"list_transform([{slot(0)}], _y -> _y + 1)"
    first = instantiate(text, "duckdb", exp.column("x"))
    first.find(exp.Add).replace(exp.Literal.number(0))  # a caller mutates its tree in place
    again = instantiate(text, "duckdb", exp.column("y"))
    assert "_y + 1" in again.sql(dialect="duckdb")
    assert "[y]" in again.sql(dialect="duckdb")


def test_a_whole_template_slot_is_the_argument() -> None:
    arg = exp.column("z")
    assert instantiate(slot(0), "clickhouse", arg).sql() == "z"
