"""Bitmap commands against redis-py (the oracle): direct, pipelined, on a cluster, drawn; and
the BITFIELD builder on a connection and on a pipeline."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from anyredis_auth import Client, ClusterClient
from anyredis_auth.testing.cluster import LocalCluster
from tests._servers import ServerProcess
from tests.commands._checks import check_sequence

# The three standard corpus tests, collected here (`corpus` reads this module's CORPUS):
from tests.commands._checks import test_cluster as test_cluster
from tests.commands._checks import test_direct as test_direct
from tests.commands._checks import test_pipelined as test_pipelined
from tests.commands._oracle import OURS_DB, Call, Outcome, call, error_outcome

pytestmark = pytest.mark.anyio

CORPUS: list[Call] = [
    call("getbit", "{t}missing", 0),
    call("setbit", "{t}b", 7, 1),
    call("setbit", "{t}b", 7, 0),
    call("setbit", "{t}b", 7, True),
    call("setbit", "{t}b", 100, 5),  # any true value sets the bit, as in redis-py
    call("setbit", "{t}b", -1, 1),
    call("setbit", "{t}b", 0, 2 - 2),
    call("getbit", "{t}b", 7),
    call("getbit", "{t}b", 100),
    call("getbit", "{t}b", 10_000),
    call("get", "{t}b"),
    call("set", "{t}s", "foobar"),
    call("bitcount", "{t}s"),
    call("bitcount", "{t}s", 0, 0),
    call("bitcount", "{t}s", 1, 1),
    call("bitcount", "{t}s", -2, -1),
    call("bitcount", "{t}s", 5, 30, "BIT"),
    call("bitcount", "{t}s", 0, 1, mode="byte"),
    call("bitcount", "{t}s", 0),
    call("bitcount", "{t}s", end=3),
    call("bitcount", "{t}s", mode="BIT"),
    call("bitcount", "{t}missing"),
    call("set", "{t}p", b"\xff\xf0\x00"),
    call("bitpos", "{t}p", 0),
    call("bitpos", "{t}p", 1),
    call("bitpos", "{t}p", 1, 2),
    call("bitpos", "{t}p", 0, 0, 1),
    call("bitpos", "{t}p", 1, 7, 15, "BIT"),
    call("bitpos", "{t}p", 0, 1, -1, mode="byte"),
    call("bitpos", "{t}p", 2),
    call("bitpos", "{t}p", 1, end=3),
    call("bitpos", "{t}missing", 0),
    call("bitpos", "{t}missing", 1),
    call("set", "{t}x", "abc"),
    call("set", "{t}y", "ab"),
    call("bitop", "AND", "{t}and", "{t}x", "{t}y"),
    call("bitop", "OR", "{t}or", "{t}x", "{t}y"),
    call("bitop", "XOR", "{t}xor", "{t}x", "{t}y", "{t}missing"),
    call("bitop", "NOT", "{t}not", "{t}x"),
    call("bitop", "NOT", "{t}not", "{t}x", "{t}y"),
    call("bitop", "NAND", "{t}nand", "{t}x"),
    call("bitop", "AND", "{t}and2", "{t}missing"),
    call("mget", ["{t}and", "{t}or", "{t}xor"]),
    call("bitfield_ro", "{t}x", "u8", 0),
    call("bitfield_ro", "{t}x", "i8", 8, items=[("u4", 16), ("u16", "#1"), ("i3", 100)]),
    call("bitfield_ro", "{t}missing", "u8", 0),
    call("bitfield_ro", "{t}x", "u99", 0),
    call("bitfield_ro", "{t}x", "u8", 0, items=[]),
    call("rpush", "{t}list", "a"),
    call("getbit", "{t}list", 0),
    call("bitcount", "{t}list"),
    call("bitfield_ro", "{t}list", "u8", 0),
]


# -- BITFIELD: redis-py's builder (``bitfield(key).set(...).get(...).execute()``) -------------

#: Each item: the key, the default overflow, and the sub-commands ``(method, args, kwargs)``
#: chained on the builder before ``execute()``.
BITFIELDS: list[tuple[str, str | None, list[tuple[str, tuple[Any, ...], dict[str, Any]]]]] = [
    ("{t}f", None, [("set", ("u8", 0, 255), {}), ("get", ("u8", 0), {})]),
    ("{t}f", None, [("incrby", ("u8", 0, 10), {}), ("get", ("u4", 0), {})]),
    ("{t}f", "SAT", [("incrby", ("u8", 0, 300), {}), ("incrby", ("i8", "#1", -200), {})]),
    ("{t}f", None, [("incrby", ("u2", 100, 1), {"overflow": "fail"})] * 5),
    ("{t}f", "fail", [("incrby", ("u2", 100, 1), {}), ("incrby", ("u2", 100, 1), {})]),
    (
        "{t}f",
        None,
        [
            ("overflow", ("SAT",), {}),
            ("incrby", ("i5", 100, 100), {}),
            ("overflow", ("WRAP",), {}),
            ("incrby", ("i5", 100, 100), {}),
            ("get", ("i5", 100), {}),
        ],
    ),
    ("{t}g", None, [("set", ("i16", "#0", -5), {}), ("get", ("i16", 0), {})]),
    ("{t}g", None, []),  # no sub-command: BITFIELD key alone answers []
    ("{t}g", None, [("get", ("u99", 0), {})]),
    ("{t}g", "bogus", [("incrby", ("u8", 0, 1), {})]),
]


async def _bitfields_on(target: Any) -> list[Any]:
    """Each BITFIELDS item run through `target`'s builder, awaited (a connection, redis-py)."""
    results: list[Any] = []
    for key, default, steps in BITFIELDS:
        builder = target.bitfield(key, default_overflow=default)
        for method, args, kwargs in steps:
            getattr(builder, method)(*args, **kwargs)
        try:
            results.append(Outcome(await builder.execute()))
        except Exception as exc:
            results.append(error_outcome(exc))
    return results


