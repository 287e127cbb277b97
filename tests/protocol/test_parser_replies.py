"""`Parser.replies`: a chunk's replies at once, the same as `next_reply` one by one, with an
error met after some replies raised by the next call (both back ends)."""

from __future__ import annotations

import pytest

from anyredis_auth.protocol import NEED_DATA, Parser, ProtocolError, Push, hiredis_available
from anyredis_auth.testing import replies_equal

needs_hiredis = pytest.mark.skipif(not hiredis_available(), reason="hiredis is not installed")
BACKENDS = ["python", pytest.param("hiredis", marks=needs_hiredis)]

STREAM = (
    b"+OK\r\n$5\r\nhello\r\n:42\r\n*2\r\n$1\r\na\r\n$-1\r\n%1\r\n+k\r\n:1\r\n"
    b">2\r\n+message\r\n+x\r\n-ERR bad\r\n#f\r\n,1.5\r\n"
    # Those two take the hiredis back end's hand-over to the Python parser and back.
    b"!3\r\nERR\r\n|1\r\n+a\r\n+b\r\n:7\r\n"
    b"$3\r\nend\r\n"
)


def one_by_one(parser: Parser) -> list[object]:
    replies = []
    while (reply := parser.next_reply()) is not NEED_DATA:
        replies.append(reply)
    return replies


def all_replies(parser: Parser) -> list[object]:
    replies: list[object] = []
    while batch := parser.replies():
        replies.extend(batch)
    return replies


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("chunk", [1, 2, 3, 7, 64, len(STREAM)])
def test_replies_equal_next_reply(backend: str, chunk: int) -> None:
    ours, reference = Parser(backend=backend), Parser(backend=backend)
    got: list[object] = []
    expected: list[object] = []
    for start in range(0, len(STREAM), chunk):
        piece = STREAM[start : start + chunk]
        ours.feed(piece)
        reference.feed(piece)
        got += all_replies(ours)
        expected += one_by_one(reference)
    assert len(got) == 12
    assert replies_equal(got, expected)
    assert type(got[5]) is Push


@pytest.mark.parametrize("backend", BACKENDS)
def test_empty_when_more_bytes_are_needed(backend: str) -> None:
    parser = Parser(backend=backend)
    assert parser.replies() == []
    parser.feed(b"$9\r\nhalf")
    assert parser.replies() == []
    parser.feed(b"-done\r\n")
    assert parser.replies() == [b"half-done"]


@pytest.mark.parametrize("backend", BACKENDS)
def test_an_error_after_replies_comes_with_the_next_call(backend: str) -> None:
    parser = Parser(backend=backend)
    parser.feed(b"+one\r\n:2\r\n?what\r\n")
    assert parser.replies() == [b"one", 2]
    with pytest.raises(ProtocolError) as first:
        parser.replies()
    assert "failed state" not in str(first.value)  # the error itself, not its echo
    with pytest.raises(ProtocolError, match="failed state"):
        parser.replies()


@pytest.mark.parametrize("backend", BACKENDS)
def test_an_error_first_is_raised_at_once(backend: str) -> None:
    parser = Parser(backend=backend)
    parser.feed(b"?what\r\n")
    with pytest.raises(ProtocolError):
        parser.replies()


@pytest.mark.parametrize("backend", BACKENDS)
def test_a_hostile_header_after_replies(backend: str) -> None:
    # hiredis would wait for the declared length: the header check refuses it at once.
    parser = Parser(backend=backend, max_bulk_length=1000)
    parser.feed(b"+one\r\n$99999999999\r\n")
    assert parser.replies() == [b"one"]
    with pytest.raises(ProtocolError):
        parser.replies()
