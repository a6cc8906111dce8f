"""Fuzzing compile_query: arbitrary text and mutated corpus queries raise only KqlError.

A user typing anything gets either SQL or a KqlError with a position, never a stack trace. The
mutations delete, duplicate and insert tokens of real queries (from the development corpus when it
is present, else a few built-in queries), which reaches far deeper into the binder than random text.
"""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from calypso.kql import KqlError, compile_query
from calypso.wire.schemas import standard_tables

REPO = Path(__file__).resolve().parents[3]
CORPUS = REPO / ".." / "shared" / "kql" / "dev-corpus.jsonl"
CATALOG: dict[str, list[tuple[str, str]]] = {
    **{name: list(cols) for name, cols in standard_tables().items()},
    "Syslog": [
        ("TimeGenerated", "datetime"),
        ("Computer", "string"),
        ("Facility", "string"),
        ("SeverityLevel", "string"),
        ("SyslogMessage", "string"),
        ("ProcessID", "int"),
        ("EventTime", "datetime"),
    ],
    "Perf": [
        ("TimeGenerated", "datetime"),
        ("Computer", "string"),
        ("CounterName", "string"),
        ("CounterValue", "real"),
        ("Tags", "dynamic"),
    ],
}
BUILTIN = [
    "Syslog | where SeverityLevel == 'err' | summarize count() by Computer, bin(TimeGenerated, 1h)",
    "Perf | where CounterName == 'cpu' | extend v = CounterValue * 2 | top 5 by v desc",
    "let x = 5; Syslog | take x | project Computer, m = strcat(Facility, ':', SyslogMessage)",
    "Perf | summarize avg(CounterValue), percentile(CounterValue, 95) by Computer | order by Computer",
    "Syslog | join kind=leftouter (Perf | summarize max(CounterValue) by Computer) on Computer",
    "Perf | mv-expand t = Tags | extend s = tostring(t.name) | where s has 'x'",
    "datatable(a:long, b:string)[1, 'x', 2, 'y'] | sort by a asc | serialize r = row_number()",
    "Syslog | parse SyslogMessage with 'user ' User ' from ' Ip | distinct User, Ip",
]
TOKEN = re.compile(r"\s+|[A-Za-z_][A-Za-z0-9_]*|\d+|'[^']*'|\"[^\"]*\"|.")
NOW = datetime(2024, 1, 1, tzinfo=UTC)
FUZZ = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def _queries() -> list[str]:
    if not CORPUS.exists():
        return BUILTIN
    lines = CORPUS.read_text("utf-8").splitlines()
    corpus = [str(json.loads(line)["query"]) for line in lines if line.strip()]
    return [q for q in corpus if len(q) < 3000] + BUILTIN


QUERIES = _queries()
SNIPPETS = ["|", "(", ")", "[", "]", ",", ";", "=", "==", "by", "on", "let", "summarize", "where", "'", '"']
SNIPPETS += [
    "extend",
    "project",
    "join",
    "mv-expand",
    "count()",
    "1h",
    "*",
    "-",
    ".",
    "{",
    "}",
    "dynamic(",
    "in~",
]


def _compiles_or_kql_error(text: str) -> None:
    try:
        out = compile_query(text, CATALOG, now=NOW)
    except KqlError as e:
        assert e.line >= 1 and e.column >= 1 and e.message
        return
    assert out.sql.strip()


@FUZZ
@given(st.text(max_size=200))
def test_arbitrary_text_raises_only_kql_error(text: str) -> None:
    _compiles_or_kql_error(text)


@FUZZ
@given(st.lists(st.sampled_from([*SNIPPETS, "Syslog", "Perf", "Computer", " ", "x", "1"]), max_size=40))
def test_token_soup_raises_only_kql_error(parts: list[str]) -> None:
    _compiles_or_kql_error(" ".join(parts))


@FUZZ
@given(st.data())
def test_mutated_corpus_queries_raise_only_kql_error(data: st.DataObject) -> None:
    query = data.draw(st.sampled_from(QUERIES))
    tokens = TOKEN.findall(query)
    for _ in range(data.draw(st.integers(1, 4))):
        if not tokens:
            break
        i = data.draw(st.integers(0, len(tokens) - 1))
        action = data.draw(st.sampled_from(["delete", "insert", "duplicate"]))
        if action == "delete":
            del tokens[i]
        elif action == "insert":
            tokens.insert(i, data.draw(st.sampled_from(SNIPPETS)))
        else:
            tokens.insert(i, tokens[i])
    _compiles_or_kql_error("".join(tokens))
