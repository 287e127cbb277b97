"""Parser unit tests: every RESP type, decoding, limits, malformed input, failed state, and the
hiredis pitfalls, for both back ends."""

from __future__ import annotations

import math
import pickle
import sys
import time
from collections.abc import Iterable

import pytest

from anyredis_auth.protocol import (
    NEED_DATA,
    NeedData,
    Parser,
    ProtocolError,
    Push,
    ResponseError,
    hiredis_available,
)
from anyredis_auth.protocol import _parser as parser_module
from anyredis_auth.testing import replies_equal

needs_hiredis = pytest.mark.skipif(not hiredis_available(), reason="hiredis is not installed")
BACKENDS = ["python", pytest.param("hiredis", marks=needs_hiredis)]


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


def drain(parser: Parser) -> list[object]:
    replies = []
    while (reply := parser.next_reply()) is not NEED_DATA:
        replies.append(reply)
    return replies


def feed_chunks(parser: Parser, chunks: Iterable[bytes]) -> list[object]:
    """Feed each chunk and drain after it."""
    replies = []
    for chunk in chunks:
        parser.feed(chunk)
        replies.extend(drain(parser))
    return replies


def bytewise(data: bytes) -> list[bytes]:
    return [data[index : index + 1] for index in range(len(data))]


def parse(data: bytes, backend: str, **options: object) -> list[object]:
    """Parse ``data`` fed whole, then byte at a time; both must agree."""
    parser = Parser(backend=backend, **options)  # type: ignore[arg-type]
    parser.feed(data)
    whole = drain(parser)
    parser = Parser(backend=backend, **options)  # type: ignore[arg-type]
    pieces = feed_chunks(parser, bytewise(data))
    assert replies_equal(pieces, whole), (pieces, whole)
    return whole


def parse_one(data: bytes, backend: str, **options: object) -> object:
    replies = parse(data, backend, **options)
    assert len(replies) == 1, replies
    return replies[0]


def protocol_error(data: bytes, backend: str, **options: object) -> ProtocolError:
    """Feed ``data`` whole and drain: a ProtocolError must come, and the parser stays failed."""
    parser = Parser(backend=backend, **options)  # type: ignore[arg-type]
    with pytest.raises(ProtocolError) as info:
        feed_chunks(parser, [data])
    with pytest.raises(ProtocolError, match="failed state"):
        parser.next_reply()
    with pytest.raises(ProtocolError, match="failed state"):
        parser.feed(b"+OK\r\n")
    return info.value


# -- construction ----------------------------------------------------------------------------


def test_backend_attribute(backend: str) -> None:
    parser = Parser(backend=backend)
    assert parser.backend == backend
    assert isinstance(parser, Parser)
    assert backend in repr(parser)


def test_auto_prefers_hiredis_when_installed() -> None:
    assert Parser().backend == ("hiredis" if hiredis_available() else "python")
    assert Parser(max_depth=10).backend == "python"


def test_missing_hiredis_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(parser_module, "_hiredis_available", None)
    monkeypatch.setitem(sys.modules, "hiredis", None)  # import hiredis -> ImportError
    assert not hiredis_available()
    assert Parser().backend == "python"
    with pytest.raises(ImportError, match=r"anyredis-auth\[hiredis\]"):
        Parser(backend="hiredis")


@pytest.mark.parametrize(
    "options",
    [
        {"backend": "fast"},
        {"protocol": 1},
        {"protocol": 4},
        {"protocol": True},
        {"encoding": "no-such-codec"},
        {"errors": "no-such-handler"},
        {"max_bulk_length": -1},
        {"max_depth": 0},
        {"max_depth": 1025},
    ],
)
def test_invalid_arguments(options: dict[str, object]) -> None:
    with pytest.raises(ValueError):
        Parser(**options)  # type: ignore[arg-type]


@needs_hiredis
def test_hiredis_needs_the_default_depth() -> None:
    with pytest.raises(ValueError, match="backend='python'"):
        Parser(backend="hiredis", max_depth=10)


