"""Property tests of the codec, built on the public strategies of anyredis_auth.testing."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from anyredis_auth.protocol import (
    NEED_DATA,
    CommandArg,
    Parser,
    ProtocolError,
    encode_command,
    encode_commands,
    hiredis_available,
)
from anyredis_auth.testing import (
    argument_bytes,
    chunkings,
    commands,
    replies_equal,
    resp_streams,
    resp_values,
)

needs_hiredis = pytest.mark.skipif(not hiredis_available(), reason="hiredis is not installed")
BACKENDS = ["python", pytest.param("hiredis", marks=needs_hiredis)]
PROPERTY = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def feed_all(parser: Parser, chunks: list[bytes]) -> list[object]:
    """Feed chunk by chunk, draining after each; bounded: every reply consumes a byte."""
    budget = sum(len(chunk) for chunk in chunks) + 1
    replies: list[object] = []
    for chunk in chunks:
        parser.feed(chunk)
        while (reply := parser.next_reply()) is not NEED_DATA:
            replies.append(reply)
            budget -= 1
            assert budget > 0, "more replies than bytes: the parser loops"
    return replies


def bytewise(data: bytes) -> list[bytes]:
    return [data[index : index + 1] for index in range(len(data))]


# -- encoder -> parser -----------------------------------------------------------------------


@pytest.mark.parametrize("backend", BACKENDS)
@PROPERTY
@given(args=commands(), data=st.data())
def test_encoded_command_parses_back(
    backend: str, args: tuple[CommandArg, ...], data: st.DataObject
) -> None:
    wire = encode_command(*args)
    chunks = data.draw(chunkings(wire), label="chunks")
    replies = feed_all(Parser(backend=backend), chunks)
    assert replies == [[argument_bytes(arg) for arg in args]]


@PROPERTY
@given(batch=st.lists(commands(max_args=4), max_size=5))
def test_encode_commands_is_concatenation(batch: list[tuple[CommandArg, ...]]) -> None:
    wire = encode_commands(batch)
    assert wire == b"".join(encode_command(*args) for args in batch)
    assert feed_all(Parser(backend="python"), [wire]) == [
        [argument_bytes(arg) for arg in args] for args in batch
    ]


# -- generated replies -----------------------------------------------------------------------


@pytest.mark.parametrize("backend", BACKENDS)
@PROPERTY
@given(stream=resp_streams(), data=st.data())
def test_streams_in_arbitrary_chunks(
    backend: str, stream: tuple[bytes, list[object]], data: st.DataObject
) -> None:
    wire, expected = stream
    chunks = data.draw(chunkings(wire), label="chunks")
    assert replies_equal(feed_all(Parser(backend=backend), chunks), expected)


@pytest.mark.parametrize("backend", BACKENDS)
@PROPERTY
@given(stream=resp_streams(max_size=3))
def test_streams_byte_at_a_time(backend: str, stream: tuple[bytes, list[object]]) -> None:
    wire, expected = stream
    assert replies_equal(feed_all(Parser(backend=backend), bytewise(wire)), expected)


@pytest.mark.parametrize("backend", BACKENDS)
@PROPERTY
@given(stream=resp_streams(encoding="utf-8"), data=st.data())
def test_decoded_streams(
    backend: str, stream: tuple[bytes, list[object]], data: st.DataObject
) -> None:
    wire, expected = stream
    chunks = data.draw(chunkings(wire), label="chunks")
    parser = Parser(backend=backend, encoding="utf-8")
    assert replies_equal(feed_all(parser, chunks), expected)


@pytest.mark.parametrize("backend", BACKENDS)
@PROPERTY
@given(stream=resp_streams(protocol=2), data=st.data())
def test_resp2_streams(
    backend: str, stream: tuple[bytes, list[object]], data: st.DataObject
) -> None:
    wire, expected = stream
    chunks = data.draw(chunkings(wire), label="chunks")
    assert replies_equal(feed_all(Parser(2, backend), chunks), expected)


def outcome(parser: Parser, chunks: list[bytes]) -> tuple[list[object], bool]:
    """The replies parsed before a ProtocolError, and whether one came."""
    replies: list[object] = []
    try:
        for chunk in chunks:
            parser.feed(chunk)
            while (reply := parser.next_reply()) is not NEED_DATA:
                replies.append(reply)
    except ProtocolError:
        return replies, True
    return replies, False


@needs_hiredis
@PROPERTY
@given(
    stream=resp_streams(max_size=8),
    encoding=st.sampled_from([None, "utf-8"]),
    data=st.data(),
)
def test_back_ends_agree(
    stream: tuple[bytes, list[object]], encoding: str | None, data: st.DataObject
) -> None:
    # With an encoding, binary payloads may not decode: both back ends must then fail at the
    # same reply.
    wire, _ = stream
    chunks = data.draw(chunkings(wire), label="chunks")
    python_replies, python_failed = outcome(Parser(backend="python", encoding=encoding), chunks)
    hiredis_replies, hiredis_failed = outcome(Parser(backend="hiredis", encoding=encoding), chunks)
    assert python_failed == hiredis_failed
    assert replies_equal(python_replies, hiredis_replies)
    if encoding is None:
        assert not python_failed


@PROPERTY
@given(pair=resp_values(max_depth=6, max_size=3))
def test_single_values_python(pair: tuple[bytes, object]) -> None:
    wire, expected = pair
    assert replies_equal(feed_all(Parser(backend="python"), [wire]), [expected])


# -- hostile input ---------------------------------------------------------------------------


def survive(backend: str, chunks: list[bytes], encoding: str | None) -> None:
    """Only ProtocolError may escape, the parser must not loop, and a failure is final."""
    parser = Parser(backend=backend, encoding=encoding)
    try:
        feed_all(parser, chunks)
    except ProtocolError:
        with pytest.raises(ProtocolError, match="failed state"):
            parser.next_reply()
        with pytest.raises(ProtocolError, match="failed state"):
            parser.feed(b"+OK\r\n")


@st.composite
def mutated_streams(draw: st.DrawFn) -> bytes:
    wire, _ = draw(resp_streams())
    buffer = bytearray(wire)
    for _ in range(draw(st.integers(1, 4))):
        operation = draw(st.sampled_from(["replace", "insert", "delete", "truncate"]))
        if operation == "replace" and buffer:
            index = draw(st.integers(0, len(buffer) - 1))
            buffer[index] = draw(st.integers(0, 255))
        elif operation == "insert":
            index = draw(st.integers(0, len(buffer)))
            buffer[index:index] = draw(
                st.binary(min_size=1, max_size=4) | st.sampled_from([b"|", b"!", b"\r\n|1\r\n"])
            )
        elif operation == "delete" and buffer:
            index = draw(st.integers(0, len(buffer) - 1))
            del buffer[index : index + draw(st.integers(1, 4))]
        elif operation == "truncate":
            del buffer[draw(st.integers(0, len(buffer))) :]
    return bytes(buffer)


@pytest.mark.parametrize("backend", BACKENDS)
@PROPERTY
@given(
    wire=st.binary(max_size=300),
    encoding=st.sampled_from([None, "utf-8"]),
    data=st.data(),
)
def test_random_bytes(backend: str, wire: bytes, encoding: str | None, data: st.DataObject) -> None:
    survive(backend, data.draw(chunkings(wire), label="chunks"), encoding)


@pytest.mark.parametrize("backend", BACKENDS)
@PROPERTY
@given(wire=mutated_streams(), encoding=st.sampled_from([None, "utf-8"]), data=st.data())
def test_mutated_streams(
    backend: str, wire: bytes, encoding: str | None, data: st.DataObject
) -> None:
    survive(backend, data.draw(chunkings(wire), label="chunks"), encoding)
    survive(backend, bytewise(wire[:200]), encoding)
