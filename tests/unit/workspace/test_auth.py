from __future__ import annotations

import datetime as dt
from email.utils import format_datetime

import pytest

from calypso.wire import sharedkey
from calypso.workspace.auth import (
    AuthError,
    TokenIndex,
    check_date,
    parse_sharedkey,
    require,
    verify_sharedkey,
)
from calypso.workspace.layout import Token, WorkspaceSecrets, new_shared_key

A = WorkspaceSecrets(
    "aaaa", new_shared_key(), new_shared_key(), (Token("tok-a-read", "reader"), Token("tok-a-admin", "admin"))
)
B = WorkspaceSecrets("bbbb", new_shared_key(), new_shared_key(), (Token("tok-b-ingest", "ingest"),))


def test_tokens_resolve_to_their_workspace_and_role() -> None:
    index = TokenIndex([A, B])
    assert index.principal("Bearer tok-a-read").workspace_id == "aaaa"
    assert index.principal("bearer tok-b-ingest").role == "ingest"
    for bad in (None, "", "Basic x", "Bearer nope"):
        with pytest.raises(AuthError) as e:
            index.principal(bad)
        assert e.value.status == 401


def test_require_role_and_workspace() -> None:
    index = TokenIndex([A, B])
    require(index.principal("Bearer tok-a-admin"), "aaaa", "reader")  # admin implies every role
    with pytest.raises(AuthError) as e:
        require(index.principal("Bearer tok-a-read"), "bbbb", "reader")
    assert e.value.status == 403
    with pytest.raises(AuthError):
        require(index.principal("Bearer tok-b-ingest"), "bbbb", "reader")


def test_date_window() -> None:
    now = dt.datetime(2026, 1, 1, 12, tzinfo=dt.UTC)
    check_date(format_datetime(now - dt.timedelta(minutes=14), usegmt=True), now)
    for bad in (None, "not a date", format_datetime(now + dt.timedelta(minutes=16), usegmt=True)):
        with pytest.raises(AuthError):
            check_date(bad, now)


def test_both_keys_verify_and_others_do_not() -> None:
    date = sharedkey.rfc1123_now()
    for key, ok in ((A.primary_key, True), (A.secondary_key, True), (B.primary_key, False)):
        sig = sharedkey.sign(key, date=date, content_length=10, resource="/api/logs")
        assert (
            verify_sharedkey(
                A, sig, date=date, content_length=10, content_type="application/json", resource="/api/logs"
            )
            is ok
        )
    sig = sharedkey.sign(A.primary_key, date=date, content_length=10)
    assert not verify_sharedkey(
        A, sig, date=date, content_length=11, content_type="application/json", resource="/api/logs"
    )


def test_parse_sharedkey() -> None:
    assert parse_sharedkey("SharedKey ws:abc= \n") == ("ws", "abc=")
    for bad in (None, "Bearer x", "SharedKey nocolon", "SharedKey :sig"):
        with pytest.raises(AuthError):
            parse_sharedkey(bad)
