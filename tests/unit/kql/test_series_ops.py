"""series_fill_* and element-wise series functions: the SQL agrees with a direct reading of Kusto's
documented rules on random series, on both engines; bad arguments are refused before any SQL."""

from __future__ import annotations

import json
import random
from collections.abc import Callable, Iterator
from typing import Any

import duckdb
import pytest

from calypso.kql import compile_query
from calypso.kql.dialects.clickhouse import ClickHouse
from calypso.kql.errors import KqlError

Value = float | int | None
Runner = Callable[[str], Any]


def _forward(xs: list[Value]) -> list[Value]:
    out, last = [], None
    for x in xs:
        last = x if x is not None else last
        out.append(last)
    return out


def _backward(xs: list[Value]) -> list[Value]:
    return _forward(xs[::-1])[::-1]


def _linear(xs: list[Value], edges: bool) -> list[Value]:
    present = [i for i, x in enumerate(xs) if x is not None]
    if not present:
        return [0.0] * len(xs)
    ints = all(isinstance(xs[i], int) for i in present)
    out: list[Value] = []
    for i, x in enumerate(xs):
        before = [j for j in present if j < i]
        after = [j for j in present if j > i]
        if x is not None:
            out.append(x)
        elif before and after:
            p, q = before[-1], after[0]
            vp, vq = float(xs[p]), float(xs[q])  # type: ignore[arg-type]
            v = vp + (vq - vp) * (i - p) / (q - p)
            out.append(int(v) if ints else v)
        elif edges:
            out.append(xs[before[-1]] if before else xs[after[0]])
        else:
            out.append(None)
    return out


def _series(rng: random.Random, ints: bool) -> list[Value]:
    n = rng.randint(0, 10)
    return [
        None if rng.random() < 0.4 else (rng.randint(-20, 20) if ints else rng.randint(-80, 80) / 4.0)
        for _ in range(n)
    ]


@pytest.fixture(scope="module", params=["duckdb", "clickhouse"])
def engine(request: pytest.FixtureRequest) -> Iterator[tuple[str, Runner]]:
    if request.param == "duckdb":
        con = duckdb.connect()
        yield "duckdb", lambda sql: con.execute(sql).fetchall()[0]
        con.close()
        return
    chs = pytest.importorskip("chdb.session")
    sess = chs.Session()

    def run(sql: str) -> Any:
        return json.loads(sess.query(sql + " " + ClickHouse.settings_clause(), "JSONCompact").bytes())[
            "data"
        ][0]

    yield "clickhouse", run
    sess.close()


def _row(engine: tuple[str, Runner], query: str) -> list[Any]:
    dialect, run = engine
    return [json.loads(v) for v in run(compile_query(query, {}, dialect=dialect).sql)]


def test_fills_match_the_documented_rules(engine: tuple[str, Runner]) -> None:
    rng = random.Random(7)
    for case in range(30):
        xs = _series(rng, ints=case % 2 == 0)
        arr = json.dumps(xs)
        got = _row(
            engine,
            f"print s = dynamic({arr}) | project series_fill_forward(s), series_fill_backward(s), "
            "series_fill_linear(s), series_fill_linear(s, double(null), false), series_fill_const(s, 5)",
        )
        want = [_forward(xs), _backward(xs), _linear(xs, True), _linear(xs, False)]
        want.append([5 if x is None else x for x in xs])
        assert got == want, arr


def test_element_wise_match_the_documented_rules(engine: tuple[str, Runner]) -> None:
    rng = random.Random(11)
    for _ in range(20):
        xs, ys = _series(rng, ints=True), _series(rng, ints=False)

        def pairs(f: Callable[[float, float], Any], xs: list[Value] = xs, ys: list[Value] = ys) -> list[Any]:
            n = max(len(xs), len(ys))
            a, b = xs + [None] * (n - len(xs)), ys + [None] * (n - len(ys))
            return [None if x is None or y is None else f(x, y) for x, y in zip(a, b, strict=True)]

        got = _row(
            engine,
            f"print a = dynamic({json.dumps(xs)}), b = dynamic({json.dumps(ys)}) | project "
            "series_add(a, b), series_multiply(a, a), series_less_equals(a, b), series_subtract(a, 3)",
        )
        want = [
            pairs(lambda x, y: x + y),
            pairs(lambda x, y: x * y, ys=xs),
            pairs(lambda x, y: x <= y),
            pairs(lambda x, y: x - y, ys=[3] * len(xs)),
        ]
        assert got == want, (xs, ys)


@pytest.mark.parametrize(
    ("query", "code"),
    [
        ("print series_add(1, 2)", "TypeMismatch"),
        ("print series_add(dynamic([1]), 'a')", "TypeMismatch"),
        ("print series_abs(dynamic([1]), 1)", "SyntaxError"),
        ("print series_fill_linear(dynamic([1]), 'a')", "TypeMismatch"),
        ("print series_fill_linear(dynamic([1]), 0, 1)", "TypeMismatch"),
        ("print series_fill_const(dynamic([1]))", "SyntaxError"),
        ("print series_fill_forward('abc')", "TypeMismatch"),
        ("print series_pearson_correlation(dynamic([1]), 2)", "TypeMismatch"),
        ("print series_stats_dynamic(dynamic([1]), 1)", "TypeMismatch"),
    ],
)
def test_bad_arguments_are_refused(query: str, code: str) -> None:
    with pytest.raises(KqlError) as err:
        compile_query(query, {}, dialect="duckdb")
    assert err.value.code == code