@pytest.mark.parametrize("protocol", [2, 3])
def test_both_protocols_parse_every_type(backend: str, protocol: int) -> None:
    parser = Parser(protocol, backend)
    assert parser.protocol == protocol
    parser.feed(b"%1\r\n+k\r\n#t\r\n*2\r\n:1\r\n$1\r\nx\r\n")
    assert drain(parser) == [{b"k": True}, [1, b"x"]]


def test_need_data_and_push_values() -> None:
    assert repr(NEED_DATA) == "NEED_DATA"
    assert NeedData() is NEED_DATA
    assert pickle.loads(pickle.dumps(NEED_DATA)) is NEED_DATA
    push = Push([b"message", b"chan", b"hi"])
    assert repr(push) == "Push([b'message', b'chan', b'hi'])"
    assert push == [b"message", b"chan", b"hi"]
    assert isinstance(push, list)


# -- every type ------------------------------------------------------------------------------

TYPES: list[tuple[bytes, object]] = [
    (b"+OK\r\n", b"OK"),
    (b"+\r\n", b""),
    (b"-ERR unknown command\r\n", ResponseError("ERR unknown command")),
    (b"-WRONGTYPE Operation\r\n", ResponseError("WRONGTYPE Operation")),
    (b":0\r\n", 0),
    (b":-42\r\n", -42),
    (b":1000000\r\n", 1000000),
    (b":9223372036854775807\r\n", 2**63 - 1),
    (b":-9223372036854775808\r\n", -(2**63)),
    (b"$5\r\nhello\r\n", b"hello"),
    (b"$0\r\n\r\n", b""),
    (b"$4\r\n\r\n\r\n\r\n", b"\r\n\r\n"),
    (b"$2\r\n\xff\x00\r\n", b"\xff\x00"),
    (b"$-1\r\n", None),
    (b"*-1\r\n", None),
    (b"_\r\n", None),
    (b"%-1\r\n", None),
    (b"~-1\r\n", None),
    (b"=-1\r\n", None),
    (b"*0\r\n", []),
    (b"*3\r\n:1\r\n$1\r\na\r\n*1\r\n+b\r\n", [1, b"a", [b"b"]]),
    (b"*2\r\n$-1\r\n*-1\r\n", [None, None]),
    (b"#t\r\n", True),
    (b"#f\r\n", False),
    (b"#T\r\n", True),
    (b"#F\r\n", False),
    (b",1.5\r\n", 1.5),
    (b",-0\r\n", -0.0),
    (b",10\r\n", 10.0),
    (b",1e+16\r\n", 1e16),
    (b",.5\r\n", 0.5),
    (b",5.\r\n", 5.0),
    (b",1E-5\r\n", 1e-5),
    (b",inf\r\n", math.inf),
    (b",-inf\r\n", -math.inf),
    (b",INF\r\n", math.inf),
    (b",nan\r\n", math.nan),
    (b",-nan\r\n", math.nan),
    (b"(34928903284092385093248509438509438250\r\n", b"34928903284092385093248509438509438250"),
    (b"(-12\r\n", b"-12"),
    (b"=15\r\ntxt:Some string\r\n", b"Some string"),
    (b"=4\r\nmkd:\r\n", b""),
    (b"%0\r\n", {}),
    (b"%2\r\n+first\r\n:1\r\n$6\r\nsecond\r\n:2\r\n", {b"first": 1, b"second": 2}),
    (b"%2\r\n:1\r\n_\r\n_\r\n:2\r\n", {1: None, None: 2}),
    (b"%1\r\n#t\r\n,1.5\r\n", {True: 1.5}),
    (b"%1\r\n-ERR x\r\n:1\r\n", {ResponseError("ERR x"): 1}),
    (b"%1\r\n$1\r\nk\r\n%1\r\n$1\r\nj\r\n*1\r\n:1\r\n", {b"k": {b"j": [1]}}),
    (b"~0\r\n", []),
    (b"~3\r\n+a\r\n:1\r\n:1\r\n", [b"a", 1, 1]),
    (b">3\r\n$7\r\nmessage\r\n$4\r\nchan\r\n$2\r\nhi\r\n", Push([b"message", b"chan", b"hi"])),
    (b"!21\r\nSYNTAX invalid syntax\r\n", ResponseError("SYNTAX invalid syntax")),
    (b"!4\r\na\r\nb\r\n", ResponseError("a\r\nb")),
    (b"|1\r\n+key-popularity\r\n%1\r\n$1\r\na\r\n,0.1923\r\n:42\r\n", 42),
    (b"|0\r\n:1\r\n", 1),
    (b"|1\r\n+a\r\n+b\r\n|1\r\n+c\r\n+d\r\n$1\r\nv\r\n", b"v"),
    (b"*2\r\n|1\r\n+a\r\n+b\r\n:1\r\n:2\r\n", [1, 2]),
    (b"*2\r\n:1\r\n|1\r\n*1\r\n:9\r\n%0\r\n:2\r\n", [1, 2]),
    (b"%1\r\n|1\r\n+a\r\n+b\r\n+k\r\n|1\r\n+c\r\n+d\r\n+v\r\n", {b"k": b"v"}),
    (b"|1\r\n+a\r\n+b\r\n>1\r\n+p\r\n", Push([b"p"])),
    (b"*1\r\n*1\r\n*1\r\n*0\r\n", [[[[]]]]),
]


