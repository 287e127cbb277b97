"""Small edges of the command surface (issue 12, edges 12 and 14), on both loops, real servers.

* One `str` key: a str, bytes, bytearray or memoryview where a method takes several keys (or
  arguments) is ONE key, as in redis-py: ``blpop("queue")`` waits on ``queue``, not on
  ``q``, ``u``, ``e``, ...
* A command name given as a bytearray or a memoryview (writable or not) works, on `execute` and
  in pipelines; routing (blocking, refused) sees the name it spells.
"""

from __future__ import annotations

from typing import Any

import pytest

from anyredis_auth import Client, ResponseError
from anyredis_auth._commands import Commands, ConnectionOnlyCommands
from anyredis_auth.protocol import CommandArg as Value
from anyredis_auth.protocol._routing import BLOCKING, classify
from tests._servers import ServerProcess

pytestmark = pytest.mark.anyio


@pytest.fixture(params=[3, 2], ids=["resp3", "resp2"])
def protocol(request: pytest.FixtureRequest) -> int:
    return int(request.param)


def _one_key_forms(key: str) -> list[Any]:
    """The same key spelled as each single-value type."""
    raw = key.encode()
    return [key, raw, bytearray(raw), memoryview(raw), memoryview(bytearray(raw))]


# -- edge 12: one str key --------------------------------------------------------------------


class _Recorder(ConnectionOnlyCommands, Commands):
    """Commands whose `execute` records the arguments instead of sending them."""

    def __init__(self) -> None:
        self.sent: list[tuple[Value, ...]] = []

    async def execute(self, *args: Value) -> Any:
        self.sent.append(args)
        name = args[0]
        if name == "EVALSHA":
            raise ResponseError("NOSCRIPT No matching script.")
        return [b"k", b"v"] if name in ("BLPOP", "BRPOP") else b"ok"


@pytest.mark.parametrize("key", _one_key_forms("queue"), ids=lambda v: type(v).__name__)
async def test_a_single_key_is_sent_as_one_argument(key: Any) -> None:
    rec = _Recorder()
    await rec.blpop(key, timeout=1)
    await rec.brpop(key)
    await rec.eval("return 1", 1, key, key)
    with pytest.raises(ResponseError, match="NOSCRIPT"):
        await rec.evalsha("0" * 40, 1, key, key)
    await rec.register_script("return 1")(key, key)
    assert rec.sent[0] == ("BLPOP", key, 1)
    assert rec.sent[1] == ("BRPOP", key, 0)
    assert rec.sent[2] == ("EVAL", "return 1", 1, key, key)
    assert rec.sent[3] == ("EVALSHA", "0" * 40, 1, key, key)
    # The script: EVALSHA refused with NOSCRIPT, then EVAL; both with one key and one argument.
    assert rec.sent[4][2:] == (1, key, key)
    assert rec.sent[5][2:] == (1, key, key)


async def test_numbers_and_iterables_of_keys() -> None:
    rec = _Recorder()
    await rec.blpop(7, timeout=0.5)  # a number is one value too (redis-py agrees)
    await rec.blpop(iter(["a", "b"]))  # any iterable, a generator included
    await rec.eval("return 1", 2, "a", b"b", 1, 2.5)
    await rec.eval("return 1", 0)
    assert rec.sent == [
        ("BLPOP", 7, 0.5),
        ("BLPOP", "a", "b", 0),
        ("EVAL", "return 1", 2, "a", b"b", 1, 2.5),
        ("EVAL", "return 1", 0),
    ]


async def test_blpop_and_brpop_take_one_str_key(
    server: ServerProcess, protocol: int, key_prefix: str
) -> None:
    key = key_prefix + "queue"
    async with Client.from_url(server.url, protocol=protocol) as client:
        con = await client.get_multiplexed_async_connection()
        for form in _one_key_forms(key):
            await con.rpush(key, "first", "last")
            assert await con.blpop(form, timeout=1) == (key.encode(), b"first")
            assert await con.brpop(form, timeout=1) == (key.encode(), b"last")
        # Nothing left: the wait on the ONE key times out (a key per letter would, too, but
        # only after the server was asked about every letter).
        assert await con.blpop(key, timeout=0.1) is None
        # A list of keys still means several keys.
        other = key_prefix + "other"
        await con.rpush(other, "x")
        assert await con.blpop([key, other], timeout=1) == (other.encode(), b"x")
        await con.rpush(key, "y")
        assert await con.brpop((other, key), timeout=1) == (key.encode(), b"y")
        # No key named after a letter of the key was touched.
        assert await con.exists(*set(key)) == 0


