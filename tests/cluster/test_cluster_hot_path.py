"""The cluster client's hot path: its cached routes follow the cluster, never the other way.

One-key commands and pipelines route through per-slot connection and per-name caches; these
tests pin what they must not change: a slot moved behind the client's back is followed (MOVED,
then the new map) by single commands and by pipeline members alike, a pipeline that cannot be
encoded fails before anything is sent, and a closed client stays closed.
"""

from __future__ import annotations

import anyio
import pytest

from anyredis_auth import ClusterClient, ConnectionClosedError
from anyredis_auth.testing.cluster import LocalCluster

from .test_cluster_client import (
    QUICK,
    client_sees_primary,
    eventually,
    in_thread,
    keys_in_distinct_slots,
    slot_of,
    tagged_keys_on,
)

pytestmark = pytest.mark.anyio


async def test_a_slot_moved_behind_the_clients_back_is_followed_by_commands_and_pipelines(
    cluster: LocalCluster, key_prefix: str
) -> None:
    source = cluster.primaries()[0]
    target = cluster.primaries()[1]
    moved = tagged_keys_on(cluster, source, f"{key_prefix}hot", 20)
    slot = slot_of(moved[0])
    others = keys_in_distinct_slots(f"{key_prefix}other", 30)
    try:
        with anyio.fail_after(QUICK):
            async with ClusterClient.from_url(cluster.url) as client:
                con = await client.get_async_connection()
                for index, key in enumerate(moved + others):
                    await con.set(key, str(index))  # every route cached, the slot on `source`
                assert client_sees_primary(client, source, slot)
                await in_thread(cluster.migrate_slot, slot, target)
                # The client still routes the slot to `source`: its pipeline members get MOVED
                # and are retried on the new owner, in the caller's order.
                pipe = con.pipeline()
                for key in moved + others:
                    pipe.get(key)
                values = await pipe.execute()
                assert values == [str(index).encode() for index in range(len(moved + others))]
                assert await con.get(moved[3]) == b"3"
                await con.set(moved[4], "again")
                await eventually(lambda: client_sees_primary(client, target, slot))
        assert target.command("GET", moved[4]) == b"again"
    finally:
        # The session's cluster goes back to the way it was built.
        if cluster.node_for_slot(slot) is not source:
            await in_thread(cluster.migrate_slot, slot, source)


async def test_a_pipeline_that_cannot_be_encoded_fails_before_sending(
    cluster: LocalCluster, key_prefix: str
) -> None:
    keys = keys_in_distinct_slots(f"{key_prefix}enc", 10)
    with anyio.fail_after(QUICK):
        async with ClusterClient.from_url(cluster.url) as client:
            con = await client.get_async_connection()
            pipe = con.pipeline()
            for key in keys:
                pipe.execute_command("SET", key, "1")
            pipe.execute_command("SET", keys[0], object())  # type: ignore[arg-type]
            with pytest.raises(TypeError):
                await pipe.execute()
            assert len(pipe) == 0
            assert await con.exists(*keys) == 0  # nothing was sent


async def test_a_closed_client_stays_closed_on_the_hot_path(
    cluster: LocalCluster, key_prefix: str
) -> None:
    key = f"{key_prefix}closed"
    with anyio.fail_after(QUICK):
        async with ClusterClient.from_url(cluster.url) as client:
            con = await client.get_async_connection()
            await con.set(key, "1")  # the slot's connection is cached
            assert await con.get(key) == b"1"
        with pytest.raises(ConnectionClosedError):
            await con.get(key)
        with pytest.raises(ConnectionClosedError):
            await con.pipeline().get(key).execute()