@pytest.mark.parametrize(("wire", "expected"), TYPES)
def test_every_type(backend: str, wire: bytes, expected: object) -> None:
    reply = parse_one(wire, backend)
    assert replies_equal(reply, expected), reply


def test_all_types_in_one_stream(backend: str) -> None:
    wire = b"".join(wire for wire, _ in TYPES)
    replies = parse(wire, backend)
    assert replies_equal(replies, [expected for _, expected in TYPES])


def test_push_type_is_exactly_push(backend: str) -> None:
    reply = parse_one(b">2\r\n+invalidate\r\n*1\r\n$1\r\nk\r\n", backend)
    assert type(reply) is Push
    assert reply == [b"invalidate", [b"k"]]


def test_nested_push_is_a_list(backend: str) -> None:
    # Servers never nest a push; when one is, it still comes back as a list (subclass).
    reply = parse_one(b"*1\r\n>1\r\n:1\r\n", backend)
    assert reply == [[1]]
    assert isinstance(reply, list)
    assert isinstance(reply[0], list)


@pytest.mark.parametrize(
    "chunk_type", [bytes, bytearray, memoryview], ids=["bytes", "bytearray", "memoryview"]
)
def test_feed_accepts_bytes_like(backend: str, chunk_type: type) -> None:
    parser = Parser(backend=backend)
    buffer = bytearray(b"*2\r\n$3\r\nabc\r\n:1\r\n|0\r\n+x\r\n")
    parser.feed(chunk_type(buffer))
    buffer[:] = b"\x00" * len(buffer)  # the parser must not depend on the caller's buffer
    assert drain(parser) == [[b"abc", 1], b"x"]


def test_replies_come_one_at_a_time(backend: str) -> None:
    parser = Parser(backend=backend)
    assert parser.next_reply() is NEED_DATA
    parser.feed(b"+a\r\n+b\r\n+c")
    assert parser.next_reply() == b"a"
    assert parser.next_reply() == b"b"
    assert parser.next_reply() is NEED_DATA
    parser.feed(b"\r\n")
    assert parser.next_reply() == b"c"
    assert parser.next_reply() is NEED_DATA
    parser.feed(b"")
    assert parser.next_reply() is NEED_DATA


# -- decoding --------------------------------------------------------------------------------


def test_decoding(backend: str) -> None:
    wire = (
        b"+OK\r\n$6\r\nc\xc3\xa9l\xc3\xa9\r\n=9\r\ntxt:caf\xc3\xa9\r\n(123\r\n"
        b"%1\r\n$1\r\nk\r\n*2\r\n+v\r\n:1\r\n-ERR \xc3\xa9\r\n!2\r\nno\r\n#t\r\n,1.5\r\n_\r\n"
    )
    replies = parse(wire, backend, encoding="utf-8")
    expected = [
        "OK",
        "célé",
        "café",
        "123",
        {"k": ["v", 1]},
        ResponseError("ERR é"),
        ResponseError("no"),
        True,
        1.5,
        None,
    ]
    assert replies_equal(replies, expected), replies


