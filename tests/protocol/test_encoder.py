"""encode_command / encode_commands: exact bytes, every accepted type, clear refusals."""

from __future__ import annotations

import array
import enum
from collections.abc import Callable

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from anyredis_auth.protocol import encode_command, encode_commands
from anyredis_auth.protocol._encoder import Pieces, encode_pieces


def test_exact_bytes_of_a_simple_command() -> None:
    assert encode_command("GET", "key") == b"*2\r\n$3\r\nGET\r\n$3\r\nkey\r\n"


def test_exact_bytes_of_a_mixed_command() -> None:
    assert encode_command("SET", b"k", 12, "EX", 60) == (
        b"*5\r\n$3\r\nSET\r\n$1\r\nk\r\n$2\r\n12\r\n$2\r\nEX\r\n$2\r\n60\r\n"
    )


def test_single_argument_command() -> None:
    assert encode_command("PING") == b"*1\r\n$4\r\nPING\r\n"


def test_empty_and_binary_arguments() -> None:
    assert encode_command(b"SET", b"", b"\r\n\x00\xff") == (
        b"*3\r\n$3\r\nSET\r\n$0\r\n\r\n$4\r\n\r\n\x00\xff\r\n"
    )


def test_str_is_utf8() -> None:
    assert encode_command("SET", "clé", "日本") == (
        b"*3\r\n$3\r\nSET\r\n$4\r\ncl\xc3\xa9\r\n$6\r\n\xe6\x97\xa5\xe6\x9c\xac\r\n"
    )


@pytest.mark.parametrize(
    ("value", "wire"),
    [
        (0, b"0"),
        (-12, b"-12"),
        (2**70, b"1180591620717411303424"),
        (1.5, b"1.5"),
        (0.1, b"0.1"),
        (-0.0, b"-0.0"),
        (1e16, b"1e+16"),
        (float("inf"), b"inf"),
        (float("-inf"), b"-inf"),
        (bytearray(b"ba"), b"ba"),
        (memoryview(b"mv"), b"mv"),
        (memoryview(b"xmvx")[1:3], b"mv"),
    ],
)
def test_accepted_types(value: int | float | bytearray | memoryview, wire: bytes) -> None:
    assert encode_command("X", value) == b"*2\r\n$1\r\nX\r\n$%d\r\n%b\r\n" % (len(wire), wire)


def test_float_round_trips() -> None:
    value = 0.1 + 0.2
    payload = encode_command("X", value).split(b"\r\n")[4]
    assert float(payload) == value


def test_memoryview_of_wider_items_sends_its_bytes() -> None:
    view = memoryview(array.array("H", [1, 2]))
    raw = view.tobytes()
    assert encode_command("X", view) == b"*2\r\n$1\r\nX\r\n$4\r\n" + raw + b"\r\n"


def test_non_contiguous_memoryview() -> None:
    view = memoryview(b"abcdef")[::2]
    assert encode_command("X", view) == b"*2\r\n$1\r\nX\r\n$3\r\nace\r\n"


def test_int_and_str_subclasses_send_their_value() -> None:
    class Number(enum.IntEnum):
        TEN = 10

    class Text(str):
        pass

    assert encode_command("X", Number.TEN, Text("t")) == (
        b"*3\r\n$1\r\nX\r\n$2\r\n10\r\n$1\r\nt\r\n"
    )


def test_large_argument_and_many_arguments() -> None:
    big = b"x" * 5000
    many = [str(n) for n in range(100)]
    assert encode_command("SET", "k", big) == b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$5000\r\n" + (
        big + b"\r\n"
    )
    assert encode_command("DEL", *many).startswith(b"*101\r\n$3\r\nDEL\r\n$1\r\n0\r\n")


@pytest.mark.parametrize(
    ("value", "type_name"),
    [
        (None, "NoneType"),
        (True, "bool"),
        (False, "bool"),
        ({}, "dict"),
        ([], "list"),
        ((1,), "tuple"),
        (object(), "object"),
        (1j, "complex"),
    ],
)
def test_refused_types_name_position_and_type(value: object, type_name: str) -> None:
    with pytest.raises(TypeError) as info:
        encode_command("SET", "key", value)  # type: ignore[arg-type]
    message = str(info.value)
    assert f"argument 3 of the command has type {type_name}" in message
    assert "expected bytes, str, int, float, bytearray or memoryview" in message


def test_first_refused_argument_is_named() -> None:
    with pytest.raises(TypeError, match="argument 1 of the command has type NoneType"):
        encode_command(None, None)  # type: ignore[arg-type]


def test_nan_is_refused() -> None:
    with pytest.raises(ValueError, match="argument 2 of the command is a float NaN"):
        encode_command("X", float("nan"))


def test_unencodable_str_is_refused() -> None:
    with pytest.raises(ValueError, match="argument 2 of the command is a str that cannot"):
        encode_command("X", "\udc80")


def test_empty_command_is_refused() -> None:
    with pytest.raises(ValueError, match="empty"):
        encode_command()


def test_encode_commands_concatenates() -> None:
    commands = [("SET", "k", 1), ("GET", "k"), ["PING"]]
    expected = b"".join(encode_command(*command) for command in commands)
    assert encode_commands(commands) == expected
    assert encode_commands(iter(commands)) == expected
    assert encode_commands([]) == b""


def test_encode_commands_errors_name_the_command() -> None:
    with pytest.raises(TypeError, match="argument 2 of command 2 has type NoneType"):
        encode_commands([("PING",), ("GET", None)])  # type: ignore[list-item]
    with pytest.raises(ValueError, match="command 3 is empty"):
        encode_commands([("PING",), ("PING",), ()])


# -- the hot path: encode_pieces (cached heads, the 2-argument join, Pieces) ---------------------

_ARGUMENT = st.one_of(
    st.binary(max_size=1100),
    st.text(max_size=400),  # lone surrogates included: refused, like encode_command
    st.integers(),
    st.floats(allow_nan=True),
    st.binary(max_size=40).map(bytearray),
    st.binary(max_size=40).map(memoryview),
    st.sampled_from([None, True, 1.5j]),
)
_NAME = st.one_of(
    st.sampled_from(["GET", "SET", "DEL", b"GET", b"INCR", "TTL", "MGET", "HSET"]),
    _ARGUMENT,
)


def _outcome(encode: Callable[..., object], args: tuple[object, ...]) -> object:
    try:
        result = encode(*args)
    except (TypeError, ValueError) as exc:
        return (type(exc), str(exc))
    return result.tobytes() if isinstance(result, Pieces) else result


@settings(max_examples=400)
@given(st.tuples(_NAME), st.lists(_ARGUMENT, max_size=9))
def test_encode_pieces_agrees_with_encode_command(name: tuple[object], rest: list[object]) -> None:
    args = name + tuple(rest)
    for _ in range(2):  # the second time with the command's head cached
        assert _outcome(encode_pieces, args) == _outcome(encode_command, args)
