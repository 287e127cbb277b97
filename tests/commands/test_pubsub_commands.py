"""Publishing and PUBSUB introspection against redis-py (the oracle): direct, pipelined, on a
cluster, drawn. A redis-py subscriber holds a few subscriptions on the command server while the
module runs, so the counts are not all zero."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from anyredis_auth.testing.cluster import LocalCluster
from tests._servers import ServerProcess
from tests.commands._checks import check_cluster, check_direct, check_pipelined, check_sequence
from tests.commands._oracle import Call, Outcome, call

pytestmark = pytest.mark.anyio


@pytest.fixture(scope="module")
def subscriber(command_server: ServerProcess) -> Iterator[None]:
    """Subscriptions to ``{t}news`` (twice: two connections), ``{t}p*`` and shard channel
    ``{t}shard``, confirmed by the server before any test of the module runs."""
    import redis

    clients = [redis.Redis.from_url(command_server.url) for _ in range(2)]
    subs = [one.pubsub() for one in clients]  # type: ignore[no-untyped-call]
    try:
        for sub in subs:
            sub.subscribe("{t}news")
        subs[0].psubscribe("{t}p*")
        subs[0].ssubscribe("{t}shard")
        for sub, expected in zip(subs, (3, 1), strict=True):
            for _ in range(expected):
                assert sub.get_message(timeout=10) is not None  # each confirmation
        yield
    finally:
        for sub in subs:
            sub.close()
        for one in clients:
            one.close()


#: Counts of the subscriber above are the command server's: `single_server`.
CORPUS: list[Call] = [
    call("publish", "{t}nobody", "hello"),
    call("publish", "{t}news", "hello").single_server(),
    call("publish", "{t}pattern", b"\x00raw").single_server(),
    call("publish", "{t}news", 42).single_server(),
    call("spublish", "{t}nobody", "hi"),
    call("spublish", "{t}shard", "hi").single_server(),
    call("pubsub_channels").unordered().single_server(),
    call("pubsub_channels", "{t}n*").single_server(),
    call("pubsub_channels", "none*"),
    call("pubsub_numpat").single_server(),
    call("pubsub_numsub").single_server(),
    call("pubsub_numsub", "{t}news", "{t}nobody").single_server(),
    call("pubsub_numsub", "{t}nobody"),
    call("pubsub_shardchannels").single_server(),
    call("pubsub_shardchannels", "{t}s*").single_server(),
    call("pubsub_shardchannels", "none*"),
    call("pubsub_shardnumsub", "{t}shard", "{t}nobody").single_server(),
    call("pubsub_shardnumsub", "{t}nobody"),
]


async def test_direct(
    subscriber: None,
    command_server: ServerProcess,
    expected: list[Outcome],
    protocol: int,
    decode: bool,
) -> None:
    await check_direct(command_server, CORPUS, expected, protocol=protocol, decode=decode)


async def test_pipelined(
    subscriber: None,
    command_server: ServerProcess,
    expected: list[Outcome],
    protocol: int,
    decode: bool,
) -> None:
    await check_pipelined(command_server, CORPUS, expected, protocol=protocol, decode=decode)


@pytest.mark.parametrize("decode", [False], ids=["bytes"])
async def test_cluster(subscriber: None, cluster: LocalCluster, expected: list[Outcome]) -> None:
    await check_cluster(cluster, CORPUS, expected)


CHANNELS = st.sampled_from(["{t}news", "{t}pat", "{t}shard", "{t}else"])
MESSAGES = st.one_of(st.text("abc\u00e9", max_size=6), st.integers(-5, 5))
CALLS = st.one_of(
    st.builds(call, st.just("publish"), CHANNELS, MESSAGES),
    st.builds(call, st.just("spublish"), CHANNELS, MESSAGES),
    st.builds(lambda p: call("pubsub_channels", p).unordered(), st.sampled_from(["*", "{t}*"])),
    st.builds(lambda p: call("pubsub_shardchannels", p), st.sampled_from(["*", "{t}*"])),
    st.builds(call, st.just("pubsub_numpat")),
    st.builds(lambda cs: call("pubsub_numsub", *cs), st.lists(CHANNELS, max_size=3)),
    st.builds(lambda cs: call("pubsub_shardnumsub", *cs), st.lists(CHANNELS, max_size=3)),
)


@pytest.mark.parametrize("protocol", [2, 3])
@settings(
    max_examples=10, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(st.lists(CALLS, min_size=1, max_size=10))
def test_drawn_sequences(
    subscriber: None, command_server: ServerProcess, protocol: int, corpus: list[Call]
) -> None:
    check_sequence(command_server, corpus, protocol)