def test_other_encoding(backend: str) -> None:
    assert parse_one(b"$2\r\n\xe9\xe8\r\n", backend, encoding="latin-1") == "éè"


def test_errors_are_always_utf8_with_replacement(backend: str) -> None:
    wire = b"-ERR \xff\xfe bad\r\n!3\r\n\xffok\r\n"
    expected = [ResponseError("ERR \ufffd\ufffd bad"), ResponseError("\ufffdok")]
    assert parse(wire, backend) == expected
    assert parse(wire, backend, encoding="utf-8") == expected
    assert parse(wire, backend, encoding="latin-1") == expected


@pytest.mark.parametrize(
    "wire",
    [
        b"$3\r\n\xff\xfe\xfd\r\n",
        b"+\xff\r\n",
        b"=5\r\ntxt:\xff\r\n",
        b"*2\r\n:1\r\n$1\r\n\xff\r\n",
        b"%1\r\n$1\r\n\xff\r\n:1\r\n",
    ],
)
def test_decode_failure_is_a_protocol_error(backend: str, wire: bytes) -> None:
    error = protocol_error(wire, backend, encoding="utf-8")
    assert "'utf-8'" in str(error)
    assert "\\xff" not in str(error)


def test_decode_error_handler(backend: str) -> None:
    assert parse_one(b"$2\r\na\xff\r\n", backend, encoding="utf-8", errors="replace") == "a\ufffd"


# -- malformed input -------------------------------------------------------------------------

MALFORMED = [
    b"?\r\n",
    b"x",
    b"\r\n",
    b" +OK\r\n",
    b":abc\r\n",
    b":\r\n",
    b":01\r\n",
    b":-0\r\n",
    b":+1\r\n",
    b":1.5\r\n",
    b":9223372036854775808\r\n",
    b":-9223372036854775809\r\n",
    b":99999999999999999999999999999999\r\n",
    b"$abc\r\n",
    b"$\r\n",
    b"$01\r\nx\r\n",
    b"$-2\r\n",
    b"$+1\r\nx\r\n",
    b"$ 1\r\nx\r\n",
    b"*-2\r\n",
    b"*x\r\n",
    b"%-2\r\n",
    b"~-5\r\n",
    b"*01\r\n:1\r\n",
    b"#x\r\n",
    b"#\r\n",
    b"#tt\r\n",
    b"_x\r\n",
    b",abc\r\n",
    b",\r\n",
    b",1e500\r\n",
    b",1e-400\r\n",
    b"*4294967296\r\n",
    b",+1\r\n",
    b",1_0\r\n",
    b",0x10\r\n",
    b", 1\r\n",
    b",Infinity\r\n",
    b"," + b"1" * 400 + b"\r\n",
    b"(+1\r\n",
    b"(1.5\r\n",
    b"=3\r\nabc\r\n",
    b"=4\r\nabcd\r\n",
    b"+a\rb\r\n",
    b"+a\nb\r\n",
    b"-a\rb\r\n",
    b"%1\r\n*1\r\n:1\r\n:2\r\n",
    b"%1\r\n*0\r\n:2\r\n",
    b"%1\r\n%0\r\n:2\r\n",
    b"%1\r\n~1\r\n:1\r\n:2\r\n",
    b"%1\r\n>1\r\n:1\r\n:2\r\n",
    b"*1\r\n%1\r\n*1\r\n:1\r\n:2\r\n",
    b"*1\r\n" * 1025 + b":1\r\n",
    b"*1\r\n" * 1024 + b"*0\r\n",
    b"*1\r\n" * 1024 + b"*-1\r\n",
]


@pytest.mark.parametrize("wire", MALFORMED)
def test_malformed_input_is_a_protocol_error(backend: str, wire: bytes) -> None:
    protocol_error(wire, backend)
    # also when it comes byte by byte
    parser = Parser(backend=backend)
    with pytest.raises(ProtocolError):
        feed_chunks(parser, bytewise(wire))


