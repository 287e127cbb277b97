"""Stream commands against redis-py (the oracle): direct, pipelined, on a cluster, drawn.

Entry IDs are explicit (``"1-1"``, ``"3-*"``) wherever a later reply shows them; IDs the server
generates (``*``) are compared by shape. Replies holding times (idle, delivery and seen times)
are compared by shape in `CORPUS`, and exactly, with those times masked, in `TIMED`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

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
from tests.commands._oracle import (
    OURS_DB,
    Call,
    Outcome,
    call,
    run_calls,
    run_pipelined,
    same,
)
from tests.commands.conftest import Oracle

pytestmark = pytest.mark.anyio

S = "{t}s"  # the main stream (explicit IDs)
TRIM = "{t}tr"  # trimmed by XADD and XTRIM
EMPTY = "{t}g"  # made empty by XGROUP CREATE ... MKSTREAM
AUTO = "{t}auto"  # IDs the server generates

CORPUS: list[Call] = [
    # XADD, XLEN, XRANGE, XREVRANGE
    call("xadd", S, {"a": "1", "b": "x"}, id="1-1"),
    call("xadd", S, {"a": "2"}, id="1-2"),
    call("xadd", S, {"a": "3", "c": "\u00e9t\u00e9"}, id="2-0"),
    call("xadd", S, {"a": 4}, id="3-*"),
    call("xadd", S, {"a": 5.5}, id=b"3-*"),
    call("xadd", S, {"a": 6}, id="4"),
    call("xadd", S, {"a": 0}, id="1-1"),
    call("xadd", S, {}),
    call("xadd", S, {"a": 1}, maxlen=1, minid="1"),
    call("xadd", S, {"a": 1}, maxlen=-1),
    call("xadd", "{t}none", {"a": 1}, nomkstream=True),
    call("xadd", "{t}none", {"a": 1}, id="1-1", nomkstream=True, maxlen=5),
    call("xlen", S),
    call("xlen", "{t}none"),
    call("xrange", S),
    call("xrange", S, "1-2", "3", count=2),
    call("xrange", S, "(1-1", "(3-1"),
    call("xrange", S, count=0),
    call("xrange", S, "5", "+"),
    call("xrange", "{t}none"),
    call("xrevrange", S),
    call("xrevrange", S, "+", "2", count=1),
    call("xrevrange", S, "1", "9"),
    call("xrange", S, "x", "+"),
    # IDs made by the server
    call("xadd", AUTO, {"k": "v"}).shape(),
    call("xadd", AUTO, {"k": "w"}, maxlen=1, approximate=False).shape(),
    call("xadd", AUTO, {"k": "x"}, id="*", minid="0", approximate=False).shape(),
    call("xlen", AUTO),
    call("xrange", AUTO, count=1).shape(),
    # trimming
    *[call("xadd", TRIM, {"n": n}, id=f"{n}-1") for n in range(1, 9)],
    call("xadd", TRIM, {"n": 9}, id="9-1", maxlen=7, approximate=False),
    call("xadd", TRIM, {"n": 10}, id="10-1", minid="4", approximate=False),
    call("xadd", TRIM, {"n": 11}, id="11-1", maxlen=2, limit=5),
    call("xadd", TRIM, {"n": 12}, id="12-1", maxlen=2, approximate=False, limit=5),
    call("xtrim", TRIM, maxlen=6, approximate=False),
    call("xtrim", TRIM, minid="7-0", approximate=False),
    call("xtrim", TRIM, maxlen=1),
    call("xtrim", TRIM, maxlen=1, limit=10),
    call("xtrim", TRIM, minid=b"8", approximate=True, limit=10),
    call("xtrim", TRIM, maxlen=1, approximate=False, limit=10),
    call("xtrim", TRIM),
    call("xtrim", TRIM, maxlen=1, minid="1"),
    call("xrange", TRIM),
    call("xtrim", "{t}none", maxlen=0, approximate=False),
    # XDEL
    call("xdel", S, "1-2", "9-9"),
    call("xdel", S, "4-0"),
    call("xdel", "{t}none", "1-1"),
    call("xlen", S),
    # wrong type
    call("set", "{t}str", "v"),
    call("xadd", "{t}str", {"a": 1}),
    call("xlen", "{t}str"),
    call("xrange", "{t}str"),
    call("xread", {"{t}str": 0}),
    # XREAD without BLOCK
    call("xread", {S: "0"}),
    call("xread", {S: "1-1", TRIM: 0}, count=1),
    call("xread", {S: b"2", "{t}none": "0"}),
    call("xread", {S: "$"}),
    call("xread", {"{t}none": "0"}),
    call("xread", {}),
    call("xread", {S: 0}, count=0),
    call("xread", {S: 0}, block=-1),
    # consumer groups
    call("xgroup_create", S, "g1", id="0"),
    call("xgroup_create", S, "g1", id="0"),
    call("xgroup_create", "{t}nostream", "g1"),
    call("xgroup_create", EMPTY, "gm", id="$", mkstream=True),
    call("xgroup_create", S, "g2", id="1-2", entries_read=1),
    call("xgroup_create", S, b"g3"),
    call("xgroup_createconsumer", S, "g1", "alice"),
    call("xgroup_createconsumer", S, "g1", "alice"),
    call("xgroup_createconsumer", S, "nogroup", "alice"),
    call("xinfo_groups", S),
    call("xinfo_groups", EMPTY),
    call("xinfo_groups", "{t}none"),
    call("xreadgroup", "g1", "alice", {S: ">"}, count=2),
    call("xreadgroup", "g1", "bob", {S: ">"}),
    call("xreadgroup", "g1", "bob", {S: ">"}),
    call("xreadgroup", "g1", "bob", {S: "0"}),
    call("xreadgroup", "g1", "bob", {S: "0"}, count=1),
    call("xreadgroup", "g2", "carol", {S: ">"}, noack=True),
    call("xreadgroup", "g1", "alice", {S: ">", EMPTY: ">"}),
    call("xreadgroup", "nogroup", "x", {S: ">"}),
    call("xreadgroup", "g1", "alice", {}),
    call("xreadgroup", "g1", "alice", {S: ">"}, count=0),
    # XPENDING, XACK
    call("xpending", S, "g1"),
    call("xpending", S, "g2"),
    call("xpending", EMPTY, "gm"),
    call("xpending", S, "nogroup"),
    call("xpending_range", S, "g1", "-", "+", 10).shape(),
    call("xpending_range", S, "g1", "-", "+", 1, consumername="bob").shape(),
    call("xpending_range", S, "g1", "-", "+", 10, idle=100_000_000),
    call("xpending_range", S, "g1", "-", "+", 10, consumername="nobody"),
    call("xpending_range", S, "g1", "-", "+", -1),
    call("xpending_range", S, "g1", "-", "+", 10, idle=-1),
    call("xack", S, "g1", "1-1", "9-9"),
    call("xack", S, "g1", "1-1"),
    call("xack", S, "nogroup", "1-1"),
    call("xpending", S, "g1"),
    # XCLAIM, XAUTOCLAIM
    call("xclaim", S, "g1", "bob", 0, ["2-0"]),
    call("xclaim", S, "g1", "alice", 0, ("2-0", "3-0"), justid=True),
    call("xclaim", S, "g1", "alice", 0, ["3-1"], idle=1000, retrycount=5),
    call("xclaim", S, "g1", "alice", 0, ["1-1"], force=True, justid=True),
    call("xclaim", S, "g1", "alice", 0, ["3-1"], time=1_700_000_000_000, justid=True),
    call("xclaim", S, "g1", "alice", 10**9, ["3-1"]),
    call("xclaim", S, "g1", "alice", 0, ["9-9"]),
    call("xclaim", S, "g1", "alice", 0, []),
    call("xclaim", S, "g1", "alice", -1, ["1-1"]),
    call("xclaim", S, "nogroup", "alice", 0, ["1-1"]),
    call("xpending", S, "g1"),
    call("xautoclaim", S, "g1", "bob", 0),
    call("xautoclaim", S, "g1", "alice", 0, start_id="0-0", count=1),
    call("xautoclaim", S, "g1", "alice", 0, start_id="3", justid=True),
    call("xautoclaim", S, "g1", "alice", 10**9),
    call("xautoclaim", S, "g1", "alice", -1),
    call("xautoclaim", S, "nogroup", "alice", 0),
    # an entry deleted while pending: XREADGROUP's history shows it without fields, and
    # XAUTOCLAIM reports it as deleted
    call("xdel", S, "3-0"),
    call("xreadgroup", "g1", "alice", {S: "0"}),
    call("xautoclaim", S, "g1", "carol", 0),
    call("xpending", S, "g1"),
    # XINFO
    call("xinfo_stream", S),
    # a newer server (the valkey cluster) adds active-time to each consumer
    call("xinfo_stream", S, full=True).shape().single_server(),
    call("xinfo_stream", EMPTY),
    call("xinfo_stream", EMPTY, full=True),
    call("xinfo_stream", TRIM, full=True),
    call("xinfo_stream", "{t}none"),
    call("xinfo_stream", "{t}str"),
    call("xinfo_consumers", S, "g1").shape(),
    call("xinfo_consumers", EMPTY, "gm"),
    call("xinfo_consumers", S, "nogroup"),
    # XGROUP SETID, DELCONSUMER, DESTROY
    call("xgroup_setid", S, "g2", "0"),
    call("xgroup_setid", S, "g3", "2-0", entries_read=2),
    call("xgroup_setid", S, "nogroup", "0"),
    call("xinfo_groups", S),
    call("xgroup_delconsumer", S, "g1", "carol"),
    call("xgroup_delconsumer", S, "g1", "nobody"),
    call("xgroup_destroy", S, "g2"),
    call("xgroup_destroy", S, "g2"),
    call("xgroup_destroy", "{t}none", "g2"),
    call("xinfo_groups", S),
    # blocking reads (a dedicated connection; not in a pipeline), last: they change the data
    # only where nothing after them looks
    call("xread", {S: "0"}, block=10_000, count=1).no_pipeline(),
    call("xread", {"{t}quiet": "0-0"}, block=1).no_pipeline(),
    call("xadd", "{t}blk", {"x": "1"}, id="1-1").no_pipeline(),
    call("xgroup_create", "{t}blk", "gb", id="0").no_pipeline(),
    call("xreadgroup", "gb", "c", {"{t}blk": ">"}, block=10_000).no_pipeline(),
    call("xreadgroup", "gb", "c", {"{t}blk": ">"}, count=1, block=1, noack=True).no_pipeline(),
]


# -- replies with times in them: compared exactly once the times are masked ---------------------

TIMED: list[Call] = [
    call("xadd", S, {"a": "1"}, id="1-1"),
    call("xadd", S, {"a": "2", "b": "3"}, id="2-1"),
    call("xgroup_create", S, "g", id="0"),
    call("xgroup_create", S, "idle", id="$"),
    call("xreadgroup", "g", "alice", {S: ">"}, count=1),
    call("xreadgroup", "g", "bob", {S: ">"}),
    call("xclaim", S, "g", "bob", 0, ["1-1"], idle=5000, justid=True),
    call("xpending_range", S, "g", "-", "+", 10),
    call("xpending_range", S, "g", "-", "+", 10, consumername="bob"),
    call("xinfo_consumers", S, "g"),
    call("xinfo_stream", S, full=True),
]

#: Fields that hold a time (milliseconds idle, or a Unix time in milliseconds).
_TIME_FIELDS = frozenset({"idle", "inactive", "time_since_delivered", "seen-time", "active-time"})
#: Any integer this big is a Unix time in milliseconds (delivery times in XINFO STREAM FULL).
_UNIX_MS = 10**12


def masked(value: Any) -> Any:
    """`value` with every time replaced by the name of its type."""
    if isinstance(value, dict):
        return {
            key: type(item).__name__ if key in _TIME_FIELDS else masked(item)
            for key, item in value.items()
        }
    if isinstance(value, list | tuple):
        return type(value)(masked(item) for item in value)
    if isinstance(value, int) and not isinstance(value, bool) and value >= _UNIX_MS:
        return "unix-ms"
    return value


def masked_differences(
    corpus: Sequence[Call], expected: Sequence[Outcome], got: Sequence[Outcome | None]
) -> list[str]:
    lines = []
    for one, want, have in zip(corpus, expected, got, strict=True):
        if have is None:
            continue
        if want.error is not None or have.error is not None:
            if want.error != have.error:
                lines.append(f"{one}: redis-py {want!r}, ours {have!r}")
        elif not same(masked(want.value), masked(have.value)):
            lines.append(f"{one}: redis-py {want!r}, ours {have!r}")
    return lines


@pytest.fixture
def timed_expected(oracle: Oracle, decode: bool) -> list[Outcome]:
    return oracle.outcomes(f"{__name__}.TIMED", TIMED, decode)


@pytest.mark.parametrize("pipelined", [False, True], ids=["direct", "pipelined"])
async def test_times_masked(
    command_server: ServerProcess,
    timed_expected: list[Outcome],
    protocol: int,
    decode: bool,
    pipelined: bool,
) -> None:
    async with Client.from_url(
        command_server.url, db=OURS_DB, protocol=protocol, decode_responses=decode
    ) as client:
        con = await client.get_multiplexed_async_connection()
        await con.execute("FLUSHDB")
        got: list[Outcome | None]
        if pipelined:
            got = await run_pipelined(con, TIMED)
        else:
            got = list(await run_calls(con, TIMED))
        await con.execute("FLUSHDB")
    assert masked_differences(TIMED, timed_expected, got) == []


# -- blocking reads -------------------------------------------------------------------------------


async def test_blocking_reads_refused_in_pipeline(command_server: ServerProcess) -> None:
    """With `block`, XREAD and XREADGROUP are refused when queued; without, they queue."""
    async with Client.from_url(command_server.url, db=OURS_DB) as client:
        con = await client.get_multiplexed_async_connection()
        pipe = con.pipeline()
        with pytest.raises(ValueError, match="XREAD"):
            pipe.xread({"{t}s": "0"}, block=0)
        with pytest.raises(ValueError, match="XREADGROUP"):
            pipe.xreadgroup("g", "c", {"{t}s": ">"}, block=5)
        assert pipe.xread({"{t}s": "0"}) is pipe
        assert await pipe.execute() == [[]]


async def test_blocking_read_waits_on_its_own_connection(command_server: ServerProcess) -> None:
    """An XREAD BLOCK waiting for an entry leaves the shared connection free: the XADD that
    wakes it goes through the same connection object."""
    key = "{t}wake"
    async with Client.from_url(command_server.url, db=OURS_DB) as client:
        con = await client.get_multiplexed_async_connection()
        await con.execute("DEL", key)
        got: list[list[Any]] = []

        async def read() -> None:
            # "0-0": whether the XADD lands before or after the read blocks, it is returned
            got.extend(await con.xread({key: "0-0"}, block=0))

        with anyio.fail_after(60):
            async with anyio.create_task_group() as tasks:
                tasks.start_soon(read)
                assert await con.xadd(key, {"f": "v"}, id="5-1") == b"5-1"
        assert got == [[key.encode(), [(b"5-1", {b"f": b"v"})]]]
        await con.execute("DEL", key)


# -- drawn sequences ------------------------------------------------------------------------------

KEYS = st.sampled_from(["{t}a", "{t}b"])
IDS = st.sampled_from(["1-1", "1-2", "2-*", "3-0", "5", "0-1"])
RANGE_IDS = st.sampled_from(["-", "+", "1", "2-0", "(1-1", "5"])
FIELDS = st.dictionaries(
    st.sampled_from(["f", "g", "\u00e9"]),
    st.one_of(st.text("ab\u00e9", max_size=4), st.integers(-3, 3)),
    min_size=1,
    max_size=2,
)
GROUPS = st.sampled_from(["g", "h"])
CONSUMERS = st.sampled_from(["c", "d"])
COUNTS = st.one_of(st.none(), st.integers(1, 3))
CALLS = st.one_of(
    st.builds(
        lambda key, fields, id, maxlen: call("xadd", key, fields, id=id, maxlen=maxlen),
        KEYS,
        FIELDS,
        IDS,
        st.one_of(st.none(), st.integers(0, 3)),
    ),
    st.builds(call, st.just("xlen"), KEYS),
    st.builds(
        lambda key, a, b, count: call("xrange", key, a, b, count=count),
        KEYS,
        RANGE_IDS,
        RANGE_IDS,
        COUNTS,
    ),
    st.builds(lambda key, count: call("xrevrange", key, count=count), KEYS, COUNTS),
    st.builds(lambda key, id: call("xdel", key, id), KEYS, IDS),
    st.builds(
        lambda key, maxlen: call("xtrim", key, maxlen=maxlen, approximate=False),
        KEYS,
        st.integers(0, 3),
    ),
    st.builds(
        lambda a, b, count: call("xread", {"{t}a": a, "{t}b": b}, count=count),
        IDS,
        IDS,
        COUNTS,
    ),
    st.builds(
        lambda key, group: call("xgroup_create", key, group, id="0", mkstream=True),
        KEYS,
        GROUPS,
    ),
    st.builds(
        lambda group, consumer, key, count, noack: call(
            "xreadgroup", group, consumer, {key: ">"}, count=count, noack=noack
        ),
        GROUPS,
        CONSUMERS,
        KEYS,
        COUNTS,
        st.booleans(),
    ),
    st.builds(lambda key, group, id: call("xack", key, group, id), KEYS, GROUPS, IDS),
    st.builds(call, st.just("xpending"), KEYS, GROUPS),
    st.builds(
        lambda key, group, consumer, count: call(
            "xautoclaim", key, group, consumer, 0, count=count
        ),
        KEYS,
        GROUPS,
        CONSUMERS,
        COUNTS,
    ),
    st.builds(call, st.just("xinfo_groups"), KEYS),
    st.builds(call, st.just("xinfo_stream"), KEYS),
)


@pytest.mark.parametrize("protocol", [2, 3])
@settings(
    max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(st.lists(CALLS, min_size=1, max_size=12))
def test_drawn_sequences(command_server: ServerProcess, protocol: int, corpus: list[Call]) -> None:
    check_sequence(command_server, corpus, protocol)
