from __future__ import annotations

import duckdb
from sqlglot import exp

from calypso.kql.functions.template import instantiate, render, slot
from calypso.kql.sqlgen import generate


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


def test_rendered_template_is_its_own_text_around_its_arguments() -> None:
    """The text is the engine's own spelling: rendered verbatim, one operand, never parsed."""
    text = f"coalesce({slot(0)}, {slot(1)}) + len({slot(0)})"
    tree = render(text, "duckdb", exp.column("a", quoted=True), exp.Literal.number(1))
    assert generate(tree, "duckdb") == '(coalesce("a", 1) + len("a"))'


def test_an_operator_argument_stays_one_operand() -> None:
    text = f"{slot(0)} * 2 - {slot(1)}"
    args = (exp.Add(this=exp.Literal.number(1), expression=exp.Literal.number(2)), exp.Literal.number(3))
    con = duckdb.connect()
    for tree in (render(text, "duckdb", *args), instantiate(text, "duckdb", *args)):
        query = exp.select(exp.Mul(this=tree, expression=exp.Literal.number(10)))
        sql = generate(query, "duckdb")  # parenthesizes arithmetic operands as it prints
        assert con.execute(sql).fetchone() == (30,)  # ((1 + 2) * 2 - 3) * 10


def test_a_whole_rendered_slot_is_the_argument() -> None:
    arg = exp.column("z")
    assert render(slot(0), "clickhouse", arg) is arg