def test_malformed_after_good_replies(backend: str) -> None:
    parser = Parser(backend=backend)
    parser.feed(b"+OK\r\n:1\r\n?bad\r\n")
    assert parser.next_reply() == b"OK"
    assert parser.next_reply() == 1
    with pytest.raises(ProtocolError):
        parser.next_reply()
    with pytest.raises(ProtocolError, match="failed state"):
        parser.next_reply()


def test_messages_do_not_echo_payloads(backend: str) -> None:
    secret = b"s3cr3t-token-value"
    error = protocol_error(b"$18\r\n" + secret + b"XX", backend) if backend == "python" else None
    if error is not None:
        assert "s3cr3t" not in str(error)
    error = protocol_error(b"?" + secret + b"\r\n", backend)
    assert "s3cr3t" not in str(error)
    error = protocol_error(b":" + secret + b"\r\n", backend)
    assert "s3cr3t" not in str(error)


@pytest.mark.parametrize(
    "wire",
    [
        b"$3\r\nabcXY",  # hiredis skips the two bytes without looking at them
        b"$3\r\nabc\r\r\n",
        b"=5\r\ntxt:xXY",
        b"!1\r\nxXY",
        b"(\r\n",  # hiredis accepts an empty big number
        b"(-\r\n",
        b"|-1\r\n",
        b"!-1\r\n",
    ],
)
def test_python_parser_is_stricter_than_hiredis(wire: bytes) -> None:
    protocol_error(wire, "python")


def test_unknown_type_byte_message(backend: str) -> None:
    error = protocol_error(b"?x\r\n", backend)
    assert "?" in str(error)


# -- limits ----------------------------------------------------------------------------------


def test_deepest_accepted_nesting(backend: str) -> None:
    parser = Parser(backend=backend)
    parser.feed(b"*1\r\n" * 1024 + b":1\r\n")
    reply = parser.next_reply()
    for _ in range(1024):
        assert isinstance(reply, list)
        assert len(reply) == 1
        reply = reply[0]
    assert reply == 1


def test_nesting_limit_counts_every_aggregate_kind(backend: str) -> None:
    wire = b"%1\r\n+k\r\n" * 500 + b"~1\r\n" * 500 + b">1\r\n" * 24 + b"*1\r\n:1\r\n"
    error = protocol_error(wire, backend)
    assert "depth" in str(error).lower()


def test_smaller_max_depth() -> None:
    assert parse_one(b"*1\r\n*1\r\n:1\r\n", "python", max_depth=2) == [[1]]
    error = protocol_error(b"*1\r\n*1\r\n*1\r\n:1\r\n", "python", max_depth=2)
    assert "max_depth=2" in str(error)
    # attributes count while they are read
    protocol_error(b"*1\r\n|1\r\n*0\r\n:1\r\n:2\r\n", "python", max_depth=2)
    assert parse_one(b"*1\r\n|1\r\n+a\r\n+b\r\n:2\r\n", "python", max_depth=2) == [2]


def test_bulk_length_limit_python_at_the_header() -> None:
    parser = Parser(backend="python", max_bulk_length=10)
    parser.feed(b"$10\r\n0123456789\r\n!10\r\n0123456789\r\n=10\r\ntxt:012345\r\n")
    assert drain(parser) == [b"0123456789", ResponseError("0123456789"), b"012345"]
    for header in (b"$11\r\n", b"!11\r\n", b"=11\r\n", b"$99999999999999\r\n"):
        error = protocol_error(header, "python", max_bulk_length=10)
        assert "max_bulk_length=10" in str(error)


def test_aggregate_count_limit_python() -> None:
    assert parse_one(b"*3\r\n:1\r\n:2\r\n:3\r\n", "python", max_bulk_length=3) == [1, 2, 3]
    for header in (b"*4\r\n", b"%4\r\n", b"~4\r\n", b">4\r\n", b"|4\r\n"):
        error = protocol_error(header, "python", max_bulk_length=3)
        assert "limit of 3" in str(error)
    protocol_error(b"*9999999999999999999999\r\n", "python")