async def test_scripts_take_one_str_key_and_argument(
    server: ServerProcess, protocol: int, key_prefix: str
) -> None:
    key = key_prefix + "script"
    body = "return {KEYS, ARGV}"
    async with Client.from_url(server.url, protocol=protocol) as client:
        con = await client.get_multiplexed_async_connection()
        expected = [[key.encode()], [b"arg"]]
        assert await con.eval(body, 1, key, "arg") == expected
        assert await con.eval(body, 1, key.encode(), memoryview(b"arg")) == expected
        sha = await con.script_load(body)
        sha = sha.decode() if isinstance(sha, bytes) else sha
        assert await con.evalsha(sha, 1, bytearray(key.encode()), "arg") == expected
        script = con.register_script("return {KEYS, ARGV, 'again'}")
        await con.execute("SCRIPT", "FLUSH")  # the first call falls back to EVAL
        assert await script(key, "arg") == [*expected, b"again"]
        assert await script(keys=key, args="arg") == [*expected, b"again"]
        assert await script([key, "k2"], ["a", "b"]) == [
            [key.encode(), b"k2"],
            [b"a", b"b"],
            b"again",
        ]


# -- edge 14: the command name as a bytearray or a memoryview ---------------------------------


def _name_forms(name: str) -> list[Any]:
    raw = name.encode()
    return [bytearray(raw), memoryview(raw), memoryview(bytearray(raw)), memoryview(raw)[0:]]


@pytest.mark.parametrize("name", ["PING", "ping", "BLPOP", "SUBSCRIBE", "GET"])
def test_classify_accepts_every_bytes_like_name(name: str) -> None:
    expected = classify((name, "x"))
    for form in _name_forms(name):
        assert classify((form, "x")) == expected
        assert classify((form, "x")) == expected  # again, after the name was remembered
    if name.upper() == "BLPOP":
        assert expected == BLOCKING
    if name == "SUBSCRIBE":
        assert expected is not None and "pubsub" in expected


def test_classify_unhashable_non_bytes_name_does_not_crash() -> None:
    assert classify(([b"PING"],)) is None  # the encoder refuses it


async def test_bytes_like_command_names_work(
    server: ServerProcess, protocol: int, key_prefix: str
) -> None:
    key = key_prefix + "k"
    async with Client.from_url(server.url, protocol=protocol) as client:
        con = await client.get_multiplexed_async_connection()
        for form in _name_forms("PING"):
            assert await con.execute(form) == b"PONG"
        for form in _name_forms("set"):
            assert await con.execute(form, key, memoryview(bytearray(b"value"))) == b"OK"
        for form in _name_forms("GET"):
            assert await con.execute(form, memoryview(bytearray(key.encode()))) == b"value"
        # A blocking command spelled that way still runs on its own connection.
        await con.rpush(key + ":list", "item")
        assert await con.execute(memoryview(bytearray(b"BLPOP")), key + ":list", 1) == [
            (key + ":list").encode(),
            b"item",
        ]
        # A refused one is refused with the usual typed error, naming the command.
        with pytest.raises(ValueError, match="SUBSCRIBE is not allowed"):
            await con.execute(memoryview(bytearray(b"subscribe")), "chan")
        with pytest.raises(ValueError, match="SELECT is not allowed"):
            await con.execute(bytearray(b"SELECT"), 1)
        # And the shared connection is fine afterwards.
        assert await con.ping() is True


async def test_bytes_like_command_names_in_pipelines(
    server: ServerProcess, protocol: int, key_prefix: str
) -> None:
    key = key_prefix + "n"
    async with Client.from_url(server.url, protocol=protocol) as client:
        con = await client.get_multiplexed_async_connection()
        for transaction in (False, True):
            pipe = con.pipeline(transaction=transaction)
            pipe.execute_command(memoryview(bytearray(b"SET")), key, memoryview(bytearray(b"1")))
            pipe.execute_command(bytearray(b"INCR"), key)
            pipe.execute_command(memoryview(b"GET"), key)
            assert await pipe.execute() == [b"OK", 2, b"2"]
        with pytest.raises(ValueError, match="pipeline"):
            con.pipeline().execute_command(memoryview(bytearray(b"BLPOP")), key, 0)
        with pytest.raises(ValueError, match="MULTI is not allowed"):
            con.pipeline().execute_command(bytearray(b"multi"))
        # An error reply in a pipeline names the command it came from, decoded.
        pipe = con.pipeline()
        pipe.execute_command(memoryview(bytearray(b"HGET")), key, "field")
        with pytest.raises(ResponseError, match=r"\(HGET\)"):
            await pipe.execute()
