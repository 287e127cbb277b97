"""Blocking plans: segments and ``XREAD ... $`` resolution, with no socket.

`plan_blocking` itself (where the timeout is) is covered in
tests/connection/test_blocking_rotation.py.
"""

from __future__ import annotations

import pytest

from anyredis_auth.protocol import NEED_DATA, CommandArg, Parser, encode_command
from anyredis_auth.protocol._blocking import (
    BlockingPlan,
    dollar_queries,
    plan_blocking,
    resolve_dollars,
    segment_command,
)


def plan(*args: CommandArg) -> BlockingPlan:
    result = plan_blocking(args)
    assert result is not None
    return result


def decoded(data: bytes) -> list[bytes]:
    """The command as the server reads it (a RESP array of bulk strings)."""
    parser = Parser(backend="python")
    parser.feed(data)
    command = parser.next_reply()
    assert isinstance(command, list)
    assert parser.next_reply() is NEED_DATA  # exactly one command
    return command


# -- segment_command ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("args", "wait", "expected"),
    [
        (("BLPOP", "a", "b", 0), 0.25, [b"BLPOP", b"a", b"b", b"0.250"]),
        (("BRPOP", "a", "30"), 2.5, [b"BRPOP", b"a", b"2.500"]),
        (("BLMOVE", "s", "d", "LEFT", "RIGHT", 0), 1, [b"BLMOVE", b"s", b"d", b"LEFT", b"RIGHT",
                                                      b"1.000"]),
        (("BZPOPMAX", b"z", 0), 0.002, [b"BZPOPMAX", b"z", b"0.002"]),
        (("BLMPOP", 0, 2, "a", "b", "LEFT"), 0.5, [b"BLMPOP", b"0.500", b"2", b"a", b"b",
                                                   b"LEFT"]),
        (("BZMPOP", "9", 1, "z", "MIN", "COUNT", 3), 0.125, [b"BZMPOP", b"0.125", b"1", b"z",
                                                             b"MIN", b"COUNT", b"3"]),
        (("XREAD", "BLOCK", 0, "STREAMS", "s", "0-0"), 0.25, [b"XREAD", b"BLOCK", b"250",
                                                              b"STREAMS", b"s", b"0-0"]),
        (("XREADGROUP", "GROUP", "g", "c", "COUNT", 5, "BLOCK", 60000, "STREAMS", "s", ">"),
         1.5, [b"XREADGROUP", b"GROUP", b"g", b"c", b"COUNT", b"5", b"BLOCK", b"1500",
               b"STREAMS", b"s", b">"]),
    ],
)  # fmt: skip
def test_segment_command(args: tuple[CommandArg, ...], wait: float, expected: list[bytes]) -> None:
    data = segment_command(plan(*args), wait)
    assert decoded(data) == expected
    assert data == encode_command(*expected)


def test_segment_command_leaves_the_plan_alone() -> None:
    blocking = plan("BLPOP", "a", 0)
    segment_command(blocking, 0.5)
    segment_command(blocking, 0.25)
    assert blocking.args == ["BLPOP", "a", 0]
    assert blocking.timeout == 0.0


def test_millisecond_segment_is_at_least_one_millisecond() -> None:
    # BLOCK 0 means "for ever": a tiny wait must never become it.
    for wait in (0.0, 0.0001, 0.0009):
        command = decoded(segment_command(plan("XREAD", "BLOCK", 5, "STREAMS", "s", "0"), wait))
        assert command[2] == b"1"


def test_seconds_segment_is_at_least_one_millisecond() -> None:
    for wait in (0.0001, 0.0004):
        timeout = decoded(segment_command(plan("BLPOP", "a", 0), wait))[2]
        assert float(timeout) > 0


# -- XREAD ... $ ----------------------------------------------------------------------------------


def test_dollar_queries_one_per_dollar_stream() -> None:
    blocking = plan("XREAD", "COUNT", 1, "BLOCK", 0, "STREAMS", "s1", b"s2", "s3", "$", "7-0", "$")
    assert dollar_queries(blocking) == [
        ["XREVRANGE", "s1", "+", "-", "COUNT", 1],
        ["XREVRANGE", "s3", "+", "-", "COUNT", 1],
    ]
    assert plan("XREAD", "BLOCK", 0, "STREAMS", "s", b"$").dollars == [(4, 5)]


def test_no_dollar_no_queries() -> None:
    assert dollar_queries(plan("XREAD", "BLOCK", 0, "STREAMS", "s", "0-0")) == []
    # XREADGROUP reads with ">" (or an ID); it has no "$" to resolve.
    group_read = plan("XREADGROUP", "GROUP", "g", "c", "BLOCK", 0, "STREAMS", "s", "$")
    assert dollar_queries(group_read) == []


@pytest.mark.parametrize(
    ("reply", "last"),
    [
        # RESP2: an array of [id, [field, value, ...]] entries.
        ([[b"1700000000000-3", [b"f", b"v"]]], b"1700000000000-3"),
        ([("5-1", ["f", "v"])], "5-1"),  # decoded, and a tuple entry
        # RESP3 map shapes: an entry as a one-key map, or the reply itself a map.
        ([{b"9-9": {b"f": b"v"}}], b"9-9"),
        ({b"4-2": [b"f", b"v"]}, b"4-2"),
        # An empty (or missing) stream: everything after 0-0 is new.
        ([], "0-0"),
        ({}, "0-0"),
        (None, "0-0"),
    ],
)
def test_resolve_dollars_reply_shapes(reply: object, last: CommandArg) -> None:
    blocking = plan("XREAD", "BLOCK", 0, "STREAMS", "s", "$")
    resolve_dollars(blocking, [reply])
    assert blocking.args == ["XREAD", "BLOCK", 0, "STREAMS", "s", last]


def test_resolve_dollars_with_several_streams() -> None:
    args: tuple[CommandArg, ...] = ("XREAD", "BLOCK", 1000, "STREAMS", "a", "b", "c", "$", "3-0",
                                    "$")  # fmt: skip
    blocking = plan(*args)
    resolve_dollars(blocking, [[[b"10-1", [b"f", b"v"]]], []])
    assert blocking.args[4:] == ["a", "b", "c", b"10-1", "3-0", "0-0"]
    assert args[7] == "$"  # the caller's arguments are not touched
    # The segments then read from the resolved IDs.
    assert decoded(segment_command(blocking, 0.1)) == [
        b"XREAD", b"BLOCK", b"100", b"STREAMS", b"a", b"b", b"c", b"10-1", b"3-0", b"0-0"
    ]  # fmt: skip


def test_resolve_dollars_needs_one_reply_per_query() -> None:
    blocking = plan("XREAD", "BLOCK", 0, "STREAMS", "a", "b", "$", "$")
    with pytest.raises(ValueError):
        resolve_dollars(blocking, [[]])


def test_resolve_dollars_from_a_parsed_reply() -> None:
    # What a server really sends to XREVRANGE s + - COUNT 1, through the parser.
    parser = Parser(backend="python")
    parser.feed(b"*1\r\n*2\r\n$3\r\n2-5\r\n*2\r\n$1\r\nf\r\n$1\r\nv\r\n")
    blocking = plan("XREAD", "BLOCK", 0, "STREAMS", "s", "$")
    resolve_dollars(blocking, [parser.next_reply()])
    assert blocking.args[-1] == b"2-5"
