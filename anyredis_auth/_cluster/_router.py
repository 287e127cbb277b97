"""`Router`: the cluster's slot map, the server's command table, and one session per node.

A node is just another address for a `Connector`: each node gets a `MultiplexedConnection` of
its own (a `Session` that follows the provider and re-authenticates in line, plus a pool of
dedicated connections for blocking commands and transactions), opened on first use and shared
by every task. Sessions opened later (after a failover, a slot move or a new node) start with
the provider's newest credentials, as every session does.

The slot map is read with ``CLUSTER SHARDS`` (``CLUSTER SLOTS`` on servers without it), from
any node that answers, one refresh in flight at a time: on ``MOVED`` (after the one slot was
moved in place), on connection errors, and every ``topology_refresh_interval`` seconds.

Host names: a node that announces a host name is reached by it, one that announces only an IP
by its IP. Over TLS a node reached by IP is verified against the host name of the URL the user
gave (Azure announces IPs while its certificate names the cache), unless the user set
``tls_server_hostname``.
"""

from __future__ import annotations

import dataclasses
import logging
import random

import anyio
import anyio.abc

from .._connection._connector import Connector
from .._connection._dedicated import DedicatedPool
from .._connection._multiplexed import MultiplexedConnection
from .._connection._session import CredentialsSource
from .._errors import ConnectionClosedError, RedisConnectionError, RedisError, ResponseError
from .._options import ConnectionOptions
from ..protocol._cluster_commands import CommandInfo, CommandTable, parse_command_reply
from ..protocol._cluster_slots import SLOT_COUNT
from ..protocol._cluster_topology import (
    ClusterNode,
    SlotMap,
    parse_cluster_shards,
    parse_cluster_slots,
)
from ..protocol._routing import classify

__all__ = ["NodeConnection", "Router"]

logger = logging.getLogger("anyredis_auth.cluster")

_SINGLE_KEY_LIMIT = 1024


class NodeConnection:
    """The shared connection to one node (with its dedicated pool), and its connector."""

    def __init__(
        self,
        address: tuple[str, int],
        connector: Connector,
        connection: MultiplexedConnection,
        dedicated: DedicatedPool,
    ) -> None:
        self.address = address
        self.connector = connector
        self.connection = connection
        self.dedicated = dedicated


