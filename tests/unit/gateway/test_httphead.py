from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from calypso.gateway.httphead import MAX_HEAD_BYTES, HeadError, find_head_end, parse_head, response


def test_parses_connect_with_headers() -> None:
    raw = b"CONNECT ws.example.com:443 HTTP/1.1\r\nHost: ws.example.com:443\r\nProxy-Authorization: Basic eA==\r\n\r\n"
    head = parse_head(raw)
    assert (head.method, head.target, head.version) == ("CONNECT", "ws.example.com:443", "HTTP/1.1")
    assert head.header("proxy-authorization") == "Basic eA=="
    assert head.header("Host") == "ws.example.com:443"
    assert head.header("missing") is None


@pytest.mark.parametrize(
    "raw",
    [
        b"\r\n\r\n",
        b"GARBAGE\r\n\r\n",
        b"CONNECT  ws:443 HTTP/1.1\r\n\r\n",
        b"CONNECT ws:443 HTTP/2.0\r\n\r\n",
        b"CONNECT ws:443 HTTP/1.1 extra\r\n\r\n",
        b"CONN\x00ECT ws:443 HTTP/1.1\r\n\r\n",
        b"CONNECT ws:443 HTTP/1.1\r\nno colon here\r\n\r\n",
        b"CONNECT ws:443 HTTP/1.1\r\nBad Name: x\r\n\r\n",
    ],
)
def test_malformed_heads_are_400(raw: bytes) -> None:
    with pytest.raises(HeadError) as info:
        parse_head(raw)
    assert info.value.status == 400


def test_oversized_head_is_431() -> None:
    raw = b"CONNECT ws:443 HTTP/1.1\r\nX-Big: " + b"a" * MAX_HEAD_BYTES + b"\r\n\r\n"
    with pytest.raises(HeadError) as info:
        parse_head(raw)
    assert info.value.status == 431


def test_find_head_end_points_past_blank_line() -> None:
    assert find_head_end(b"CONNECT a:1 HTTP/1.1\r\n\r\nTLS") == len(b"CONNECT a:1 HTTP/1.1\r\n\r\n")
    assert find_head_end(b"CONNECT a:1 HTTP/1.1\r\n") == -1


def test_response_closes_and_sizes_body() -> None:
    raw = response(403, "no", (("X-A", "b"),))
    head, _, body = raw.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 403 Forbidden\r\n")
    assert b"Connection: close" in head and b"X-A: b" in head
    assert body == b"no\n" and b"Content-Length: 3" in head


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=300))
def test_any_bytes_parse_or_raise_head_error(data: bytes) -> None:
    try:
        head = parse_head(data + b"\r\n\r\n")
    except HeadError as e:
        assert e.status in (400, 431)
    else:
        assert head.version in ("HTTP/1.0", "HTTP/1.1")
