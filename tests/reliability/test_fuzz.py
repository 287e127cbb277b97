"""Fuzzing the parser: valid streams mutated and cut anywhere, random bytes, both back ends.

Bounded in CI; `ANYREDIS_FUZZ_EXAMPLES=200000 pytest tests/reliability/test_fuzz.py` runs
longer. Either back end may refuse a mutated stream, but only with ProtocolError, and neither
may hang, loop or use unbounded memory. (Agreement of the back ends on every valid stream is
checked in tests/protocol; on malformed input they differ in documented ways.)
"""

from __future__ import annotations

import os

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from anyredis_auth.protocol import NEED_DATA, Parser, ProtocolError, hiredis_available
from anyredis_auth.testing import resp_streams

EXAMPLES = int(os.environ.get("ANYREDIS_FUZZ_EXAMPLES", "700"))
BACKENDS = ("python", "hiredis") if hiredis_available() else ("python",)


def parse_all(backend: str, data: bytes, cuts: list[int]) -> list[object] | ProtocolError:
    parser = Parser(backend=backend, max_bulk_length=1 << 20)
    replies: list[object] = []
    start = 0
    try:
        for end in [*sorted(cuts), len(data)]:
            parser.feed(data[start:end])
            start = end
            for _ in range(len(data) + 1):  # bounded: a reply needs at least one byte
                reply = parser.next_reply()
                if reply is NEED_DATA:
                    break
                replies.append(reply)
            else:
                raise AssertionError("the parser produced more replies than bytes")
    except ProtocolError as exc:
        return exc
    return replies


@st.composite
def mutated_streams(draw: st.DrawFn) -> tuple[bytes, list[int]]:
    data = bytearray(draw(resp_streams(max_size=4))[0])
    for _ in range(draw(st.integers(0, 4))):
        if not data:
            break
        position = draw(st.integers(0, len(data) - 1))
        action = draw(st.sampled_from(["flip", "insert", "delete", "digits"]))
        if action == "flip":
            data[position] = draw(st.integers(0, 255))
        elif action == "insert":
            data[position:position] = draw(st.binary(min_size=1, max_size=4))
        elif action == "delete":
            del data[position]
        else:
            data[position:position] = draw(st.sampled_from([b"-1", b"9999999999", b"0", b"\r\n"]))
    cuts = draw(st.lists(st.integers(0, len(data)), max_size=5))
    return bytes(data), cuts


@settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(mutated_streams())
def test_mutated_streams_only_raise_protocol_errors(case: tuple[bytes, list[int]]) -> None:
    data, cuts = case
    for backend in BACKENDS:
        parse_all(backend, data, cuts)


@settings(max_examples=EXAMPLES, deadline=None)
@given(st.binary(max_size=512), st.lists(st.integers(0, 512), max_size=5))
def test_random_bytes_only_raise_protocol_errors(data: bytes, cuts: list[int]) -> None:
    for backend in BACKENDS:
        parse_all(backend, data, [cut for cut in cuts if cut <= len(data)])
