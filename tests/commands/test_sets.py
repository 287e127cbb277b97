"""Set commands against redis-py (the oracle): direct, pipelined, on a cluster, drawn."""

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

pytestmark = pytest.mark.anyio

CORPUS: list[Call] = [
    call("sadd", "{t}s1", "a", "b", "c", 1, 2.5),
    call("sadd", "{t}s1", "a", "d"),
    call("sadd", "{t}s2", "c", "d", "e"),
    call("sadd", "{t}s3", "d"),
    call("smembers", "{t}s1"),
    call("smembers", "{t}missing"),
    call("scard", "{t}s1"),
    call("scard", "{t}missing"),
    call("sismember", "{t}s1", "a"),
    call("sismember", "{t}s1", "nope"),
    call("sismember", "{t}missing", "a"),
    call("smismember", "{t}s1", ["a", "nope", 1]),
    call("smismember", "{t}s1", "a", "b", "nope"),
    call("smismember", "{t}s1", "c"),
    call("smismember", "{t}missing", ["a"]),
    call("srem", "{t}s1", "2.5", "nope"),
    call("srem", "{t}missing", "a"),
    # algebra: a list of keys, one key, or keys as separate arguments
    call("sdiff", ["{t}s1", "{t}s2"]),
    call("sdiff", "{t}s1", "{t}s2", "{t}s3"),
    call("sdiff", "{t}s1"),
    call("sdiff", ["{t}missing", "{t}s1"]),
    call("sinter", ["{t}s1", "{t}s2"]),
    call("sinter", "{t}s1", "{t}s2", "{t}s3"),
    call("sinter", ["{t}s1", "{t}missing"]),
    call("sunion", ["{t}s1", "{t}s2"]),
    call("sunion", "{t}s2", "{t}s3", "{t}missing"),
    call("sunion", "{t}missing"),
    call("sdiffstore", "{t}d", ["{t}s1", "{t}s2"]),
    call("smembers", "{t}d"),
    call("sinterstore", "{t}d", "{t}s1", "{t}s2"),
    call("smembers", "{t}d"),
    call("sunionstore", "{t}d", ["{t}s1", "{t}s2", "{t}s3"]),
    call("smembers", "{t}d"),
    call("sinterstore", "{t}d", ["{t}s1", "{t}missing"]),
    call("smembers", "{t}d"),
    call("sintercard", 2, ["{t}s1", "{t}s2"]),
    call("sintercard", 2, ["{t}s1", "{t}s2"], limit=1),
    call("sintercard", 3, ["{t}s1", "{t}s2", "{t}s3"], 0),
    call("sintercard", 1, ["{t}missing"]),
    # numkeys beyond the keys: the server reads LIMIT as a key, a cluster answers CROSSSLOT
    call("sintercard", 3, ["{t}s1", "{t}s2"]).single_server(),
    # smove
    call("smove", "{t}s1", "{t}s3", "a"),
    call("smove", "{t}s1", "{t}s3", "nope"),
    call("smove", "{t}missing", "{t}s3", "a"),
    call("smembers", "{t}s3"),
    # random members: a one member set is deterministic, others by shape or as multisets
    call("sadd", "{t}one", "only"),
    call("srandmember", "{t}one"),
    call("srandmember", "{t}one", 2),
    call("srandmember", "{t}one", -3),
    call("srandmember", "{t}s1", 10).unordered(),
    call("srandmember", "{t}s1", 2).shape(),
    call("srandmember", "{t}s1").shape(),
    call("srandmember", "{t}missing"),
    call("srandmember", "{t}missing", 2),
    call("spop", "{t}one"),
    call("spop", "{t}one"),
    call("sadd", "{t}one", "only"),
    call("spop", "{t}one", 5),
    call("spop", "{t}one", 5),
    call("spop", "{t}missing"),
    call("spop", "{t}missing", 2),
    call("spop", "{t}s2", 1).shape(),
    call("spop", "{t}s2").shape(),
    call("spop", "{t}s2", 10).shape(),  # one member left (and a wrong count if not)
    call("spop", "{t}s1", -1),
    # scans: a small set answers in one page; an intset's members come sorted (stable order)
    call("sadd", "{t}ints", 30, 1, 2, 10),
    call("sscan", "{t}ints"),
    call("sscan", "{t}ints", 0, "1*"),
    call("sscan", "{t}ints", match="nope", count=100),
    call("sscan", "{t}s3", match="a"),
    call("sscan", "{t}missing"),
    call("sscan_iter", "{t}s1").iterator().unordered(),
    call("sscan_iter", "{t}s1", match="b").iterator(),
    call("sscan_iter", "{t}s1", count=1).iterator().unordered(),
    call("sscan_iter", "{t}missing").iterator(),
    # wrong types
    call("set", "{t}str", "v"),
    call("sadd", "{t}str", "x"),
    call("smembers", "{t}str"),
    call("sismember", "{t}str", "x"),
    call("sinter", ["{t}s1", "{t}str"]),
    call("sunionstore", "{t}d", "{t}s1", "{t}str"),
    call("smove", "{t}str", "{t}s1", "x"),
    call("sscan", "{t}str"),
]


