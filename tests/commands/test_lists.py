"""List commands against redis-py (the oracle): direct, pipelined, on a cluster, drawn; and the
blocking ones, which run on a dedicated connection and are refused in a pipeline."""

from __future__ import annotations

import anyio
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

#: A blocking command's timeout where the list stays empty (seconds).
SHORT = 0.05

CORPUS: list[Call] = [
    call("rpush", "{t}l", "a", "b", "c"),
    call("lpush", "{t}l", "z", 1, 2.5),
    call("lpushx", "{t}l", "x"),
    call("rpushx", "{t}l", "y", "y"),
    call("lpushx", "{t}missing", "x"),
    call("rpushx", "{t}missing", "x"),
    call("lrange", "{t}l", 0, -1),
    call("lrange", "{t}l", 2, 4),
    call("lrange", "{t}l", -2, -1),
    call("lrange", "{t}missing", 0, -1),
    call("llen", "{t}l"),
    call("llen", "{t}missing"),
    call("lindex", "{t}l", 0),
    call("lindex", "{t}l", -1),
    call("lindex", "{t}l", 100),
    call("lindex", "{t}missing", 0),
    call("linsert", "{t}l", "BEFORE", "a", "before-a"),
    call("linsert", "{t}l", "after", "c", "after-c"),
    call("linsert", "{t}l", "AFTER", "nope", "v"),
    call("linsert", "{t}missing", "AFTER", "a", "v"),
    call("linsert", "{t}l", "ABOVE", "a", "v"),
    call("lset", "{t}l", 0, "first"),
    call("lset", "{t}l", 100, "v"),
    call("lset", "{t}missing", 0, "v"),
    call("lrange", "{t}l", 0, -1),
    # lpos
    call("rpush", "{t}p", "a", "b", "c", "a", "b", "a"),
    call("lpos", "{t}p", "a"),
    call("lpos", "{t}p", "nope"),
    call("lpos", "{t}p", "a", rank=2),
    call("lpos", "{t}p", "a", rank=-1),
    call("lpos", "{t}p", "a", count=0),
    call("lpos", "{t}p", "a", count=2),
    call("lpos", "{t}p", "a", rank=-1, count=2),
    call("lpos", "{t}p", "a", count=0, maxlen=4),
    call("lpos", "{t}p", "nope", count=3),
    call("lpos", "{t}p", "a", rank=0),
    call("lpos", "{t}missing", "a"),
    call("lpos", "{t}missing", "a", count=1),
    # lrem / ltrim
    call("lrem", "{t}p", 1, "a"),
    call("lrem", "{t}p", -1, "a"),
    call("lrem", "{t}p", 0, "b"),
    call("lrem", "{t}p", 0, "nope"),
    call("lrange", "{t}p", 0, -1),
    call("ltrim", "{t}l", 1, -2),
    call("ltrim", "{t}missing", 0, 1),
    call("lrange", "{t}l", 0, -1),
    # pops, with and without count
    call("lpop", "{t}l"),
    call("rpop", "{t}l"),
    call("lpop", "{t}l", 2),
    call("rpop", "{t}l", 1),
    call("lpop", "{t}l", 0),
    call("lpop", "{t}missing"),
    call("rpop", "{t}missing"),
    call("lpop", "{t}missing", 2),
    call("rpop", "{t}missing", 2),
    call("lpop", "{t}l", -1),
    call("rpop", "{t}l", 100),
    call("llen", "{t}l"),
    # moves
    call("rpush", "{t}src", "1", "2", "3", "4"),
    call("lmove", "{t}src", "{t}dst"),
    call("lmove", "{t}src", "{t}dst", "RIGHT", "LEFT"),
    call("lmove", "{t}src", "{t}dst", src="right", dest="right"),
    call("lmove", "{t}missing", "{t}dst"),
    call("lmove", "{t}src", "{t}dst", "UP", "LEFT"),
    call("rpoplpush", "{t}src", "{t}dst"),
    call("rpoplpush", "{t}missing", "{t}dst"),
    call("lrange", "{t}dst", 0, -1),
    call("lrange", "{t}src", 0, -1),
    # lmpop
    call("rpush", "{t}m2", "a", "b", "c", "d"),
    call("lmpop", 2, "{t}m1", "{t}m2", direction="LEFT"),
    call("lmpop", 2, "{t}m1", "{t}m2", direction="RIGHT", count=2),
    call("lmpop", 1, "{t}m2", direction="LEFT", count=10),
    call("lmpop", 2, "{t}m1", "{t}m2", direction="LEFT"),
    call("lmpop", 1, "{t}m1", direction="UP"),
    call("lmpop", 1, "{t}m1", direction="LEFT", count=None),
    # wrong types
    call("set", "{t}str", "v"),
    call("lpush", "{t}str", "x"),
    call("lrange", "{t}str", 0, -1),
    call("lpop", "{t}str"),
    call("lpos", "{t}str", "x"),
    call("rpush", "{t}l2", "x"),
    call("lmove", "{t}l2", "{t}str"),
    # blocking ones, last: a pipeline refuses them (results after them would differ there)
    call("rpush", "{t}b", *range(1, 10)),
    call("rpush", "{t}b2", "x"),
    call("blpop", "{t}b").no_pipeline(),
    call("brpop", "{t}b", 1).no_pipeline(),
    call("blpop", ["{t}empty", "{t}b2"], timeout=1).no_pipeline(),
    call("brpop", ["{t}empty", "{t}b"], 1.5).no_pipeline(),
    call("blpop", ["{t}empty", "{t}empty2"], SHORT).no_pipeline(),
    call("brpop", "{t}empty", timeout=SHORT).no_pipeline(),
    call("brpoplpush", "{t}b", "{t}bd", 1).no_pipeline(),
    call("brpoplpush", "{t}empty", "{t}bd", SHORT).no_pipeline(),
    call("blmove", "{t}b", "{t}bd", 1).no_pipeline(),
    call("blmove", "{t}b", "{t}bd", 1, "RIGHT", "RIGHT").no_pipeline(),
    call("blmove", "{t}empty", "{t}bd", SHORT, src="LEFT", dest="LEFT").no_pipeline(),
    call("blmpop", 1, 2, "{t}empty", "{t}b", direction="LEFT").no_pipeline(),
    call("blmpop", 1, 1, "{t}b", direction="RIGHT", count=5).no_pipeline(),
    call("blmpop", SHORT, 2, "{t}empty", "{t}b", direction="LEFT", count=2).no_pipeline(),
    call("blpop", "{t}str", 1).no_pipeline(),
    call("blmove", "{t}str", "{t}bd", 1).no_pipeline(),
    call("lrange", "{t}bd", 0, -1).no_pipeline(),
]


