"""The tokenizer: the common tokens (one regex match) and the rest (`_Lexer.step`) agree at their seams."""

from __future__ import annotations

import pytest

from calypso.kql.tokens import tokenize


def _kinds(text: str) -> list[tuple[str, object]]:
    return [(t.kind, t.value) for t in tokenize(text)][:-1]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("T | project-away a", [("ident", "T"), ("op", "|"), ("ident", "project-away"), ("ident", "a")]),
        ("project -x", [("ident", "project"), ("op", "-"), ("ident", "x")]),
        ("a in~ (b)", [("ident", "a"), ("op", "in~"), ("op", "("), ("ident", "b"), ("op", ")")]),
        ("a !has 'x'", [("ident", "a"), ("op", "!has"), ("string", "x")]),
        ("a != 1", [("ident", "a"), ("op", "!="), ("number", 1)]),
        ('h"secret" + h', [("string", "secret"), ("op", "+"), ("ident", "h")]),
        ("H@'c:\\d' + h@\"x\"", [("string", "c:\\d"), ("op", "+"), ("string", "x")]),
        (
            "x.y[0] .5 1..5",
            [
                *[("ident", "x"), ("op", "."), ("ident", "y"), ("op", "["), ("number", 0), ("op", "]")],
                *[("number", 0.5), ("number", 1), ("op", ".."), ("number", 5)],
            ],
        ),
        ("10m 2 1e3 0x1F", [("timespan", 6_000_000_000), ("number", 2), ("number", 1000.0), ("number", 31)]),
        ("café_1 x", [("ident", "café_1"), ("ident", "x")]),
        ("a // note\n// more\n| b", [("ident", "a"), ("op", "|"), ("ident", "b")]),
        (
            "$left.k == $right.k",
            [
                *[("ident", "$left"), ("op", "."), ("ident", "k"), ("op", "==")],
                *[("ident", "$right"), ("op", "."), ("ident", "k")],
            ],
        ),
    ],
)
def test_tokens(text: str, expected: list[tuple[str, object]]) -> None:
    assert _kinds(text) == expected


def test_lines_and_columns_across_multi_line_strings_and_comments() -> None:
    text = "let s = ```a\nb```;\n  T // c\n\t| take 1"
    got = [(t.text, t.line, t.column) for t in tokenize(text)]
    assert got[4:] == [(";", 2, 5), ("T", 3, 3), ("|", 4, 2), ("take", 4, 4), ("1", 4, 9), ("", 4, 10)]
