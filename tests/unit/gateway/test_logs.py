from __future__ import annotations

import logging

import pytest

from calypso.gateway.logs import FieldsFormatter, Throttle, event, logger


def test_fields_come_first_then_the_sentence() -> None:
    record = logging.LogRecord("calypso.gateway", logging.INFO, "", 0, "Tunnel opened.", None, None)
    record.fields = {"client": "127.0.0.1:5555", "target": "ws.example:443", "note": "two words"}
    line = FieldsFormatter().format(record)
    assert line.endswith(
        ' INFO  gateway client=127.0.0.1:5555 target=ws.example:443 note="two words" Tunnel opened.'
    )


def test_throttle_caps_lines_per_window_and_reports_the_rest(caplog: pytest.LogCaptureFixture) -> None:
    now = [0.0]
    throttle = Throttle("Request refused.", burst=3, window=1.0, clock=lambda: now[0])
    assert [throttle.allow() for _ in range(5)] == [True, True, True, False, False]
    with caplog.at_level(logging.INFO, logger=logger.name):
        throttle.flush()  # window not over: nothing yet
        assert not caplog.records
        now[0] = 1.5
        assert throttle.allow()  # a new window
    summary = caplog.records[-1]
    assert summary.getMessage() == "Log lines suppressed."
    assert summary.fields == {"what": "Request refused.", "suppressed": 2}  # type: ignore[attr-defined]


def test_event_skips_work_when_level_is_off(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger=logger.name):
        event(logging.INFO, "Tunnel opened.", client="x")
    assert not caplog.records
