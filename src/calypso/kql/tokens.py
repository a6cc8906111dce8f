"""KQL tokenizer: text -> tokens with 1-based line/column positions.

Invariant: every character of the input is either skipped (whitespace, `//` comments) or part of
exactly one token; a character that starts no token raises `KqlError("SyntaxError")` at its position.
Hyphenated operator names (`project-away`, `mv-expand`, ...) and negated string operators
(`!has`, `!contains`, `!in~`) are single tokens.
"""

from __future__ import annotations

import re
from typing import NamedTuple

from .errors import KqlError

IDENT = "ident"
NUMBER = "number"
TIMESPAN = "timespan"
STRING = "string"
OP = "op"
EOF = "eof"

HYPHENATED = frozenset(
    {
        "project-away",
        "project-rename",
        "project-reorder",
        "project-keep",
        "mv-expand",
        "mv-apply",
        "parse-kv",
        "parse-where",
        "make-series",
        "top-nested",
        "top-hitters",
        "sample-distinct",
    }
)

NEGATABLE = frozenset(
    {
        "has",
        "has_cs",
        "hasprefix",
        "hasprefix_cs",
        "hassuffix",
        "hassuffix_cs",
        "contains",
        "contains_cs",
        "startswith",
        "startswith_cs",
        "endswith",
        "endswith_cs",
        "in",
        "in~",
        "between",
        "has_any",
        "has_all",
        "matches",
    }
)

# Longest first so that `==` wins over `=`.
PUNCT = (
    "=~",
    "!~",
    "==",
    "!=",
    "<>",
    "<=",
    ">=",
    "=>",
    "..",
    "|",
    "(",
    ")",
    "[",
    "]",
    "{",
    "}",
    ",",
    ";",
    "=",
    "<",
    ">",
    "+",
    "-",
    "*",
    "/",
    "%",
    ".",
    ":",
    "!",
    "?",
)

TIMESPAN_UNITS = {
    "d": 864_000_000_000,
    "day": 864_000_000_000,
    "days": 864_000_000_000,
    "h": 36_000_000_000,
    "hr": 36_000_000_000,
    "hrs": 36_000_000_000,
    "hour": 36_000_000_000,
    "hours": 36_000_000_000,
    "m": 600_000_000,
    "min": 600_000_000,
    "minute": 600_000_000,
    "minutes": 600_000_000,
    "s": 10_000_000,
    "sec": 10_000_000,
    "second": 10_000_000,
    "seconds": 10_000_000,
    "ms": 10_000,
    "milli": 10_000,
    "millis": 10_000,
    "millisecond": 10_000,
    "milliseconds": 10_000,
    "microsecond": 10,
    "microseconds": 10,
    "tick": 1,
    "ticks": 1,
}


class Token(NamedTuple):  # a tuple: built several times faster than a frozen dataclass
    kind: str
    text: str
    value: object
    line: int
    column: int
    offset: int


def _ident_char(c: str) -> bool:
    return c.isalnum() or c == "_"


# runs scanned by the regex engine instead of one character at a time (the same characters:
# `\s` is `str.isspace`; non-ASCII identifier characters still go through `_ident_char`)
_ASCII_WORD = re.compile(r"[A-Za-z0-9_]*")
_PUNCT_BY_FIRST: dict[str, tuple[str, ...]] = {}  # in PUNCT's order (longest first)
for _p in PUNCT:
    _PUNCT_BY_FIRST[_p[0]] = (*_PUNCT_BY_FIRST.get(_p[0], ()), _p)


def _leading_word(name: str) -> str:
    end = 0
    while end < len(name) and _ident_char(name[end]):
        end += 1
    return name[:end]


_HYPHENATED_AFTER: dict[str, tuple[str, ...]] = {}  # `project` -> (`project-away`, ...)
for _h in sorted(HYPHENATED):
    _HYPHENATED_AFTER.setdefault(_leading_word(_h), ())
    _HYPHENATED_AFTER[_leading_word(_h)] += (_h,)

# skipped text (whitespace, `//` comments) then, in one match, the commonest tokens: a plain ASCII
# word, an integer with nothing glued to it, or a punctuation mark (the two-character ones first);
# `_Lexer.run` sends the few that may start a longer token, and everything else, to `_Lexer.step`
_TWO = [p for p in PUNCT if len(p) == 2]  # PUNCT has none longer
_COMMON = re.compile(
    r"(?:\s+|//[^\n]*)*+(?:"
    r"(?P<w>[A-Za-z_][A-Za-z0-9_]*+)(?![^\x00-\x7f])"
    r"|(?P<n>[0-9]++)(?![A-Za-z0-9_.]|[^\x00-\x7f])"
    r"|(?P<p>"
    + "|".join(re.escape(p) for p in _TWO)
    + "|["
    + "".join(re.escape(p) for p in PUNCT if len(p) == 1)
    + "]))?"
)
_QUOTES = ('"', "'")
_token = tuple.__new__  # `Token(...)` without the generated __new__'s extra call
_PLAIN = {
    (q, verbatim): re.compile("[^" + re.escape(q) + ("" if verbatim else r"\\") + r"\n]*")
    for q in "\"'"
    for verbatim in (False, True)
}


