"""Typed methods on pipelines beyond the corpora: transactions, cluster pipelines, errors."""

from __future__ import annotations

import pytest

from anyredis_auth import Client, ClusterClient, ExecAbortError, ResponseError
from anyredis_auth.testing.cluster import LocalCluster
from tests._servers import ServerProcess

pytestmark = pytest.mark.anyio


async def test_a_transaction_parses_each_reply(command_server: ServerProcess) -> None:
    async with Client.from_url(command_server.url, db=13, protocol=3) as client:
        con = await client.get_multiplexed_async_connection()
        await con.flushdb()
        tx = con.pipeline(transaction=True)
        tx.set("{t}a", 1).incr("{t}a").hset("{t}h", mapping={"f": "v"}).hgetall("{t}h")
        tx.zadd("{t}z", {"m": 1.5}).zrange("{t}z", 0, -1, withscores=True).exists("{t}a")
        assert await tx.execute() == [True, 2, 1, {b"f": b"v"}, 1, [(b"m", 1.5)], 1]
        assert len(tx) == 0  # sent and forgotten: the next execute starts afresh
        tx.execute_command("SET", "{t}bad")  # wrong arity: the server refuses the transaction
        with pytest.raises(ExecAbortError):
            await tx.set("{t}a", 5).execute()
        assert await con.get("{t}a") == b"2"  # nothing of the refused transaction ran
        await con.flushdb()


async def test_error_replies_stay_in_place_unparsed(command_server: ServerProcess) -> None:
    async with Client.from_url(command_server.url, db=13, decode_responses=True) as client:
        con = await client.get_multiplexed_async_connection()
        await con.flushdb()
        pipe = con.pipeline().set("{t}s", "x").incr("{t}s").hgetall("{t}s").ttl("{t}s")
        results = await pipe.execute(raise_on_error=False)
        assert results[0] is True and results[3] == -1
        assert isinstance(results[1], ResponseError) and results[1].code == "ERR"
        assert isinstance(results[2], ResponseError) and results[2].code == "WRONGTYPE"
        with pytest.raises(ResponseError, match="INCR"):  # the first error, naming its command
            await con.pipeline().set("{t}s", "x").incr("{t}s").execute()
        await con.flushdb()


async def test_a_cluster_pipeline_parses_replies_across_nodes(cluster: LocalCluster) -> None:
    keys = [f"pipe:{index}" for index in range(12)]  # spread over the three primaries
    async with ClusterClient.from_url(cluster.url) as client:
        con = await client.get_async_connection()
        pipe = con.pipeline()
        for index, key in enumerate(keys):
            pipe.set(key, index).incrby(key, 10).get(key)
        results = await pipe.execute()
        assert results == [
            value for index in range(12) for value in (True, index + 10, str(index + 10).encode())
        ]
        tx = con.pipeline(transaction=True)
        tx.set("{u}a", 1).incr("{u}a").zadd("{u}z", {"m": 2}).zscore("{u}z", "m")
        assert await tx.execute() == [True, 2, 1, 2.0]
        assert await con.delete(*keys, "{u}a", "{u}z") == 14