@needs_hiredis
def test_bulk_length_limit_hiredis_bounds_the_buffer() -> None:
    parser = Parser(backend="hiredis", max_bulk_length=1000)
    # A hostile header inside a reply already over the header-check window (1 KiB) is not
    # seen by the check; hiredis waits, and the buffer bound still refuses it in time.
    parser.feed(b"*2\r\n$1000\r\n" + b"y" * 1000 + b"\r\n")
    assert parser.next_reply() is NEED_DATA
    parser.feed(b"$99999999999\r\n")
    assert parser.next_reply() is NEED_DATA
    block = b"x" * 65536
    with pytest.raises(ProtocolError, match="max_bulk_length=1000"):
        feed_chunks(parser, [block] * 17)  # a little more than 1 MiB + 1000 bytes
    with pytest.raises(ProtocolError, match="failed state"):
        parser.next_reply()


def test_endless_line_python() -> None:
    parser = Parser(backend="python")
    parser.feed(b"+")
    with pytest.raises(ProtocolError, match="longer than 65536 bytes"):
        feed_chunks(parser, [b"a" * 1000] * 100)
    protocol_error(b":" + b"1" * 70000, "python")
    # a complete line that is too long is refused too
    protocol_error(b"-" + b"e" * 70000 + b"\r\n", "python")
    protocol_error(b"$" + b"1" * 70000 + b"\r\n", "python")


@needs_hiredis
def test_endless_line_hiredis() -> None:
    parser = Parser(backend="hiredis", max_bulk_length=1000)
    parser.feed(b"+")
    with pytest.raises(ProtocolError):
        feed_chunks(parser, [b"a" * 65536] * 20)


def test_endless_line_in_small_pieces_is_cheap() -> None:
    parser = Parser(backend="python")
    parser.feed(b"*2\r\n+")
    started = time.perf_counter()
    with pytest.raises(ProtocolError):
        feed_chunks(parser, [b"a"] * 70000)
    assert time.perf_counter() - started < 5


def test_large_reply_byte_at_a_time_is_linear() -> None:
    payload = bytes(range(256)) * 800  # 200 KiB
    items = 2000
    wire = b"*2\r\n$%d\r\n%b\r\n*%d\r\n" % (len(payload), payload, items)
    wire += b":7\r\n" * items
    parser = Parser(backend="python")
    started = time.perf_counter()
    replies: list[object] = []
    for index in range(len(wire)):
        parser.feed(wire[index : index + 1])
        if (reply := parser.next_reply()) is not NEED_DATA:
            replies.append(reply)
    assert time.perf_counter() - started < 10
    assert replies == [[payload, [7] * items]]


# -- hiredis pitfalls, agreed by both back ends -----------------------------------------------


def test_pitfall_bulk_error(backend: str) -> None:
    wire = b"!9\r\nERR boom!\r\n*2\r\n!3\r\nbad\r\n:1\r\n"
    assert parse(wire, backend) == [ResponseError("ERR boom!"), [ResponseError("bad"), 1]]


def test_pitfall_attribute_nesting(backend: str) -> None:
    assert parse(b"*2\r\n|1\r\n+a\r\n+b\r\n:1\r\n:2\r\n", backend) == [[1, 2]]
    assert parse(b"|1\r\n+a\r\n+b\r\n:1\r\n:2\r\n", backend) == [1, 2]


def test_pitfall_unhashable_key(backend: str) -> None:
    error = protocol_error(b"%1\r\n*1\r\n:1\r\n:2\r\n", backend)
    assert "map key" in str(error)


def test_pitfall_false_is_a_reply(backend: str) -> None:
    parser = Parser(backend=backend)
    parser.feed(b"#f\r\n")
    assert parser.next_reply() is False
    assert parser.next_reply() is NEED_DATA


# -- the hiredis back end's engine switches (correct for the Python back end too) -------------


def test_attribute_arriving_mid_reply(backend: str) -> None:
    parser = Parser(backend=backend)
    parser.feed(b"+before\r\n*3\r\n:1\r\n")
    assert parser.next_reply() == b"before"
    assert parser.next_reply() is NEED_DATA
    parser.feed(b"|1\r\n+a\r\n+b\r\n:2\r\n:3\r\n+after\r\n")
    assert drain(parser) == [[1, 2, 3], b"after"]
    parser.feed(b"+again\r\n")
    assert drain(parser) == [b"again"]


