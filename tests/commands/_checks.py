"""The checks every corpus module runs: ours against the oracle, directly, pipelined, on a
cluster, and on hypothesis-drawn sequences."""

from __future__ import annotations

from collections.abc import Sequence

import anyio
import pytest

from anyredis_auth import Client, ClusterClient
from anyredis_auth.testing.cluster import LocalCluster
from tests._servers import ServerProcess
from tests.commands._oracle import (
    OURS_DB,
    Call,
    Outcome,
    differences,
    oracle_outcomes,
    run_calls,
    run_pipelined,
)


async def check_direct(
    server: ServerProcess,
    corpus: Sequence[Call],
    expected: Sequence[Outcome],
    *,
    protocol: int,
    decode: bool,
) -> None:
    """Every call awaited one by one on a `MultiplexedConnection`: no difference."""
    async with Client.from_url(
        server.url, db=OURS_DB, protocol=protocol, decode_responses=decode
    ) as client:
        con = await client.get_multiplexed_async_connection()
        await con.execute("FLUSHDB")
        got = await run_calls(con, corpus)
        await con.execute("FLUSHDB")
    assert len(got) == len(corpus)
    assert differences(corpus, expected, got) == []


async def check_pipelined(
    server: ServerProcess,
    corpus: Sequence[Call],
    expected: Sequence[Outcome],
    *,
    protocol: int,
    decode: bool,
) -> None:
    """The pipeline-able calls queued on one `Pipeline` (chained methods): no difference.

    Calls that cannot be pipelined are left out, so results after them may differ where they
    changed the data: corpus authors keep those at the end or on their own keys.
    """
    async with Client.from_url(
        server.url, db=OURS_DB, protocol=protocol, decode_responses=decode
    ) as client:
        con = await client.get_multiplexed_async_connection()
        await con.execute("FLUSHDB")
        got = await run_pipelined(con, corpus)
        await con.execute("FLUSHDB")
    assert sum(outcome is not None for outcome in got) == sum(one.pipeline for one in corpus)
    assert differences(corpus, expected, got) == []


def check_sequence(server: ServerProcess, corpus: Sequence[Call], protocol: int) -> None:
    """A drawn sequence (synchronous: for hypothesis): the oracle, then ours on both loops."""
    for decode in (False, True):
        want = oracle_outcomes(server.url, corpus, decode)

        async def ours(decode: bool = decode) -> list[Outcome]:
            async with Client.from_url(
                server.url, db=OURS_DB, protocol=protocol, decode_responses=decode
            ) as client:
                con = await client.get_multiplexed_async_connection()
                await con.execute("FLUSHDB")
                try:
                    return await run_calls(con, corpus)
                finally:
                    await con.execute("FLUSHDB")

        for backend in ("asyncio", "trio"):
            got = anyio.run(ours, backend=backend)
            differ = differences(corpus, want, got)
            assert differ == [], f"{backend}, decode_responses={decode}: {differ}"


async def check_cluster(
    cluster: LocalCluster, corpus: Sequence[Call], expected: Sequence[Outcome]
) -> None:
    """The calls a cluster answers like one server (every key has the hash tag ``{t}``), on a
    `ClusterConnection` (RESP3, bytes): no difference."""
    async with ClusterClient.from_url(cluster.url) as client:
        con = await client.get_async_connection()
        await con.execute("FLUSHALL")  # on every primary (the command table says all_shards)
        try:
            got: list[Outcome | None] = [None] * len(corpus)
            runnable = [index for index, one in enumerate(corpus) if one.cluster]
            outcomes = await run_calls(con, [corpus[index] for index in runnable])
            for index, outcome in zip(runnable, outcomes, strict=True):
                got[index] = outcome
        finally:
            await con.execute("FLUSHALL")
    assert differences(corpus, expected, got) == []


# -- the three standard tests of a corpus module ---------------------------------------------
# A corpus module imports these (pytest collects them there, with the module's marks) and
# defines `CORPUS`, which the `corpus` and `expected` fixtures read from it.


async def test_direct(
    command_server: ServerProcess,
    corpus: list[Call],
    expected: list[Outcome],
    protocol: int,
    decode: bool,
) -> None:
    """The module's corpus, call by call: no difference from redis-py."""
    await check_direct(command_server, corpus, expected, protocol=protocol, decode=decode)


async def test_pipelined(
    command_server: ServerProcess,
    corpus: list[Call],
    expected: list[Outcome],
    protocol: int,
    decode: bool,
) -> None:
    """The module's corpus on one pipeline: no difference from redis-py."""
    await check_pipelined(command_server, corpus, expected, protocol=protocol, decode=decode)


@pytest.mark.parametrize("decode", [False], ids=["bytes"])
async def test_cluster(cluster: LocalCluster, corpus: list[Call], expected: list[Outcome]) -> None:
    """The module's corpus on a cluster connection: no difference from redis-py."""
    await check_cluster(cluster, corpus, expected)
