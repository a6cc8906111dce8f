from __future__ import annotations

import threading
import time

from calypso.workspace.store.group import STOP, GroupPolicy, Item, WorkQueue


def write(rows: int, tag: str = "") -> Item:
    return Item("write", tag, None, rows)


def test_group_takes_consecutive_writes_in_order_up_to_max_rows() -> None:
    q = WorkQueue(GroupPolicy(target_rows=10, max_rows=100, linger=0.0))
    for i in range(5):
        q.put(write(40, f"w{i}"))
    first = q.get()
    assert [i.payload for i in q.group(first)] == ["w0", "w1", "w2"]  # stops once 120 >= 100 rows
    assert [i.payload for i in q.group(q.get())] == ["w3", "w4"]


def test_other_work_ends_a_group_and_keeps_its_place() -> None:
    q = WorkQueue(GroupPolicy(linger=0.0))
    for item in (write(1, "a"), write(1, "b"), Item("fn", "f", None), write(1, "c"), STOP):
        q.put(item)
    assert [i.payload for i in q.group(q.get())] == ["a", "b"]
    assert q.get().payload == "f"
    assert [i.payload for i in q.group(q.get())] == ["c"]
    assert q.get() is STOP


def test_small_group_waits_only_for_requests_being_prepared() -> None:
    q = WorkQueue(GroupPolicy(target_rows=100, max_rows=1000, linger=2.0))
    start = time.monotonic()
    assert len(q.group(write(1))) == 1  # nothing being prepared: no wait at all
    assert time.monotonic() - start < 0.5

    q.preparing(+1)

    def arrive() -> None:
        time.sleep(0.2)
        q.put(write(1, "late"))
        q.preparing(-1)

    threading.Thread(target=arrive).start()
    group = q.group(write(1, "first"))
    assert [i.payload for i in group] == ["first", "late"]


def test_linger_is_bounded() -> None:
    q = WorkQueue(GroupPolicy(target_rows=100, max_rows=1000, linger=0.2))
    q.preparing(+1)  # announced but never arrives
    start = time.monotonic()
    assert len(q.group(write(1))) == 1
    assert 0.15 < time.monotonic() - start < 1.5


def test_full_group_does_not_wait() -> None:
    q = WorkQueue(GroupPolicy(target_rows=10, max_rows=1000, linger=5.0))
    q.preparing(+1)
    start = time.monotonic()
    assert len(q.group(write(50))) == 1
    assert time.monotonic() - start < 0.5