async def test_sscan_iter_pages(command_server: ServerProcess) -> None:
    """A set of strings is a hash table (Redis 7.0): SSCAN pages it, the iterator walks them
    all, each member once."""
    members = [f"m{index}" for index in range(300)]
    async with Client.from_url(command_server.url, db=OURS_DB, decode_responses=True) as client:
        con = await client.get_multiplexed_async_connection()
        await con.execute("FLUSHDB")
        try:
            assert await con.sadd("{t}big", *members) == 300
            cursor, page = await con.sscan("{t}big", count=10)
            assert cursor != 0 and len(page) < 300
            got = [member async for member in con.sscan_iter("{t}big", count=10)]
            assert sorted(got) == sorted(members)
        finally:
            await con.execute("FLUSHDB")


KEYS = st.sampled_from(["{t}a", "{t}b"])
MEMBERS = st.one_of(st.sampled_from(["x", "y", "\u00e9"]), st.integers(0, 3))
CALLS = st.one_of(
    st.builds(lambda k, ms: call("sadd", k, *ms), KEYS, st.lists(MEMBERS, min_size=1, max_size=3)),
    st.builds(lambda k, ms: call("srem", k, *ms), KEYS, st.lists(MEMBERS, min_size=1, max_size=2)),
    st.builds(lambda k: call("smembers", k), KEYS),
    st.builds(lambda k: call("scard", k), KEYS),
    st.builds(lambda k, m: call("sismember", k, m), KEYS, MEMBERS),
    st.builds(lambda k, ms: call("smismember", k, ms), KEYS, st.lists(MEMBERS, min_size=1)),
    st.builds(lambda: call("sdiff", ["{t}a", "{t}b"])),
    st.builds(lambda: call("sinter", "{t}a", "{t}b")),
    st.builds(lambda: call("sunion", ["{t}b", "{t}a"])),
    st.builds(lambda d: call("sunionstore", d, ["{t}a", "{t}b"]), KEYS),
    st.builds(lambda d: call("sdiffstore", d, "{t}b", "{t}a"), KEYS),
    st.builds(lambda n: call("sintercard", 2, ["{t}a", "{t}b"], n), st.integers(0, 2)),
    st.builds(lambda a, b, m: call("smove", a, b, m), KEYS, KEYS, MEMBERS),
    st.builds(lambda k: call("lpush", k, "x"), KEYS),  # a wrong type for the next calls
)


@pytest.mark.parametrize("protocol", [2, 3])
@settings(
    max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(st.lists(CALLS, min_size=1, max_size=12))
def test_drawn_sequences(command_server: ServerProcess, protocol: int, corpus: list[Call]) -> None:
    check_sequence(command_server, corpus, protocol)