def test_suspicious_chunk_while_replies_are_undrained(backend: str) -> None:
    parser = Parser(backend=backend)
    parser.feed(b"+a\r\n+b\r\n>1\r\n+p\r\n*2\r\n:1\r\n")
    assert parser.next_reply() == b"a"
    parser.feed(b"!1\r\nx\r\n+c\r\n")
    replies = drain(parser)
    assert replies == [b"b", Push([b"p"]), [1, ResponseError("x")], b"c"]
    assert type(replies[1]) is Push


def test_error_before_a_suspicious_chunk_comes_after_the_good_replies(backend: str) -> None:
    parser = Parser(backend=backend)
    parser.feed(b"+a\r\n+b\r\n?bad\r\n")
    parser.feed(b"!1\r\nx\r\n")
    assert parser.next_reply() == b"a"
    assert parser.next_reply() == b"b"
    with pytest.raises(ProtocolError, match="type byte"):
        parser.next_reply()
    with pytest.raises(ProtocolError, match="failed state"):
        parser.next_reply()


@needs_hiredis
def test_hiredis_leniency_caught_when_replayed() -> None:
    # hiredis skips the two bytes after a bulk payload unseen; the pure parser, replaying the
    # stretch when a bulk error arrives, refuses them: the replies before come first.
    parser = Parser(backend="hiredis")
    parser.feed(b"+a\r\n*2\r\n$3\r\nabcXY:1\r\n")
    assert parser.next_reply() == b"a"
    parser.feed(b"!1\r\nx\r\n")
    assert parser.next_reply() == [b"abc", 1]  # hiredis had parsed it
    with pytest.raises(ProtocolError, match="not followed by CRLF"):
        parser.next_reply()
    with pytest.raises(ProtocolError, match="failed state"):
        parser.feed(b"+a\r\n")


@pytest.mark.parametrize(
    "chunks",
    [
        [b"+a\r\n", b"|1\r\n+k\r\n+v\r\n:1\r\n"],
        [b"+a\r", b"\n|1\r\n+k\r\n+v\r\n:1\r\n"],
        [b"+a", b"\r\n|1\r\n+k\r\n+v\r\n:1\r\n"],
        [b"+a\r\n|", b"1\r\n+k\r\n+v\r\n:1\r\n"],
        [b"+a\r\n", b"|", b"1\r\n+k\r\n+v\r\n:1\r\n"],
        [b"+a\r\n", b"", b"|1\r\n+k\r\n+v\r\n:1\r\n"],
        [b"+a\r", b"", b"\n", b"|1\r\n+k\r\n+v\r\n:1\r\n"],
    ],
)
def test_type_byte_at_a_chunk_junction(backend: str, chunks: list[bytes]) -> None:
    parser = Parser(backend=backend)
    replies: list[object] = []
    for chunk in chunks:
        parser.feed(chunk)
        replies.extend(drain(parser))
    assert replies == [b"a", 1]


def test_suspicious_bytes_in_payloads(backend: str) -> None:
    value = b"a|b!c\r\n|x\r\n!y|"
    wire = b"$%d\r\n%b\r\n" % (len(value), value)
    wire = wire * 3 + b"+|!\r\n-ERR |!\r\n"
    assert parse(wire, backend) == [value, value, value, b"|!", ResponseError("ERR |!")]


@needs_hiredis
def test_hiredis_exceptions_become_protocol_errors() -> None:
    parser = Parser(backend="hiredis")
    message = parser._hiredis_error(MemoryError())  # type: ignore[attr-defined]
    assert "more elements than memory" in message
    message = parser._hiredis_error(SystemError("boom"))  # type: ignore[attr-defined]
    assert "SystemError" in message


def test_bytes_like_chunks_during_a_pure_stretch(backend: str) -> None:
    parser = Parser(backend=backend)
    parser.feed(b"*2\r\n!1\r\nx\r\n")
    parser.feed(memoryview(b":1\r\n|0\r\n"))
    parser.feed(bytearray(b":2\r\n"))
    assert drain(parser) == [[ResponseError("x"), 1], 2]


