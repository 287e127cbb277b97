"""Hash commands against redis-py (the oracle): direct, pipelined, on a cluster, drawn."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from anyredis_auth import Client
from tests._servers import ServerProcess
from tests.commands._checks import check_sequence

# The three standard corpus tests, collected here (`corpus` reads this module's CORPUS):
from tests.commands._checks import test_cluster as test_cluster
from tests.commands._checks import test_direct as test_direct
from tests.commands._checks import test_pipelined as test_pipelined
from tests.commands._oracle import OURS_DB, Call, call

pytestmark = [
    pytest.mark.anyio,
    # the corpus calls redis-py's deprecated hmset too, to compare it with ours
    pytest.mark.filterwarnings("ignore:Call to deprecated hmset:DeprecationWarning"),
]

CORPUS: list[Call] = [
    # hset: one field, a mapping, items, all three at once, nothing (refused before sending)
    call("hset", "{t}h", "f1", "v1"),
    call("hset", "{t}h", key="f2", value=2),
    call("hset", "{t}h", mapping={"f3": "v3", "f4": 4.5, b"f5": b"v5"}),
    call("hset", "{t}h", items=["f6", "v6", "f7", 7]),
    call("hset", "{t}h", "f1", "w1", mapping={"m": 1}, items=["i", 2]),
    call("hset", "{t}h"),
    call("hset", "{t}h", mapping={}),
    call("hsetnx", "{t}h", "f1", "x"),
    call("hsetnx", "{t}h", "new", "x"),
    call("hmset", "{t}hm", {"a": 1, "b": "two"}),
    call("hmset", "{t}hm", {}),
    call("hget", "{t}h", "f1"),
    call("hget", "{t}h", "nope"),
    call("hget", "{t}missing", "f1"),
    call("hmget", "{t}h", ["f1", "f2", "nope"]),
    call("hmget", "{t}h", "f1", "f3", "nope"),
    call("hmget", "{t}h", "f1"),
    call("hmget", "{t}missing", ["a", "b"]),
    call("hgetall", "{t}h"),
    call("hgetall", "{t}hm"),
    call("hgetall", "{t}missing"),
    call("hexists", "{t}h", "f1"),
    call("hexists", "{t}h", "nope"),
    call("hexists", "{t}missing", "f1"),
    call("hlen", "{t}h"),
    call("hlen", "{t}missing"),
    call("hstrlen", "{t}h", "f3"),
    call("hstrlen", "{t}h", "nope"),
    call("hkeys", "{t}hm"),
    call("hkeys", "{t}missing"),
    call("hvals", "{t}hm"),
    call("hvals", "{t}missing"),
    # counters
    call("hincrby", "{t}c", "n"),
    call("hincrby", "{t}c", "n", 10),
    call("hincrby", "{t}c", "n", -3),
    call("hincrby", "{t}h", "f1"),
    call("hincrbyfloat", "{t}c", "x"),
    call("hincrbyfloat", "{t}c", "x", 2.25),
    call("hincrbyfloat", "{t}c", "n", -0.5),
    call("hincrbyfloat", "{t}c", "x", 1e3),
    call("hincrbyfloat", "{t}h", "f1", 1.0),
    call("hgetall", "{t}c"),
    # hdel
    call("hdel", "{t}h", "f6", "f7", "nope"),
    call("hdel", "{t}h", "i"),
    call("hdel", "{t}missing", "a"),
    call("hgetall", "{t}h"),
    # random fields: one field hashes are deterministic, others compared unordered / by shape
    call("hset", "{t}one", "only", "value"),
    call("hrandfield", "{t}one"),
    call("hrandfield", "{t}one", 1),
    call("hrandfield", "{t}one", 1, withvalues=True),
    call("hrandfield", "{t}one", -3, True),
    call("hrandfield", "{t}hm", 5).unordered(),
    call("hrandfield", "{t}hm", 2, withvalues=True).unordered(),
    call("hrandfield", "{t}hm", 2, withvalues=True).shape(),
    call("hrandfield", "{t}hm", -4).shape(),
    call("hrandfield", "{t}hm").shape(),
    call("hrandfield", "{t}missing"),
    call("hrandfield", "{t}missing", 3),
    call("hrandfield", "{t}missing", 3, withvalues=True),
    call("hrandfield", "{t}hm", withvalues=True),  # WITHVALUES without a count: refused
    # scans: a small hash answers in one page
    call("hscan", "{t}hm"),
    call("hscan", "{t}hm", 0, "a*"),
    call("hscan", "{t}hm", match="b", count=100),
    call("hscan", "{t}missing"),
    call("hscan_iter", "{t}hm").iterator(),
    call("hscan_iter", "{t}hm", match="a").iterator(),
    call("hscan_iter", "{t}h", count=2).iterator().unordered(),
    call("hscan_iter", "{t}missing").iterator(),
    # wrong types
    call("set", "{t}str", "v"),
    call("hset", "{t}str", "f", "v"),
    call("hget", "{t}str", "f"),
    call("hgetall", "{t}str"),
    call("hrandfield", "{t}str"),
    call("hscan", "{t}str"),
]


async def test_hscan_iter_pages(command_server: ServerProcess) -> None:
    """A hash of over 512 fields (not a listpack: more than one HSCAN page) is walked to the end."""
    fields = {f"f{index}": index for index in range(600)}
    async with Client.from_url(command_server.url, db=OURS_DB) as client:
        con = await client.get_multiplexed_async_connection()
        await con.execute("FLUSHDB")
        try:
            assert await con.hset("{t}big", mapping=fields) == 600
            cursor, page = await con.hscan("{t}big", count=10)
            assert cursor != 0 and len(page) < 600
            got = {field: value async for field, value in con.hscan_iter("{t}big", count=10)}
            assert got == {field.encode(): str(value).encode() for field, value in fields.items()}
        finally:
            await con.execute("FLUSHDB")


KEYS = st.sampled_from(["{t}a", "{t}b"])
FIELDS = st.sampled_from(["f", "g", "\u00e9"])
VALUES = st.one_of(st.text("abc\u00e9", max_size=6), st.integers(-5, 5))
CALLS = st.one_of(
    st.builds(lambda k, f, v: call("hset", k, f, v), KEYS, FIELDS, VALUES),
    st.builds(
        lambda k, m: call("hset", k, mapping=m), KEYS, st.dictionaries(FIELDS, VALUES, max_size=3)
    ),
    st.builds(lambda k, f, v: call("hsetnx", k, f, v), KEYS, FIELDS, VALUES),
    st.builds(lambda k, f: call("hget", k, f), KEYS, FIELDS),
    st.builds(lambda k, fs: call("hmget", k, fs), KEYS, st.lists(FIELDS, min_size=1, max_size=3)),
    st.builds(lambda k: call("hgetall", k), KEYS),
    st.builds(lambda k, fs: call("hdel", k, *fs), KEYS, st.lists(FIELDS, min_size=1, max_size=2)),
    st.builds(lambda k, f, n: call("hincrby", k, f, n), KEYS, FIELDS, st.integers(-3, 3)),
    st.builds(lambda k: call("hlen", k), KEYS),
    st.builds(lambda k: call("hkeys", k).unordered(), KEYS),
    st.builds(lambda k, f: call("hexists", k, f), KEYS, FIELDS),
    st.builds(lambda k, f: call("hstrlen", k, f), KEYS, FIELDS),
    st.builds(lambda k: call("lpush", k, "x"), KEYS),  # a wrong type for the next calls
)


@pytest.mark.parametrize("protocol", [2, 3])
@settings(
    max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(st.lists(CALLS, min_size=1, max_size=12))
def test_drawn_sequences(command_server: ServerProcess, protocol: int, corpus: list[Call]) -> None:
    check_sequence(command_server, corpus, protocol)