class _Lexer:
    def __init__(self, text: str) -> None:
        self.text = text
        self.pos = 0
        self.line = 1  # of offset `mark`, whose line begins at offset `line_start`
        self.line_start = 0
        self.mark = 0
        self.tokens: list[Token] = []

    def error(self, message: str, pos: int) -> KqlError:
        line = self.text.count("\n", 0, pos) + 1
        col = pos - (self.text.rfind("\n", 0, pos) + 1) + 1
        return KqlError("SyntaxError", message, line, col)

    def emit(self, kind: str, start: int, value: object) -> None:
        # line and column from the last emitted token's: counting from the text's start for every
        # token would make a long query quadratic
        text = self.text
        if start < self.mark:
            self.mark, self.line, self.line_start = 0, 1, 0
        newlines = text.count("\n", self.mark, start)
        if newlines:
            self.line += newlines
            self.line_start = text.rfind("\n", self.mark, start) + 1
        self.mark = start
        self.tokens.append(
            Token(kind, text[start : self.pos], value, self.line, start - self.line_start + 1, start)
        )

    def run(self) -> list[Token]:
        text = self.text
        n = len(text)
        common, append = _COMMON.match, self.tokens.append
        while True:
            m = common(text, self.pos)
            kind = m.lastgroup  # type: ignore[union-attr]  # always matches
            if kind is None:  # only skipped text: then the end, or a token of another kind
                self.pos = m.end()  # type: ignore[union-attr]
                if self.pos >= n:
                    self.emit(EOF, self.pos, None)
                    return self.tokens
                self.step()
                continue
            start, end = m.span(kind)  # type: ignore[union-attr]
            word = text[start:end]
            value: object
            after = text[end : end + 1]
            if kind == "w":
                if (
                    ((after == "-" or after == ".") and word in _HYPHENATED_AFTER)  # `project-away`
                    or (after == "~" and word == "in")  # `in~`
                    or ((word == "h" or word == "H") and (after in _QUOTES or after == "@"))  # h"", h@""
                ):
                    self.pos = start
                    self.step()
                    continue
                token_kind, value = IDENT, word
            elif kind == "n":
                token_kind, value = NUMBER, int(word)
            elif (word == "!" and after.isalpha()) or (word == "." and after.isdigit()):  # `!has`, `.5`
                self.pos = start
                self.step()
                continue
            else:
                token_kind, value = OP, word
            # `emit`, inlined (the common tokens are most of a query's, and hold no line break)
            newlines = text.count("\n", self.mark, start)
            if newlines:
                self.line += newlines
                self.line_start = text.rfind("\n", self.mark, start) + 1
            self.mark = self.pos = end
            append(_token(Token, (token_kind, word, value, self.line, start - self.line_start + 1, start)))

    def step(self) -> None:
        text = self.text
        start = self.pos
        c = text[start]
        quoted = start + 1 < len(text) and text[start + 1] in "\"'"
        if _ident_char(c) or c == "$":  # most tokens: words, then numbers
            if c.isdigit():
                self.number(start)
            elif c in "hH" and quoted:
                self.pos += 1  # obfuscated string literal h"..."
                self.string(start, verbatim=False)
            elif (
                c in "hH" and text[start + 1 : start + 2] == "@" and text[start + 2 : start + 3] in ("'", '"')
            ):
                self.pos += 2  # obfuscated verbatim string literal h@"..."
                self.string(start, verbatim=True)
            else:
                self.ident(start)
        elif c == "@" and quoted:
            self.pos += 1
            self.string(start, verbatim=True)
        elif c in "\"'":
            self.string(start, verbatim=False)
        elif text.startswith("```", start) or text.startswith("~~~", start):
            fence = text[start : start + 3]
            end = text.find(fence, start + 3)
            if end < 0:
                raise self.error("Unterminated multi-line string literal", start)
            self.pos = end + 3
            self.emit(STRING, start, text[start + 3 : end])
        elif c == "." and start + 1 < len(text) and text[start + 1].isdigit():
            self.number(start)
        elif c == "!" and start + 1 < len(text) and text[start + 1].isalpha():
            self.pos += 1
            position = self.mark, self.line, self.line_start
            self.ident(start + 1)
            word = self.tokens.pop()
            self.mark, self.line, self.line_start = position  # not counted again from the text's start
            name = word.text + ("~" if text.startswith("~", self.pos) and word.text == "in" else "")
            if name not in NEGATABLE:
                raise self.error(f"Unexpected '!{word.text}'", start)
            self.pos = start + 1 + len(name)
            self.emit(OP, start, "!" + name)
        else:
            for p in _PUNCT_BY_FIRST.get(c, ()):
                if text.startswith(p, start):
                    self.pos += len(p)
                    self.emit(OP, start, p)
                    return
            raise self.error(f"Unexpected character {c!r}", start)

    def string(self, start: int, *, verbatim: bool) -> None:
        text = self.text
        quote = text[self.pos]
        self.pos += 1
        out: list[str] = []
        plain = _PLAIN[quote, verbatim]
        while True:
            m = plain.match(text, self.pos)  # a run of characters that stand for themselves
            if m.end() > self.pos:  # type: ignore[union-attr]  # always matches
                out.append(m.group())  # type: ignore[union-attr]
                self.pos = m.end()  # type: ignore[union-attr]
            if self.pos >= len(text) or text[self.pos] == "\n":
                raise self.error("Unterminated string literal", start)
            c = text[self.pos]
            if c == quote:
                if verbatim and text.startswith(quote * 2, self.pos):
                    out.append(quote)
                    self.pos += 2
                    continue
                self.pos += 1
                break
            if c == "\\" and not verbatim:
                if self.pos + 1 >= len(text):
                    raise self.error("Unterminated string literal", start)
                esc = text[self.pos + 1]
                self.pos += 2
                mapping = {"n": "\n", "t": "\t", "r": "\r", "\\": "\\", '"': '"', "'": "'", "0": "\0"}
                if esc == "u" and self.pos + 4 <= len(text):
                    try:
                        out.append(chr(int(text[self.pos : self.pos + 4], 16)))
                    except ValueError:
                        raise self.error("Invalid \\u escape", self.pos - 2) from None
                    self.pos += 4
                else:
                    out.append(mapping.get(esc, "\\" + esc))
                continue
            out.append(c)
            self.pos += 1
        self.emit(STRING, start, "".join(out))

    def number(self, start: int) -> None:
        text = self.text
        if text.startswith(("0x", "0X"), start):
            self.pos += 2
            while self.pos < len(text) and text[self.pos] in "0123456789abcdefABCDEF":
                self.pos += 1
            self.emit(NUMBER, start, int(text[start + 2 : self.pos], 16))
            return
        while self.pos < len(text) and text[self.pos].isdigit():
            self.pos += 1
        is_real = False
        if text.startswith(".", self.pos) and not text.startswith("..", self.pos):
            is_real = True
            self.pos += 1
            while self.pos < len(text) and text[self.pos].isdigit():
                self.pos += 1
        if self.pos < len(text) and text[self.pos] in "eE":
            j = self.pos + 1
            if j < len(text) and text[j] in "+-":
                j += 1
            if j < len(text) and text[j].isdigit():
                is_real = True
                self.pos = j
                while self.pos < len(text) and text[self.pos].isdigit():
                    self.pos += 1
        num_text = text[start : self.pos]
        j = self.pos
        while j < len(text) and text[j].isalpha():
            j += 1
        unit = text[self.pos : j]
        if unit:
            if unit.lower() not in TIMESPAN_UNITS:
                raise self.error(f"Invalid number literal '{text[start:j]}'", start)
            self.pos = j
            ticks = round(float(num_text) * TIMESPAN_UNITS[unit.lower()])
            self.emit(TIMESPAN, start, ticks)
            return
        self.emit(NUMBER, start, float(num_text) if is_real else int(num_text))

    def ident(self, start: int) -> None:
        text = self.text
        self.pos = _ASCII_WORD.match(text, start + 1).end()  # type: ignore[union-attr]  # always matches
        while self.pos < len(text) and _ident_char(text[self.pos]):
            self.pos = _ASCII_WORD.match(text, self.pos + 1).end()  # type: ignore[union-attr]
        word = text[start : self.pos]
        for h in _HYPHENATED_AFTER.get(word, ()) if self.pos < len(text) and text[self.pos] in "-." else ():
            if text.startswith(h, start) and (
                start + len(h) >= len(text) or not _ident_char(text[start + len(h)])
            ):
                self.pos = start + len(h)
                word = h
                break
        if word == "in" and text.startswith("~", self.pos):
            self.pos += 1
            self.emit(OP, start, "in~")
            return
        self.emit(IDENT, start, word)


def tokenize(text: str) -> list[Token]:
    """All tokens of `text`, ending with one `EOF` token."""
    return _Lexer(text).run()
