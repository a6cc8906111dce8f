"""Hypothesis fuzz of the /proc parsers: any text in, no exception out, only sane values kept."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from calypso.agent.sources.perf.procfs import (
    parse_diskstats,
    parse_first_float,
    parse_keyvalue,
    parse_mounts,
    parse_net_dev,
    parse_pid_stat,
    parse_stat,
    parse_statm,
    parse_utmp,
)

# text that looks like /proc files often enough to reach the interesting branches
proc_like = st.lists(
    st.one_of(
        st.text(max_size=60),
        st.lists(
            st.one_of(
                st.from_regex(r"-?\d{1,20}", fullmatch=True),
                st.sampled_from(["cpu", "cpu0", "eth0:", "kB", "(x)", ")", "("]),
            ),
            max_size=20,
        ).map(" ".join),
    ),
    max_size=15,
).map("\n".join)


@settings(max_examples=300, deadline=None)
@given(proc_like)
def test_parsers_never_raise(text: str) -> None:
    cpus = parse_stat(text).value
    assert all(t.total >= 0 for t in cpus.values())
    assert all(label == "_Total" or label.isdigit() for label in cpus)
    parse_keyvalue(text)
    assert all(d.reads >= 0 and d.sectors_written >= 0 for d in parse_diskstats(text).value.values())
    parse_net_dev(text)
    parse_mounts(text)
    parse_first_float(text)
    parse_pid_stat(text)
    parse_statm(text)


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=2000))
def test_utmp_parser_never_raises(data: bytes) -> None:
    assert 0 <= parse_utmp(data) <= len(data) // 384


def test_known_lines() -> None:
    assert parse_stat("cpu  1 2 3 4\ncpu7 1 1 1 1 1 1 1 1\ncpux 1 2 3 4\n").value["7"].total == 8
    assert parse_stat("cpu 1 2 -3 4\n").bad == 1
    assert parse_keyvalue("MemTotal: 10 kB\ngarbage\n").value == {"MemTotal": 10}
    assert parse_pid_stat("12 (a b) c) S " + " ".join(["0"] * 10) + " 5 6 0") is not None
    assert parse_pid_stat("not a stat line") is None
    mounts = parse_mounts("/dev/sda1 /mnt/a\\040b ext4 rw 0 0\nshort\n")
    assert mounts.value[0].mount_point == "/mnt/a b" and mounts.bad == 1