@needs_hiredis
def test_hiredis_back_end_returns_to_hiredis() -> None:
    parser = Parser(backend="hiredis")
    parser.feed(b"*2\r\n:1\r\n")
    assert parser.next_reply() is NEED_DATA
    parser.feed(b"!1\r\nx\r\n+after\r\n+partial")
    assert parser.next_reply() == [1, ResponseError("x")]
    assert parser.next_reply() == b"after"  # past the last suspicious byte: hand back
    assert parser._pure is None  # type: ignore[attr-defined]
    parser.feed(b"\r\n")
    assert drain(parser) == [b"partial"]
    parser.feed(b"|0\r\n:5\r\n")
    assert drain(parser) == [5]
    assert parser._pure is None  # type: ignore[attr-defined]


@needs_hiredis
def test_hiredis_mirror_limit_is_the_documented_limitation() -> None:
    from anyredis_auth.protocol._hiredis import MIRROR_LIMIT

    parser = Parser(backend="hiredis")
    count = MIRROR_LIMIT // 4 + 10
    parser.feed(b"*%d\r\n" % (count + 1))
    for _ in range(count // 1000):
        parser.feed(b":1\r\n" * 1000)
        assert parser.next_reply() is NEED_DATA
    parser.feed(b":1\r\n" * (count % 1000))
    # The stretch is longer than the mirror: a bulk error now reaches hiredis, which refuses it.
    parser.feed(b"!1\r\nx\r\n")
    with pytest.raises(ProtocolError, match='"!"'):
        drain(parser)
    # Below the limit the same stream works.
    parser = Parser(backend="hiredis")
    parser.feed(b"*3\r\n:1\r\n:1\r\n")
    assert parser.next_reply() is NEED_DATA
    parser.feed(b"!1\r\nx\r\n")
    assert drain(parser) == [[1, 1, ResponseError("x")]]


@needs_hiredis
def test_hiredis_mirror_recovers_at_the_next_boundary() -> None:
    from anyredis_auth.protocol._hiredis import MIRROR_LIMIT

    parser = Parser(backend="hiredis")
    big = b"x" * (MIRROR_LIMIT + 10)
    parser.feed(b"$%d\r\n" % len(big))
    parser.feed(big)
    parser.feed(b"\r\n")
    assert parser.next_reply() == big  # a reply boundary: the mirror is valid again
    parser.feed(b"*2\r\n:1\r\n")
    assert parser.next_reply() is NEED_DATA
    parser.feed(b"|1\r\n+a\r\n+b\r\n:2\r\n")
    assert drain(parser) == [[1, 2]]


def test_failed_state_refuses_everything(backend: str) -> None:
    parser = Parser(backend=backend)
    parser.feed(b"+ok\r\n?")
    assert parser.next_reply() == b"ok"
    with pytest.raises(ProtocolError) as first:
        parser.next_reply()
    for _ in range(3):
        with pytest.raises(ProtocolError, match="failed state") as later:
            parser.next_reply()
        assert "?" in str(later.value)  # the cause is repeated
        with pytest.raises(ProtocolError, match="failed state"):
            parser.feed(b"+ok\r\n")
    assert "failed state" not in str(first.value)


def test_failed_state_in_the_middle_of_a_pure_stretch(backend: str) -> None:
    parser = Parser(backend=backend)
    parser.feed(b"!1\r\nx\r\n:bad\r\n")
    assert parser.next_reply() == ResponseError("x")
    with pytest.raises(ProtocolError):
        parser.next_reply()
    with pytest.raises(ProtocolError, match="failed state"):
        parser.feed(b"+ok\r\n")


@pytest.mark.parametrize(
    "header",
    [
        b"$99999999999\r\n",
        b"*2\r\n:1\r\n$99999999999\r\n",
        b"*99999999999\r\n",
        b"=99999999999\r\n",
    ],
)
def test_a_hostile_length_fails_at_once_in_both_back_ends(header: bytes) -> None:
    for backend in ("python", "hiredis") if hiredis_available() else ("python",):
        parser = Parser(backend=backend)
        parser.feed(b"+OK\r\n")
        assert parser.next_reply() == b"OK"
        parser.feed(header)
        with pytest.raises(ProtocolError):  # no waiting for 100 GB that will never come
            parser.next_reply()