@pytest.mark.parametrize(
    "queue",
    [
        lambda pipe: pipe.blpop("{t}k", 1),
        lambda pipe: pipe.brpop(["{t}k", "{t}j"]),
        lambda pipe: pipe.brpoplpush("{t}k", "{t}j", 1),
        lambda pipe: pipe.blmove("{t}k", "{t}j", 1),
        lambda pipe: pipe.blmpop(1, 1, "{t}k", direction="LEFT"),
    ],
    ids=["blpop", "brpop", "brpoplpush", "blmove", "blmpop"],
)
async def test_blocking_refused_in_pipeline(command_server: ServerProcess, queue: object) -> None:
    """A blocking command is refused when queued, before anything is sent."""
    async with Client.from_url(command_server.url, db=OURS_DB) as client:
        con = await client.get_multiplexed_async_connection()
        pipe = con.pipeline()
        with pytest.raises(ValueError, match="blocking"):
            queue(pipe)  # type: ignore[operator]
        assert len(pipe) == 0


async def test_blpop_waits_for_a_push(command_server: ServerProcess) -> None:
    """BLPOP waits on its dedicated connection while the shared one pushes the element."""
    async with Client.from_url(command_server.url, db=OURS_DB) as client:
        con = await client.get_multiplexed_async_connection()
        await con.execute("FLUSHDB")
        got: list[object] = []

        async def wait() -> None:
            got.append(await con.blpop(["{t}q1", "{t}q2"], timeout=0))

        try:
            async with anyio.create_task_group() as tg:
                tg.start_soon(wait)
                # the shared connection stays free while BLPOP waits: push once the server
                # reports the client blocked (so the push cannot come first)
                with anyio.fail_after(30):
                    while b"blocked_clients:1" not in await con.execute("INFO", "clients"):  # noqa: ASYNC110
                        await anyio.sleep(0.01)
                assert await con.rpush("{t}q2", "job") == 1
            assert got == [(b"{t}q2", b"job")]
        finally:
            await con.execute("FLUSHDB")


KEYS = st.sampled_from(["{t}a", "{t}b"])
VALUES = st.one_of(st.text("ab\u00e9", max_size=4), st.integers(-3, 3))
COUNTS = st.one_of(st.none(), st.integers(0, 3))
CALLS = st.one_of(
    st.builds(lambda k, vs: call("lpush", k, *vs), KEYS, st.lists(VALUES, min_size=1, max_size=3)),
    st.builds(lambda k, vs: call("rpush", k, *vs), KEYS, st.lists(VALUES, min_size=1, max_size=3)),
    st.builds(lambda k, v: call("rpushx", k, v), KEYS, VALUES),
    st.builds(lambda k, n: call("lpop", k, n), KEYS, COUNTS),
    st.builds(lambda k, n: call("rpop", k, n), KEYS, COUNTS),
    st.builds(lambda k: call("lrange", k, 0, -1), KEYS),
    st.builds(lambda k, i: call("lindex", k, i), KEYS, st.integers(-3, 3)),
    st.builds(lambda k, i, v: call("lset", k, i, v), KEYS, st.integers(-2, 2), VALUES),
    st.builds(lambda k, n, v: call("lrem", k, n, v), KEYS, st.integers(-2, 2), VALUES),
    st.builds(
        lambda k, v, r, n: call("lpos", k, v, rank=r, count=n),
        KEYS,
        VALUES,
        st.sampled_from([None, 1, -1, 2]),
        COUNTS,
    ),
    st.builds(
        lambda a, b, s, d: call("lmove", a, b, s, d),
        KEYS,
        KEYS,
        st.sampled_from(["LEFT", "RIGHT"]),
        st.sampled_from(["LEFT", "RIGHT"]),
    ),
    st.builds(
        lambda d, n: call("lmpop", 2, "{t}a", "{t}b", direction=d, count=n),
        st.sampled_from(["LEFT", "RIGHT"]),
        st.integers(1, 3),
    ),
    st.builds(lambda k: call("llen", k), KEYS),
    st.builds(lambda k: call("sadd", k, "x"), KEYS),  # a wrong type for the next calls
)


@pytest.mark.parametrize("protocol", [2, 3])
@settings(
    max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(st.lists(CALLS, min_size=1, max_size=12))
def test_drawn_sequences(command_server: ServerProcess, protocol: int, corpus: list[Call]) -> None:
    check_sequence(command_server, corpus, protocol)
