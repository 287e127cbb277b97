"""`ClusterClient` against local clusters of real processes (Redis and Valkey), on both loops.

Only the public API is used (``ClusterClient``, ``ClusterConnection``, ``cluster.nodes()``); the
servers' own answers (``CLUSTER NODES`` through `LocalCluster`, ``INFO commandstats``, ``CLIENT
LIST``, a ``GET`` sent straight to the owner) are the oracle for where each command went and as
whom each node connection is logged in. Scenarios under load report their counts on failure.
"""

from __future__ import annotations

import functools
import random
import secrets
from collections import Counter
from collections.abc import Callable, Iterable
from typing import Any, TypeVar

import anyio
import pytest

from anyredis_auth import (
    ClusterClient,
    ClusterConnection,
    Credentials,
    RedisError,
    RedisTimeoutError,
    ResponseError,
)
from anyredis_auth.testing import ManualCredentialsProvider
from anyredis_auth.testing.cluster import SLOTS, ClusterNode, LocalCluster
from anyredis_auth.testing.servers import free_port

pytestmark = pytest.mark.anyio

#: Bounds of one quick test and of one scenario under load: generous, a loaded machine is slow.
QUICK = 60.0
LOADED = 180.0
#: Tasks that hammer the cluster during a scenario (2 cores are shared: kept moderate).
WORKERS = 16

T = TypeVar("T")


# -- slots, written here so that the tests do not trust the library's own ----------------------


def _crc16(data: bytes) -> int:
    """CRC16/XMODEM (polynomial 0x1021, initial 0), the checksum Redis Cluster hashes keys by."""
    crc = 0
    for byte in data:
        crc ^= byte << 8
        for _ in range(8):
            crc = ((crc << 1) ^ 0x1021) if crc & 0x8000 else crc << 1
            crc &= 0xFFFF
    return crc


def slot_of(key: str) -> int:
    """The slot of `key`: of its hash tag (the first non-empty ``{...}``) when it has one."""
    raw = key.encode()
    start = raw.find(b"{")
    if start != -1:
        end = raw.find(b"}", start + 1)
        if end > start + 1:
            raw = raw[start + 1 : end]
    return _crc16(raw) % SLOTS


def keys_in_distinct_slots(prefix: str, count: int) -> list[str]:
    """`count` keys beginning with `prefix`, each in a slot of its own."""
    keys: list[str] = []
    seen: set[int] = set()
    index = 0
    while len(keys) < count:
        key = f"{prefix}{index}"
        index += 1
        if slot_of(key) not in seen:
            seen.add(slot_of(key))
            keys.append(key)
    return keys


def owners(local: LocalCluster) -> list[tuple[int, int, ClusterNode]]:
    """(first slot, last slot, primary) for every slot range, as the servers see it now."""
    return [
        (low, high, primary)
        for primary in local.primaries()
        for low, high in local.slot_ranges(primary)
    ]


def owner_of(table: Iterable[tuple[int, int, ClusterNode]], key: str) -> ClusterNode:
    slot = slot_of(key)
    for low, high, node in table:
        if low <= slot <= high:
            return node
    raise AssertionError(f"no primary serves slot {slot}")


def tagged_keys_on(local: LocalCluster, primary: ClusterNode, prefix: str, count: int) -> list[str]:
    """`count` keys in one slot (one hash tag) that `primary` serves."""
    table = owners(local)
    for index in range(10_000):
        tag = f"{prefix}{index}"
        if owner_of(table, tag) is primary:
            return [f"{{{tag}}}:{item}" for item in range(count)]
    raise AssertionError("no hash tag found for that primary")


# -- what the servers say ---------------------------------------------------------------------


def commandstat(node: ClusterNode, command: str) -> int:
    """How many times `node` ran `command` (``INFO commandstats``; 0 when never)."""
    reply = node.command("INFO", "commandstats")
    assert isinstance(reply, bytes)
    for line in reply.decode().splitlines():
        name, _, fields = line.partition(":")
        if name == f"cmdstat_{command}":
            for field in fields.split(","):
                key, _, value = field.partition("=")
                if key == "calls":
                    return int(value)
    return 0


def logged_in_users(node: ClusterNode, candidates: set[str]) -> list[str]:
    """The user of each connection of `node` logged in as one of `candidates` (``CLIENT
    LIST``): the test's own users, so only this test's client connections count."""
    reply = node.command("CLIENT", "LIST")
    assert isinstance(reply, bytes)
    users: list[str] = []
    for line in reply.decode().splitlines():
        fields = dict(item.partition("=")[::2] for item in line.split(" ") if "=" in item)
        if fields.get("user") in candidates:
            users.append(fields["user"])
    return users