class Router:
    """Where each command goes (see the module documentation)."""

    def __init__(
        self,
        seeds: list[ConnectionOptions],
        source: CredentialsSource,
        group: anyio.abc.TaskGroup,
        *,
        blocking_segment: float | None,
        refresh_before_expiry: float | None,
        read_from_replicas: bool,
        max_redirects: int = 5,
        failover_timeout: float = 20.0,
    ) -> None:
        self._seeds = seeds
        self._options = seeds[0]
        self._source = source
        self._group = group
        self._blocking_segment = blocking_segment
        self._refresh_before_expiry = refresh_before_expiry
        self.read_from_replicas = read_from_replicas
        self.max_redirects = max_redirects
        self.failover_timeout = failover_timeout
        self._slot_map: SlotMap | None = None
        self._table: CommandTable = CommandTable(())
        #: The hot path's caches, dropped whenever the map / the table / the nodes change: each
        #: slot's primary connection (None: not looked up yet), and per command name (as given)
        #: whether its only key is argument 1 and it may take the one-key path.
        self.by_slot: list[NodeConnection | None] = [None] * SLOT_COUNT
        self.single_key: dict[object, bool] = {}
        self._nodes: dict[tuple[str, int, bool], NodeConnection] = {}
        self._refresh_lock = anyio.Lock()
        #: Incremented by every completed refresh (callers wait for a newer one).
        self.generation = 0
        self._closed = False
        self._refresh_pending = False
        #: Whether `run_periodic_refresh` was started.
        self.refreshing_periodically = False

    @property
    def slot_map(self) -> SlotMap | None:
        """The slot map (None until the first refresh)."""
        return self._slot_map

    @slot_map.setter
    def slot_map(self, slot_map: SlotMap | None) -> None:
        self._slot_map = slot_map
        self.by_slot = [None] * SLOT_COUNT

    @property
    def table(self) -> CommandTable:
        """The server's command table (empty until the first refresh)."""
        return self._table

    @table.setter
    def table(self, table: CommandTable) -> None:
        self._table = table
        self.single_key = {}

    def primary_connection(self, slot: int) -> NodeConnection:
        """The connection to the primary of `slot` (cached in `by_slot` until the map changes)."""
        node = self.connection_for_node(self.node_for_slot(slot))
        self.by_slot[slot] = node
        return node

    def learn_single_key(self, name: str | bytes) -> bool:
        """Whether command `name` takes the one-key path: an ordinary command (not blocking,
        not refused) without subcommands whose only key is argument 1 (GET, SET, INCR, HGET...),
        sent to the slot's primary (not a read that may go to a replica). Cached in
        `single_key`."""
        info: CommandInfo | None = self._table.lookup((name,))
        single = (
            info is not None
            and not info.subcommands
            and info.fixed_positions == (1,)
            and classify((name,)) is None
            and not (info.readonly and self.read_from_replicas)
        )
        # An empty table (no refresh yet) knows nothing: ask again later. Bounded: names are
        # the caller's (a typo per call must not grow the cache).
        if self._table and len(self.single_key) < _SINGLE_KEY_LIMIT:
            self.single_key[name] = single
        return single

    # -- node connections ----------------------------------------------------------------------

    def options_for(self, host: str, port: int) -> ConnectionOptions:
        """The seed's options, pointed at one node."""
        options = self._options
        hostname = options.tls_server_hostname
        if options.tls and hostname is None and host != options.host:
            # Reached by an address the certificate may not name: verify the URL's host name
            # (what Azure's certificates carry) unless the node announced a host name itself.
            node = self.slot_map.node_at(host, port) if self.slot_map is not None else None
            if node is None or node.hostname is None:
                hostname = options.host
        return dataclasses.replace(
            options, host=host, port=port, unix_path=None, tls_server_hostname=hostname
        )

    def node_connection(self, host: str, port: int, *, readonly: bool = False) -> NodeConnection:
        """The shared connection to ``host:port`` (made on first use, connected lazily)."""
        if self._closed:
            raise ConnectionClosedError("the cluster client was closed")
        key = (host, port, readonly)
        found = self._nodes.get(key)
        if found is not None:
            return found
        connector = Connector(self.options_for(host, port), readonly=readonly)
        dedicated = DedicatedPool(
            connector,
            self._group,
            self._source,
            segment=self._blocking_segment,
            refresh_before_expiry=self._refresh_before_expiry,
        )
        connection = MultiplexedConnection(connector, self._source, dedicated, self._group)
        node = NodeConnection((host, port), connector, connection, dedicated)
        self._nodes[key] = node
        return node

    def connection_for_node(self, node: ClusterNode, *, readonly: bool = False) -> NodeConnection:
        return self.node_connection(
            node.host, node.port_for(self._options.tls), readonly=readonly and not node.is_primary
        )

    @property
    def tls(self) -> bool:
        """Whether nodes are reached over TLS (their TLS ports)."""
        return self._options.tls

    @property
    def connect_timeout(self) -> float | None:
        """The seed's connect timeout (bounds our own queries and subscriber moves)."""
        return self._options.connect_timeout

    @property
    def source(self) -> CredentialsSource:
        """Where every node session gets its credentials."""
        return self._source

    @property
    def group(self) -> anyio.abc.TaskGroup:
        return self._group

    def connections(self) -> list[NodeConnection]:
        """Every node connection made so far."""
        return list(self._nodes.values())

    async def close(self) -> None:
        self._closed = True
        self.by_slot = [None] * SLOT_COUNT  # the next command asks node_connection: closed
        nodes, self._nodes = list(self._nodes.values()), {}
        for node in nodes:
            await node.connection.aclose()
            node.dedicated.close()

    # -- routing -------------------------------------------------------------------------------

    def require_map(self) -> SlotMap:
        if self.slot_map is None:
            raise RedisConnectionError("the cluster's slot map is not known yet")
        return self.slot_map

    def node_for_slot(self, slot: int, *, readonly: bool = False) -> ClusterNode:
        """The node that serves `slot`: its primary, or a replica for a read when asked."""
        slot_map = self.require_map()
        if readonly and self.read_from_replicas:
            replicas = slot_map.replicas_for(slot)
            if replicas:
                return random.choice(replicas)
        node = slot_map.primary_for(slot)
        if node is None:
            raise RedisConnectionError(f"no node serves slot {slot} (the cluster is down?)")
        return node

    def any_primary(self) -> ClusterNode:
        primaries = self.require_map().primaries()
        if not primaries:
            raise RedisConnectionError("the cluster has no primary")
        return random.choice(primaries)

    def moved_away(self, node: ClusterNode, slot: int | None, *, readonly: bool = False) -> bool:
        """Whether the current map no longer sends `slot` (any primary: None) to `node`."""
        slot_map = self.slot_map
        if slot_map is None:
            return False
        if slot is None:
            return all(other.address != node.address for other in slot_map.primaries())
        owner = slot_map.primary_for(slot)
        if owner is None:
            return False  # the slot is uncovered: keep waiting (bounded) for a map with it
        if readonly and self.read_from_replicas:
            serving = [owner, *slot_map.replicas_for(slot)]
            return all(other.address != node.address for other in serving)
        return owner.address != node.address

    def moved(self, slot: int, host: str, port: int) -> None:
        """A ``MOVED``: the slot lives on ``host:port`` now (a full refresh follows)."""
        if self.slot_map is not None:
            self.slot_map = self.slot_map.with_moved(slot, host, port)

    # -- topology ------------------------------------------------------------------------------

    async def refresh(self, seen_generation: int | None = None) -> None:
        """Read the slot map from any node that answers (one refresh in flight at a time).

        With `seen_generation`, a refresh completed since then is enough: callers that queued
        behind a refresh do not run another one. Raises `RedisConnectionError` when no node
        answered.
        """
        async with self._refresh_lock:
            if seen_generation is not None and self.generation > seen_generation:
                return
            errors: list[str] = []
            for host, port in self._candidates():
                try:
                    node = self.node_connection(host, port)
                    slot_map = await self._read_map(node.connection, host)
                    if not self.table:
                        self.table = parse_command_reply(
                            await self._query(node.connection, "COMMAND")
                        )
                except RedisError as exc:
                    errors.append(f"{host}:{port}: {exc}")
                    continue
                self.slot_map = slot_map
                self.generation += 1
                return
            raise RedisConnectionError(
                "could not read the cluster's slot map from any node: " + "; ".join(errors[-3:])
            )

    def _candidates(self) -> list[tuple[str, int]]:
        """Known nodes first (connected ones, then primaries, shuffled), then the startup nodes.

        A node we hold a live connection to answers at once; one that just died (a hard
        failover) would cost a failed connect, so it comes last.
        """
        seen: list[tuple[str, int]] = []
        if self.slot_map is not None:
            tls = self._options.tls
            nodes = list(self.slot_map.nodes())
            random.shuffle(nodes)

            def rank(node: ClusterNode) -> tuple[bool, bool]:
                held = self._nodes.get((node.host, node.port_for(tls), False))
                connected = held is not None and held.connection.is_connected
                return (not connected, not node.is_primary)

            nodes.sort(key=rank)
            seen += [(node.host, node.port_for(tls)) for node in nodes]
        for seed in self._seeds:
            if (seed.host, seed.port) not in seen:
                seen.append((seed.host, seed.port))
        return seen

    def nodes_to_try(self, avoid: tuple[str, int] | None = None) -> list[tuple[str, int]]:
        """Addresses to open a connection of one's own on (a classic subscriber): connected
        nodes first, then primaries, then replicas and the startup nodes; `avoid` (a node
        just lost) last, in case it comes back."""
        found = [address for address in self._candidates() if address != avoid]
        if avoid is not None:
            found.append(avoid)
        return found

    async def _query(self, connection: MultiplexedConnection, *args: str) -> object:
        """Our own query, bounded by the connect timeout (not the user's command timeout)."""
        reply = await connection._execute_within(self._options.connect_timeout, *args)
        if isinstance(reply, ResponseError):
            raise reply
        return reply

    async def _read_map(self, connection: MultiplexedConnection, host: str) -> SlotMap:
        try:
            reply = await self._query(connection, "CLUSTER", "SHARDS")
        except ResponseError:
            return parse_cluster_slots(await self._query(connection, "CLUSTER", "SLOTS"), host)
        return parse_cluster_shards(reply, host)

    def refresh_soon(self, seen_generation: int) -> None:
        """Refresh in the background (a MOVED was followed already); one at a time."""
        if self._refresh_pending or self._closed:
            return
        self._refresh_pending = True
        self._group.start_soon(self._background_refresh, seen_generation)

    async def _background_refresh(self, seen_generation: int) -> None:
        try:
            await self.refresh(seen_generation)
        except RedisError as exc:
            logger.warning("refreshing the cluster's slot map failed: %s", exc)
        finally:
            self._refresh_pending = False

    async def run_periodic_refresh(
        self,
        interval: float,
        *,
        task_status: anyio.abc.TaskStatus[None] = anyio.TASK_STATUS_IGNORED,
    ) -> None:
        """Refresh the slot map every `interval` seconds; never raises."""
        task_status.started()
        while not self._closed:
            await anyio.sleep(interval)
            try:
                await self.refresh()
            except RedisError as exc:
                logger.warning("periodic refresh of the cluster's slot map failed: %s", exc)
