from __future__ import annotations

import pytest

from calypso.gateway.counters import REASONS, Counters, prometheus


def test_snapshot_lists_every_reason_and_totals() -> None:
    counters = Counters()
    counters.refuse("not_allowed")
    counters.refuse("not_allowed")
    counters.refuse("auth_failed")
    snapshot = counters.snapshot()
    assert set(snapshot["refusals"]) == set(REASONS)
    assert snapshot["refusals"]["not_allowed"] == 2 and snapshot["refusals_total"] == 3
    assert snapshot["status"] == "ok"
    counters.draining = True
    assert counters.snapshot()["status"] == "draining"


def test_unknown_reason_is_a_programming_error() -> None:
    with pytest.raises(AssertionError):
        Counters().refuse("because")


def test_prometheus_text_carries_the_same_numbers() -> None:
    counters = Counters()
    counters.bytes_up = 1234
    counters.tunnels_open = 3
    counters.refuse("tunnel_limit")
    text = prometheus(counters.snapshot()).decode()
    assert "calypso_gateway_bytes_up 1234\n" in text
    assert "calypso_gateway_tunnels_open 3\n" in text
    assert 'calypso_gateway_refusals{reason="tunnel_limit"} 1\n' in text
    assert "calypso_gateway_up 1\n" in text