async def in_thread(function: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """Run a blocking `LocalCluster` call in a thread, so the client keeps running."""
    return await anyio.to_thread.run_sync(functools.partial(function, *args, **kwargs))


async def eventually(
    condition: Callable[[], bool], limit: float = 30.0, state: Callable[[], object] = lambda: None
) -> None:
    """Return once `condition()` holds; fail after `limit` seconds, showing `state()`."""
    with anyio.move_on_after(limit):
        while not condition():  # noqa: ASYNC110 - the state lives in the client, no event
            await anyio.sleep(0.02)
        return
    raise AssertionError(f"still not true after {limit} s; state: {state()}")


async def until_count(counter: Callable[[], int], target: int, limit: float = 60.0) -> None:
    """Wait until the workers have done `target` successful commands in all."""
    await eventually(lambda: counter() >= target, limit)


def client_sees_primary(client: ClusterClient, node: ClusterNode, slot: int | None = None) -> bool:
    """Whether `client.nodes()` lists `node` as a primary (serving `slot` when given)."""
    for entry in client.nodes():
        if entry.port == node.port and entry.role == "primary":
            return slot is None or any(low <= slot <= high for low, high in entry.slots)
    return False


# -- 1. keys over every slot, and the topology ----------------------------------------------


async def test_set_get_over_every_slot_and_the_topology(
    cluster: LocalCluster, key_prefix: str
) -> None:
    # The local slot function agrees with the server (the rest of this file relies on it).
    for key in ("a", "foo", "{user1000}.following", "x{}y", "{}{z}", "{a}{b}", key_prefix):
        assert slot_of(key) == cluster.keyslot(key), key

    keys = [f"{key_prefix}{index}" for index in range(2000)]
    table = owners(cluster)
    assert {owner_of(table, key) for key in keys} == set(cluster.primaries())
    with anyio.fail_after(QUICK):
        async with ClusterClient.from_url(cluster.url) as client:
            con = await client.get_async_connection()
            assert isinstance(con, ClusterConnection)

            async def writer(start: int) -> None:
                for key in keys[start::40]:
                    assert await con.set(key, f"v:{key}") is True

            async with anyio.create_task_group() as group:
                for start in range(40):
                    group.start_soon(writer, start)
            values = [await con.get(key) for key in keys]
            assert await con.execute("GET", keys[7]) == f"v:{keys[7]}".encode()
            nodes = client.nodes()
    assert values == [f"v:{key}".encode() for key in keys]
    # Each key is where the server says it belongs.
    for key in keys[::97]:
        assert owner_of(table, key).command("GET", key) == f"v:{key}".encode()

    primaries = [node for node in nodes if node.role == "primary"]
    replicas = [node for node in nodes if node.role == "replica"]
    assert len(primaries) == 3 and len(replicas) == 3 and len(nodes) == 6
    assert {(n.host, n.port) for n in primaries} == {(p.host, p.port) for p in cluster.primaries()}
    assert {(n.host, n.port) for n in replicas} == {(r.host, r.port) for r in cluster.replicas()}
    covered = Counter(
        slot for node in primaries for low, high in node.slots for slot in range(low, high + 1)
    )
    assert len(covered) == SLOTS and set(covered.values()) == {1}
    assert min(covered) == 0 and max(covered) == SLOTS - 1
    by_port = {node.port: node for node in primaries}
    for primary in cluster.primaries():
        expected = {s for low, high in cluster.slot_ranges(primary) for s in range(low, high + 1)}
        listed = {s for low, high in by_port[primary.port].slots for s in range(low, high + 1)}
        assert listed == expected


async def test_seed_list_and_provider_constructors(cluster: LocalCluster, key_prefix: str) -> None:
    """A dead first seed is skipped for `startup_nodes`; `with_credentials_provider` logs every
    node in as the provider's user."""
    dead = f"redis://127.0.0.1:{free_port()}"
    keys = keys_in_distinct_slots(key_prefix, 30)
    with anyio.fail_after(QUICK):
        async with ClusterClient.from_url(dead, startup_nodes=[cluster.url]) as client:
            con = await client.get_async_connection()
            assert await con.mset({key: key for key in keys}) is True
            assert await con.mget(*keys) == [key.encode() for key in keys]

    username, password = f"seed-{secrets.token_hex(4)}", secrets.token_urlsafe(24)
    cluster.add_user(username, password)
    try:
        provider = ManualCredentialsProvider(Credentials(username, password))
        with anyio.fail_after(QUICK):
            client = ClusterClient.from_url(cluster.url).with_credentials_provider(provider)
            async with client:
                con = await client.get_async_connection()
                assert await con.mget(*keys) == [key.encode() for key in keys]
                seen = {
                    node.port: logged_in_users(node, {username}) for node in cluster.primaries()
                }
        assert all(users for users in seen.values()), seen
    finally:
        cluster.delete_user(username)


# -- 2. multi-key commands across slots -------------------------------------------------------


async def test_multi_key_commands_split_per_slot_and_merge_in_order(
    cluster: LocalCluster, key_prefix: str
) -> None:
    keys = keys_in_distinct_slots(key_prefix, 12)
    table = owners(cluster)
    assert len({owner_of(table, key) for key in keys}) == 3
    present, missing = keys[::2], keys[1::2]
    with anyio.fail_after(QUICK):
        async with ClusterClient.from_url(cluster.url) as client:
            con = await client.get_async_connection()
            flat = [item for key in present for item in (key, f"v:{key}")]
            assert await con.execute("MSET", *flat) == b"OK"
            on_servers = [owner_of(table, key).command("GET", key) for key in keys]

            mget = await con.execute("MGET", *keys)
            typed = await con.mget(*reversed(keys))
            exists = await con.execute("EXISTS", *keys, keys[0])  # a key twice counts twice
            touched = await con.execute("TOUCH", *keys)
            deleted = await con.execute("DEL", *present[:3], *missing)
            unlinked = await con.unlink(*present[3:])
            after = await con.exists(*keys)
    expected = [f"v:{key}".encode() if key in present else None for key in keys]
    assert on_servers == expected
    assert mget == expected
    assert typed == expected[::-1]
    assert exists == len(present) + 1
    assert touched == len(present)
    assert deleted == 3
    assert unlinked == len(present) - 3
    assert after == 0
    assert [owner_of(table, key).command("EXISTS", key) for key in keys] == [0] * len(keys)


async def test_other_cross_slot_commands_get_the_servers_crossslot_error(
    cluster: LocalCluster, key_prefix: str
) -> None:
    first, second, dest = keys_in_distinct_slots(key_prefix, 3)
    with anyio.fail_after(QUICK):
        async with ClusterClient.from_url(cluster.url) as client:
            con = await client.get_async_connection()
            assert await con.execute("SADD", first, "a") == 1
            assert await con.execute("SADD", second, "b") == 1
            with pytest.raises(ResponseError) as union:
                await con.execute("SUNIONSTORE", dest, first, second)
            with pytest.raises(ResponseError) as rename:
                await con.execute("RENAME", first, dest)
            # The connection goes on after the errors.
            assert await con.execute("SCARD", first) == 1
            assert await con.execute("EXISTS", dest) == 0
    assert "CROSSSLOT" in str(union.value)
    assert "CROSSSLOT" in str(rename.value)


# -- 3. keyless commands that fan out ----------------------------------------------------------


async def test_keyless_commands_fan_out(cluster: LocalCluster, key_prefix: str) -> None:
    keys = [f"{key_prefix}{index}" for index in range(300)]
    with anyio.fail_after(QUICK):
        async with ClusterClient.from_url(cluster.url) as client:
            con = await client.get_async_connection()
            assert await con.mset({key: "x" for key in keys}) is True
            # No other writer runs: the sum over the primaries is the cluster's size.
            per_node = [primary.command("DBSIZE") for primary in cluster.primaries()]
            size = await con.execute("DBSIZE")
            pong = await con.execute("PING")
            await con.delete(*keys)
    assert all(isinstance(count, int) and count > 0 for count in per_node), per_node
    assert size == sum(per_node)  # type: ignore[arg-type]
    assert size >= len(keys)
    assert pong == b"PONG"


# -- 4. pipelines and transactions -------------------------------------------------------------


async def test_pipeline_of_200_commands_over_many_slots_in_the_callers_order(
    cluster: LocalCluster, key_prefix: str
) -> None:
    keys = keys_in_distinct_slots(key_prefix, 100)
    table = owners(cluster)
    assert len({owner_of(table, key) for key in keys}) == 3
    with anyio.fail_after(QUICK):
        async with ClusterClient.from_url(cluster.url) as client:
            con = await client.get_async_connection()
            pipe = con.pipeline()
            for index, key in enumerate(keys):
                assert pipe.execute_command("INCRBY", key, index + 1) is pipe  # chainable
                pipe.execute_command("GET", key)
            assert len(pipe) == 200
            replies = await pipe.execute()
            assert len(pipe) == 0
            again = await pipe.execute_command("GET", keys[5]).execute_command("PING").execute()
    expected: list[object] = []
    for index in range(len(keys)):
        expected += [index + 1, str(index + 1).encode()]
    assert replies == expected
    assert again == [b"6", b"PONG"]
    for index, key in list(enumerate(keys))[::9]:
        assert owner_of(table, key).command("GET", key) == str(index + 1).encode()


async def test_pipeline_error_reply_in_place(cluster: LocalCluster, key_prefix: str) -> None:
    text, other, counter = keys_in_distinct_slots(key_prefix, 3)
    table = owners(cluster)
    assert len({owner_of(table, key) for key in (text, other, counter)}) >= 2
    with anyio.fail_after(QUICK):
        async with ClusterClient.from_url(cluster.url) as client:
            con = await client.get_async_connection()
            await con.set(other, "there")
            pipe = con.pipeline()
            pipe.execute_command("SET", text, "not a number").execute_command("INCR", text)
            pipe.execute_command("GET", other).execute_command("INCR", counter)
            replies = await pipe.execute(raise_on_error=False)

            pipe.execute_command("INCR", text).execute_command("INCR", counter)
            with pytest.raises(ResponseError):
                await pipe.execute()
            final = await con.get(counter)
    assert len(replies) == 4
    assert replies[0] == b"OK"
    assert isinstance(replies[1], ResponseError)
    assert "not an integer" in str(replies[1])
    assert replies[2:] == [b"there", 1]
    assert final == b"2"  # the member after the error ran too


async def test_transaction_in_one_slot_runs_atomically(
    cluster: LocalCluster, key_prefix: str
) -> None:
    tag = f"{{{key_prefix}tx}}"
    first, second = f"{tag}:a", f"{tag}:b"
    writers, rounds, readers = 10, 20, 5
    torn: list[object] = []
    with anyio.fail_after(QUICK):
        async with ClusterClient.from_url(cluster.url) as client:
            con = await client.get_async_connection()
            tx = con.pipeline(transaction=True)
            tx.execute_command("INCR", first).execute_command("INCR", second)
            assert await tx.execute_command("GET", first).execute() == [1, 1, b"1"]
            done = anyio.Event()

            async def writer() -> None:
                for _ in range(rounds):
                    tx = con.pipeline(transaction=True)
                    tx.execute_command("INCR", first).execute_command("INCR", second)
                    assert len(await tx.execute()) == 2

            async def reader() -> None:
                while not done.is_set():
                    tx = con.pipeline(transaction=True)
                    pair = (
                        await tx.execute_command("GET", first)
                        .execute_command("GET", second)
                        .execute()
                    )
                    if pair[0] != pair[1]:
                        torn.append(pair)

            async with anyio.create_task_group() as outer:
                for _ in range(readers):
                    outer.start_soon(reader)
                async with anyio.create_task_group() as group:
                    for _ in range(writers):
                        group.start_soon(writer)
                done.set()
            final = await con.mget(first, second)
    assert torn == []
    total = str(1 + writers * rounds).encode()
    assert final == [total, total]


async def test_cross_slot_transaction_raises_before_sending(
    cluster: LocalCluster, key_prefix: str
) -> None:
    first, second = keys_in_distinct_slots(key_prefix, 2)
    table = owners(cluster)
    with anyio.fail_after(QUICK):
        async with ClusterClient.from_url(cluster.url) as client:
            con = await client.get_async_connection()
            # Queueing or executing may raise: the contract says only "before sending".
            with pytest.raises(ValueError):  # noqa: PT012
                tx = con.pipeline(transaction=True)
                tx.execute_command("SET", first, "1").execute_command("SET", second, "2")
                await tx.execute()
            left = await con.exists(first, second)
            # The connection goes on: a transaction in one slot still works.
            tx = con.pipeline(transaction=True)
            assert await tx.execute_command("SET", first, "3").execute() == [b"OK"]
    assert left == 0
    assert owner_of(table, second).command("EXISTS", second) == 0
    assert owner_of(table, first).command("GET", first) == b"3"


# -- 5. a slot migration under load ------------------------------------------------------------


@pytest.mark.slow
async def test_slot_migration_under_load_follows_ask_then_moved(
    cluster: LocalCluster, key_prefix: str
) -> None:
    source = cluster.primaries()[0]
    target = cluster.primaries()[1]
    keys = tagged_keys_on(cluster, source, f"{key_prefix}mig", 300)
    slot = slot_of(keys[0])
    fresh = [f"{key}:fresh" for key in keys[:20]]  # created while the slot is half moved
    succeeded: Counter[str] = Counter()
    failures: list[str] = []
    asking_before = commandstat(target, "asking")
    migration = None
    try:
        with anyio.fail_after(LOADED):
            async with ClusterClient.from_url(cluster.url) as client:
                con = await client.get_async_connection()
                assert await con.mset({key: 0 for key in keys}) is True
                stop = anyio.Event()
                pool = keys + fresh

                async def worker(index: int) -> None:
                    rng = random.Random(index)
                    while not stop.is_set():
                        key = pool[rng.randrange(len(pool))]
                        try:
                            await con.incr(key)
                        except RedisError as exc:
                            failures.append(f"{type(exc).__name__}: {exc}")
                        else:
                            succeeded[key] += 1

                def total() -> int:
                    return sum(succeeded.values())

                async with anyio.create_task_group() as group:
                    for index in range(WORKERS):
                        group.start_soon(worker, index)
                    await until_count(total, 500)
                    migration = await in_thread(cluster.migrate_slot, slot, target, finish=False)
                    await until_count(total, total() + 2000)  # ASK for the moved half
                    await in_thread(migration.move_keys, 50)
                    await until_count(total, total() + 1000)
                    await in_thread(migration.finish)
                    await until_count(total, total() + 2000)  # MOVED, then the new owner
                    await eventually(lambda: client_sees_primary(client, target, slot))
                    stop.set()
                values = await con.mget(*pool)
        assert failures == [], f"{len(failures)} failed of {total()}: {failures[:5]}"
        assert values == [str(succeeded[key]).encode() for key in pool]
        assert commandstat(target, "asking") > asking_before  # ASK was followed
        assert cluster.node_for_slot(slot) is target
        assert target.command("GET", keys[0]) == str(succeeded[keys[0]]).encode()
    finally:
        # The session's cluster goes back to the way it was built.
        if migration is not None and not migration.finished:
            await in_thread(migration.finish)
        if cluster.node_for_slot(slot) is not source:
            await in_thread(cluster.migrate_slot, slot, source)


# -- 6. a manual failover under load ------------------------------------------------------------


@pytest.mark.slow
async def test_manual_failover_under_load_fails_no_command(
    own_cluster: LocalCluster, key_prefix: str
) -> None:
    primary = own_cluster.primaries()[0]
    replica = own_cluster.replicas_of(primary)[0]
    keys = keys_in_distinct_slots(key_prefix, 200)
    table = owners(own_cluster)
    on_primary = [key for key in keys if owner_of(table, key) is primary]
    assert on_primary
    succeeded: Counter[str] = Counter()
    failures: list[str] = []
    with anyio.fail_after(LOADED):
        async with ClusterClient.from_url(own_cluster.url) as client:
            con = await client.get_async_connection()
            stop = anyio.Event()

            async def worker(index: int) -> None:
                rng = random.Random(index)
                while not stop.is_set():
                    # Half of the commands go to the primary that fails over.
                    pool = on_primary if rng.random() < 0.5 else keys
                    key = pool[rng.randrange(len(pool))]
                    try:
                        await con.incr(key)
                    except RedisError as exc:
                        failures.append(f"{type(exc).__name__}: {exc}")
                    else:
                        succeeded[key] += 1

            def total() -> int:
                return sum(succeeded.values())

            async with anyio.create_task_group() as group:
                for index in range(WORKERS):
                    group.start_soon(worker, index)
                await until_count(total, 1000)
                former = await in_thread(own_cluster.failover, replica)
                await until_count(total, total() + 2000)
                await eventually(lambda: client_sees_primary(client, replica))
                stop.set()
            values = await con.mget(*keys)
    assert former is primary
    assert failures == [], f"{len(failures)} failed of {total()}: {failures[:5]}"
    assert values == [str(succeeded[key]).encode() if key in succeeded else None for key in keys]
    assert replica.role == "primary"
    sample = max(on_primary, key=lambda key: succeeded[key])
    assert replica.command("GET", sample) == str(succeeded[sample]).encode()


# -- 7. token rotation on every node -----------------------------------------------------------


@pytest.mark.slow
async def test_token_rotation_reauthenticates_every_node(
    cluster: LocalCluster, key_prefix: str
) -> None:
    """Each token its own ACL user, created and deleted on every node (Azure's rule): after each
    rotation every node connection is logged in as the newest user, and deleting the older ones
    (which closes their connections) fails no command."""
    rotations = 4
    stem = f"rot-{secrets.token_hex(4)}"
    users = [(f"{stem}-{index}", secrets.token_urlsafe(24)) for index in range(rotations + 1)]
    names = {name for name, _ in users}
    keys = keys_in_distinct_slots(key_prefix, 60)
    table = owners(cluster)
    assert len({owner_of(table, key) for key in keys}) == 3
    failures: list[str] = []
    wrong: list[object] = []
    ops = 0
    cluster.add_user(*users[0])
    provider = ManualCredentialsProvider(Credentials(*users[0]))

    def sessions() -> dict[int, list[str]]:
        return {node.port: logged_in_users(node, names) for node in cluster.nodes if node.alive}

    def all_as(expected: str) -> bool:
        seen = sessions()
        on_primaries = [seen[primary.port] for primary in cluster.primaries()]
        everyone = [user for found in seen.values() for user in found]
        return all(on_primaries) and set(everyone) == {expected}

    try:
        with anyio.fail_after(LOADED):
            client = ClusterClient.open_with_credentials_provider(cluster.url, provider)
            async with client:
                con = await client.get_async_connection()
                stop = anyio.Event()

                async def worker(index: int) -> None:
                    nonlocal ops
                    round_ = 0
                    while not stop.is_set():
                        key, value = keys[(index + round_) % len(keys)], f"{index}:{round_}"
                        round_ += 1
                        try:
                            await con.set(key, value)
                            got = await con.get(key)
                        except RedisError as exc:
                            failures.append(f"{type(exc).__name__}: {exc}")
                            continue
                        ops += 2
                        # Other workers write the same keys: only a foreign value is wrong.
                        if not isinstance(got, bytes) or b":" not in got:
                            wrong.append(got)

                async with anyio.create_task_group() as group:
                    for index in range(WORKERS):
                        group.start_soon(worker, index)
                    await until_count(lambda: ops, 500)
                    await eventually(lambda: all_as(users[0][0]), state=sessions)
                    for index in range(1, rotations + 1):
                        await in_thread(cluster.add_user, *users[index])
                        provider.set_credentials(Credentials(*users[index]))
                        # Every node connection re-authenticates in line...
                        newest = users[index][0]
                        await eventually(lambda: all_as(newest), state=sessions)  # noqa: B023
                        # ...so the old user can go: its connections would be closed.
                        await in_thread(cluster.delete_user, users[index - 1][0])
                        await until_count(lambda: ops, ops + 500)
                    stop.set()
                # Each primary still answers, as the newest user.
                for primary in cluster.primaries():
                    key = next(key for key in keys if owner_of(table, key) is primary)
                    assert await con.set(key, "last") is True
                    assert await con.get(key) == b"last"
                final = sessions()
        assert failures == [], f"{len(failures)} failed of {ops}: {failures[:5]}"
        assert wrong == []
        newest = users[-1][0]
        for primary in cluster.primaries():
            assert final[primary.port], f"no session on primary {primary.port}"
        assert {user for found in final.values() for user in found} == {newest}
    finally:
        for name, _ in users:
            await in_thread(cluster.delete_user, name)  # ACL DELUSER of a missing user is fine


# -- 8. reads from replicas ----------------------------------------------------------------------


async def test_read_from_replicas_sends_reads_to_replicas(
    cluster: LocalCluster, key_prefix: str
) -> None:
    keys = keys_in_distinct_slots(key_prefix, 60)
    table = owners(cluster)
    assert len({owner_of(table, key) for key in keys}) == 3
    replicas, primaries = cluster.replicas(), cluster.primaries()
    replica_gets = [commandstat(node, "get") for node in replicas]
    primary_gets = [commandstat(node, "get") for node in primaries]
    primary_sets = [commandstat(node, "set") for node in primaries]
    with anyio.fail_after(QUICK):
        async with ClusterClient.from_url(cluster.url, read_from_replicas=True) as client:
            con = await client.get_async_connection()
            for key in keys:
                assert await con.set(key, f"v:{key}") is True
                # A replica may lag behind its primary for a moment.
                while await con.get(key) != f"v:{key}".encode():  # noqa: ASYNC110
                    await anyio.sleep(0.01)
    replica_delta = [commandstat(n, "get") - b for n, b in zip(replicas, replica_gets, strict=True)]
    primary_delta = [
        commandstat(n, "get") - b for n, b in zip(primaries, primary_gets, strict=True)
    ]
    sets_delta = [commandstat(n, "set") - b for n, b in zip(primaries, primary_sets, strict=True)]
    assert all(delta > 0 for delta in replica_delta), replica_delta
    assert sum(replica_delta) >= len(keys)
    assert primary_delta == [0, 0, 0]  # reads never went to a primary
    assert sum(sets_delta) == len(keys)  # writes went to the primaries


# -- 9. a cancellation storm across nodes --------------------------------------------------------


class Storm:
    """One storm: `tasks` tasks of `rounds` calls each (GET, a cross-slot MGET, a pipeline over
    several slots, a keyless ECHO), a `fraction` of them cancelled after up to `max_delay`
    seconds, optionally with a 2 ms command timeout; every reply checked."""

    def __init__(
        self,
        seed: int,
        fraction: float,
        max_delay: float,
        use_timeout: bool,
        values: dict[str, bytes],
    ) -> None:
        self.seed, self.fraction, self.max_delay = seed, fraction, max_delay
        self.options: dict[str, Any] = {"command_timeout": 0.002} if use_timeout else {}
        self.rng = random.Random(seed)
        self.values = values
        self.keys = list(values)
        self.completed = self.abandoned = 0
        self.wrong: list[tuple[object, object]] = []
        self.failures: list[str] = []

    async def one_call(self, con: ClusterConnection, token: str) -> None:
        rng, values = self.rng, self.values
        kind = rng.randrange(4)
        chosen = rng.sample(self.keys, rng.randint(1, 5))
        reply: object
        expected: object
        if kind == 0:
            reply, expected = await con.get(chosen[0]), values[chosen[0]]
        elif kind == 1:
            reply = await con.execute("MGET", *chosen)
            expected = [values[key] for key in chosen]
        elif kind == 2:
            pipe = con.pipeline()
            for key in chosen:
                pipe.execute_command("GET", key).execute_command("ECHO", token)
            reply = await pipe.execute()
            expected = [item for key in chosen for item in (values[key], token.encode())]
        else:
            reply, expected = await con.execute("ECHO", token), token.encode()
        if reply != expected:
            self.wrong.append((expected, reply))
        self.completed += 1

    async def worker(self, con: ClusterConnection, index: int, rounds: int) -> None:
        rng = self.rng
        for round_ in range(rounds):
            token = f"{self.seed}:{index}:{round_}:{rng.random()}"
            try:
                if rng.random() < self.fraction:
                    with anyio.move_on_after(rng.uniform(0, self.max_delay)) as scope:
                        await self.one_call(con, token)
                    self.abandoned += scope.cancelled_caught
                else:
                    await self.one_call(con, token)
            except RedisTimeoutError:
                self.abandoned += 1
            except RedisError as exc:
                self.failures.append(f"{type(exc).__name__}: {exc}")


async def until_answered(call: Callable[[], Any]) -> Any:
    """`await call()`, again while a 2 ms command timeout expires (a loaded machine)."""
    with anyio.fail_after(QUICK):
        while True:
            try:
                return await call()
            except RedisTimeoutError:
                await anyio.sleep(0.01)


@pytest.mark.slow
@pytest.mark.parametrize(
    ("fraction", "max_delay", "use_timeout"),
    [(0.2, 0.002, False), (0.5, 0.01, False), (0.3, 0.005, True)],
)
async def test_cancellation_storm_across_nodes_never_delivers_a_wrong_reply(
    cluster: LocalCluster, key_prefix: str, fraction: float, max_delay: float, use_timeout: bool
) -> None:
    tasks, rounds = 100, 20
    keys = keys_in_distinct_slots(key_prefix, 200)
    values = {key: f"v:{key}".encode() for key in keys}
    storm = Storm(int(fraction * 1000), fraction, max_delay, use_timeout, values)
    with anyio.fail_after(LOADED):
        async with ClusterClient.from_url(cluster.url) as setup:
            # Set up without the storm's tiny command timeout: a 200-slot MSET would rarely
            # finish every part within 2 ms on a loaded machine.
            await (await setup.get_async_connection()).mset(values)
        async with ClusterClient.from_url(cluster.url, **storm.options) as client:
            con = await client.get_async_connection()
            async with anyio.create_task_group() as group:
                for index in range(tasks):
                    group.start_soon(storm.worker, con, index, rounds)
            # Every node connection still answers in order after all of that.
            after = []
            for key in keys:
                after.append(await until_answered(lambda key=key: con.get(key)))
    assert storm.wrong == [], f"{len(storm.wrong)} wrong replies: {storm.wrong[:3]}"
    assert storm.failures == [], storm.failures[:5]
    assert storm.completed + storm.abandoned >= tasks * rounds
    assert storm.completed > 0
    assert after == [values[key] for key in keys]


# -- the CLUSTER SLOTS fallback, and per-node statistics ----------------------------------------


def node_view(nodes: Iterable[Any]) -> set[tuple[str, int, str, tuple[tuple[int, int], ...]]]:
    """What both topology commands tell about each node: address, role and slot ranges."""
    return {(node.host, node.port, node.role, tuple(node.slots)) for node in nodes}


async def test_cluster_slots_fallback_when_cluster_shards_is_refused(
    cluster: LocalCluster, key_prefix: str
) -> None:
    """A user that may not run ``CLUSTER SHARDS`` (the server answers NOPERM, as a server
    without the command answers an error): the client reads ``CLUSTER SLOTS`` instead, and gets
    the same slot map and the same routing."""
    username, password = f"noshards-{secrets.token_hex(4)}", secrets.token_urlsafe(24)
    cluster.add_user(username, password, "~*", "&*", "+@all", "-cluster|shards")
    keys = keys_in_distinct_slots(key_prefix, 600)
    table = owners(cluster)
    before = {node.port: commandstat(node, "cluster|slots") for node in cluster.nodes}
    try:
        with anyio.fail_after(QUICK):
            async with ClusterClient.from_url(cluster.url) as full:
                await full.get_async_connection()
                from_shards = full.nodes()
            provider = ManualCredentialsProvider(Credentials(username, password))
            client = ClusterClient.from_url(cluster.url).with_credentials_provider(provider)
            async with client:
                con = await client.get_async_connection()
                from_slots = client.nodes()
                # The control: this user really is refused CLUSTER SHARDS.
                with pytest.raises(ResponseError, match="NOPERM"):
                    await con.execute("CLUSTER", "SHARDS")
                for key in keys:
                    assert await con.execute("SET", key, f"s:{key}") == b"OK"
                values = [await con.execute("GET", key) for key in keys]
    finally:
        cluster.delete_user(username)
    after = {node.port: commandstat(node, "cluster|slots") for node in cluster.nodes}
    assert sum(after.values()) > sum(before.values())  # the fallback ran
    assert len(from_shards) == 6
    assert node_view(from_slots) == node_view(from_shards)
    assert {node.id for node in from_slots} == {node.id for node in from_shards}
    assert values == [f"s:{key}".encode() for key in keys]
    # Each key was written on the primary that serves its slot (no redirect needed to get it).
    for key in keys[::37]:
        assert owner_of(table, key).command("GET", key) == f"s:{key}".encode()


async def test_node_stats_per_node_session(cluster: LocalCluster, key_prefix: str) -> None:
    """`ClusterClient.node_stats()`: each connected node's session counters, by address,
    read-only; a rotation re-authenticates each of them once."""
    keys = keys_in_distinct_slots(key_prefix, 60)
    username = f"stats-{secrets.token_hex(4)}"
    first, second = secrets.token_urlsafe(24), secrets.token_urlsafe(24)
    cluster.add_user(username, first)
    try:
        provider = ManualCredentialsProvider(Credentials(username, first))
        with anyio.fail_after(QUICK):
            client = ClusterClient.from_url(cluster.url).with_credentials_provider(provider)
            async with client:
                assert client.node_stats() == {}  # nothing connected yet
                con = await client.get_async_connection()
                for key in keys:
                    await con.execute("SET", key, "1")
                stats = client.node_stats()
                primaries = {(node.host, node.port) for node in client.nodes() if node.is_primary}
                # Every primary served a key: each has its own session, connected once.
                assert primaries <= set(stats), (primaries, stats)
                assert all(stats[address].connects == 1 for address in primaries), stats
                assert all(stats[address].reauths == 0 for address in primaries), stats
                # A copy: changing it changes nothing in the client.
                stats.clear()
                assert client.node_stats()

                cluster.add_user_password(username, second)
                provider.set_credentials(Credentials(username, second))
                await eventually(
                    lambda: all(client.node_stats()[address].reauths == 1 for address in primaries)
                )
                assert all(
                    client.node_stats()[address].reauth_failures == 0 for address in primaries
                )
                assert await con.execute("GET", keys[0]) == b"1"
        with pytest.raises(RedisError):
            client.node_stats()  # closed
    finally:
        cluster.delete_user(username)