def _redis_py_bitfields(url: str, decode: bool) -> list[Any]:
    import asyncio

    import redis.asyncio

    async def run() -> list[Any]:
        client = redis.asyncio.Redis.from_url(url, db=14, protocol=2, decode_responses=decode)
        try:
            await client.flushdb()
            return await _bitfields_on(client)
        finally:
            await client.flushdb()
            await client.aclose()

    return asyncio.run(run())


@pytest.fixture(scope="module")
def bitfield_expected(command_server: ServerProcess) -> list[Any]:
    return _redis_py_bitfields(command_server.url, False)


async def test_bitfield_builder(
    command_server: ServerProcess, bitfield_expected: list[Any], protocol: int, decode: bool
) -> None:
    """The builder on a connection: each ``execute()`` awaited gives redis-py's list."""
    async with Client.from_url(
        command_server.url, db=OURS_DB, protocol=protocol, decode_responses=decode
    ) as client:
        con = await client.get_multiplexed_async_connection()
        await con.execute("FLUSHDB")
        got = await _bitfields_on(con)
        await con.execute("FLUSHDB")
    # BITFIELD answers integers only: the same whatever decode_responses says
    assert repr(got) == repr(bitfield_expected)


async def test_bitfield_builder_pipelined(
    command_server: ServerProcess, bitfield_expected: list[Any], protocol: int
) -> None:
    """On a pipeline ``execute()`` queues the command and returns the pipeline (chaining on);
    the pipeline's own ``execute()`` gives each list in its place."""
    async with Client.from_url(command_server.url, db=OURS_DB, protocol=protocol) as client:
        con = await client.get_multiplexed_async_connection()
        await con.execute("FLUSHDB")
        pipe = con.pipeline()
        for key, default, steps in BITFIELDS:
            builder = pipe.bitfield(key, default_overflow=default)
            for method, args, kwargs in steps:
                getattr(builder, method)(*args, **kwargs)
            assert builder.execute() is pipe
        assert builder.operations == [("OVERFLOW", "BOGUS")]  # the last one's default stays
        results = await pipe.get("{t}f").execute(raise_on_error=False)
        await con.execute("FLUSHDB")
    got = [
        error_outcome(result) if isinstance(result, Exception) else Outcome(result)
        for result in results[:-1]
    ]
    assert repr(got) == repr(bitfield_expected)
    assert isinstance(results[-1], bytes)


async def test_bitfield_builder_cluster(
    cluster: LocalCluster, bitfield_expected: list[Any]
) -> None:
    async with ClusterClient.from_url(cluster.url) as client:
        con = await client.get_async_connection()
        await con.execute("FLUSHALL")
        try:
            got = await _bitfields_on(con)
            pipe = con.pipeline()
            pipe.bitfield("{t}h").set("u8", 0, 7).get("u8", 0).execute()
            assert await pipe.execute() == [[0, 7]]
        finally:
            await con.execute("FLUSHALL")
    assert repr(got) == repr(bitfield_expected)


def test_bitfield_builder_resets_after_execute() -> None:
    """As redis-py's: ``execute`` sends what was gathered and starts afresh (the default
    overflow stays); ``command`` shows what would be sent."""
    from anyredis_auth._commands._bitmaps import BitFieldOperation

    sent: list[tuple[Any, ...]] = []
    builder = BitFieldOperation(sent.append, "k", default_overflow="sat")
    builder.incrby("u8", 0, 1).get("u8", 0).incrby("u8", 0, 1, overflow="SAT")
    assert builder.command == [
        "BITFIELD", "k", "OVERFLOW", "SAT", "INCRBY", "u8", 0, 1, "GET", "u8", 0,
        "INCRBY", "u8", 0, 1,
    ]  # fmt: skip
    builder.execute()
    assert builder.command == ["BITFIELD", "k", "OVERFLOW", "SAT"]
    assert sent[0][:4] == ("BITFIELD", "k", "OVERFLOW", "SAT")


KEYS = st.sampled_from(["{t}a", "{t}b"])
OFFSETS = st.integers(0, 20)
CALLS = st.one_of(
    st.builds(call, st.just("setbit"), KEYS, OFFSETS, st.integers(0, 1)),
    st.builds(call, st.just("getbit"), KEYS, OFFSETS),
    st.builds(call, st.just("bitcount"), KEYS),
    st.builds(call, st.just("bitcount"), KEYS, st.integers(-3, 3), st.integers(-3, 3)),
    st.builds(call, st.just("bitpos"), KEYS, st.integers(0, 1)),
    st.builds(call, st.just("bitpos"), KEYS, st.integers(0, 1), st.integers(-2, 2)),
    st.builds(call, st.just("bitop"), st.sampled_from(["AND", "OR", "XOR"]), KEYS, KEYS, KEYS),
    st.builds(call, st.just("bitfield_ro"), KEYS, st.sampled_from(["u4", "i8"]), OFFSETS),
    st.builds(call, st.just("set"), KEYS, st.text("ab", max_size=3)),
)


@pytest.mark.parametrize("protocol", [2, 3])
@settings(
    max_examples=10, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(st.lists(CALLS, min_size=1, max_size=12))
def test_drawn_sequences(command_server: ServerProcess, protocol: int, corpus: list[Call]) -> None:
    check_sequence(command_server, corpus, protocol)
