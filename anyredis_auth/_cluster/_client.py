"""`ClusterClient`: a Redis Cluster whose every node's sessions stay authenticated.

Ownership only, as `Client`: one task group (the provider's refresher, every node's connection
tasks, the periodic refresh of the slot map), the `Router` that holds the node connections, and
closing. One refresher for the whole cluster: every node session subscribes to the same
provider and re-authenticates in line on every rotation.
"""

from __future__ import annotations

import dataclasses
from types import TracebackType
from typing import Any

import anyio.abc

from .._auth import StreamingCredentialsProvider
from .._connection._session import ConnectionStats, CredentialsSource
from .._errors import ConnectionClosedError
from .._options import ConnectionOptions, options_from_url, seconds
from .._ownership import check_transport, close_group, open_group, refresh_before_expiry
from .._pubsub import DEFAULT_BUFFER
from ..protocol import CommandArg
from ..protocol._cluster_topology import ClusterNode
from ._connection import ClusterConnection
from ._pubsub import ClusterPubSub
from ._router import Router

__all__ = ["ClusterClient"]

#: Re-read the slot map this often even when nothing asked for it (seconds).
DEFAULT_REFRESH_INTERVAL = 30.0
#: How long a command that could not reach its node waits for a map naming another one.
DEFAULT_FAILOVER_TIMEOUT = 20.0


class ClusterClient:
    """A Redis Cluster: ``async with cluster:`` owns one task group.

    >>> cluster = ClusterClient.from_url("rediss://cache.region.redis.azure.net:10000")
    >>> async with cluster:
    ...     con = await cluster.get_async_connection()
    ...     await con.execute("SET", "user:{42}:name", "ada")

    The connection options are those of `Client`, plus ``startup_nodes`` (more seed URLs),
    ``read_from_replicas`` (read-only commands go to replicas, whose sessions send
    ``READONLY``), ``max_redirects`` (the longest MOVED/ASK chain followed, default 5),
    ``topology_refresh_interval`` (seconds, default 30) and ``failover_timeout`` (seconds a
    command waits for a new slot map when its node is unreachable, default 20).
    """

    def __init__(
        self,
        options: ConnectionOptions,
        credentials_provider: StreamingCredentialsProvider | None = None,
        *,
        startup_nodes: list[ConnectionOptions] | None = None,
        read_from_replicas: bool = False,
        max_redirects: int = 5,
        blocking_segment: float | None = None,
        topology_refresh_interval: float | None = DEFAULT_REFRESH_INTERVAL,
        failover_timeout: float = DEFAULT_FAILOVER_TIMEOUT,
    ) -> None:
        check_transport(options, credentials_provider)
        if options.db:
            raise ValueError("Redis Cluster has one database: the URL or 'db' must not select one")
        if isinstance(max_redirects, bool) or not isinstance(max_redirects, int):
            raise ValueError("option 'max_redirects' must be an int")
        if max_redirects < 0:
            raise ValueError("option 'max_redirects' must not be negative")
        self.options = options
        self._provider = credentials_provider
        self._startup_nodes = list(startup_nodes or [])
        self.read_from_replicas = bool(read_from_replicas)
        self.max_redirects = max_redirects
        self.blocking_segment = seconds(blocking_segment, "blocking_segment")
        self.topology_refresh_interval = seconds(
            topology_refresh_interval, "topology_refresh_interval"
        )
        self.failover_timeout = seconds(failover_timeout, "failover_timeout") or 0.0
        self._source = CredentialsSource(credentials_provider, options.credentials)
        self._group: anyio.abc.TaskGroup | None = None
        self._router: Router | None = None

    # -- construction --------------------------------------------------------------------------

    @classmethod
    def from_url(cls, url: str, **options: Any) -> ClusterClient:
        """A cluster client seeded by `url` (more seeds: ``startup_nodes=[url, ...]``)."""
        cluster_options = {
            name: options.pop(name)
            for name in (
                "read_from_replicas",
                "max_redirects",
                "blocking_segment",
                "topology_refresh_interval",
                "failover_timeout",
            )
            if name in options
        }
        extra = options.pop("startup_nodes", None) or []
        seed = options_from_url(url, **options)
        startup = [_seed_options(seed, other) for other in extra]
        return cls(seed, startup_nodes=startup, **cluster_options)

    @classmethod
    def open_with_credentials_provider(
        cls, url: str, provider: StreamingCredentialsProvider, **options: Any
    ) -> ClusterClient:
        """A cluster client whose node sessions authenticate with what `provider` streams."""
        return cls.from_url(url, **options).with_credentials_provider(provider)

    def with_credentials_provider(self, provider: StreamingCredentialsProvider) -> ClusterClient:
        """A copy of this cluster client that authenticates with `provider`."""
        return type(self)(
            self.options,
            provider,
            startup_nodes=self._startup_nodes,
            read_from_replicas=self.read_from_replicas,
            max_redirects=self.max_redirects,
            blocking_segment=self.blocking_segment,
            topology_refresh_interval=self.topology_refresh_interval,
            failover_timeout=self.failover_timeout,
        )

    def __repr__(self) -> str:
        return f"<ClusterClient {self.options.address}>"

    # -- lifecycle -----------------------------------------------------------------------------

    async def __aenter__(self) -> ClusterClient:
        if self._group is not None:
            raise RuntimeError("this cluster client is already open")
        group = await open_group(self._provider)
        self._group = group
        self._router = Router(
            [self.options, *self._startup_nodes],
            self._source,
            group,
            blocking_segment=self.blocking_segment,
            refresh_before_expiry=refresh_before_expiry(self._provider),
            read_from_replicas=self.read_from_replicas,
            max_redirects=self.max_redirects,
            failover_timeout=self.failover_timeout,
        )
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> bool | None:
        group, self._group = self._group, None
        router, self._router = self._router, None
        assert group is not None
        if router is not None:
            await router.close()
        await close_group(group)
        return None

    def _require_router(self) -> Router:
        if self._router is None:
            raise ConnectionClosedError(
                "the cluster client is not open: use it as `async with cluster:`"
            )
        return self._router

    # -- the cluster ---------------------------------------------------------------------------

    async def get_async_connection(self) -> ClusterConnection:
        """A connection to the whole cluster, shared by any number of tasks.

        The first call reads the slot map and the server's command table (`RedisConnectionError`
        when no startup node answers) and starts the periodic refresh.
        """
        router = self._require_router()
        if router.slot_map is None:
            first = router.generation
            await self._source.current()  # a typed TokenRefreshError before any connect
            await router.refresh(first)
        interval = self.topology_refresh_interval
        if interval is not None and self._group is not None and not router.refreshing_periodically:
            router.refreshing_periodically = True
            await self._group.start(router.run_periodic_refresh, interval)
        return ClusterConnection(
            router, max_redirects=self.max_redirects, failover_timeout=self.failover_timeout
        )

    def pubsub(self, *, buffer_size: int = DEFAULT_BUFFER) -> ClusterPubSub:
        """A subscriber: ``async with cluster.pubsub() as ps:``; ``ssubscribe`` follows each
        shard channel's slot to its owner (see `ClusterPubSub`). Call after
        `get_async_connection` (the slot map must be known)."""
        return ClusterPubSub(self._require_router(), buffer_size)

    def nodes(self) -> list[ClusterNode]:
        """The current primaries and replicas (address, role, slot ranges), as last read."""
        router = self._require_router()
        return [] if router.slot_map is None else list(router.slot_map.nodes())

    def node_stats(self) -> dict[tuple[str, int], ConnectionStats]:
        """Each node session's counters (connects, re-auths, ...) by ``(host, port)``, for the
        nodes this client has a session to; a snapshot (copies: changing them changes nothing).

        A replica read with ``read_from_replicas`` may have two sessions (one sending
        ``READONLY``): its counters are summed. Subscribers' connections are not included
        (see ``PubSub.stats``).
        """
        merged: dict[tuple[str, int], ConnectionStats] = {}
        for node in self._require_router().connections():
            stats = node.connection.stats
            found = merged.get(node.address)
            if found is None:
                merged[node.address] = dataclasses.replace(stats)
                continue
            found.connects += stats.connects
            found.reauths += stats.reauths
            found.reauth_failures += stats.reauth_failures
            found.replacements += stats.replacements
            found.last_reauth_error = stats.last_reauth_error or found.last_reauth_error
        return merged

    async def execute_on_node(self, node: ClusterNode, *args: CommandArg) -> Any:
        """Run one command on `node` (one of `nodes`) itself, on that node's shared session:
        for per-node commands (``PING``, ``INFO``, ``DBSIZE`` of one shard, ``SCAN``...).
        No redirect is followed (a key another node serves gets the server's ``MOVED``);
        on a replica the session sends ``READONLY``, so reads of its shard's keys are served.
        An error reply raises `ResponseError`."""
        router = self._require_router()
        return await router.connection_for_node(node, readonly=True).connection.execute(*args)


def _seed_options(seed: ConnectionOptions, url: str) -> ConnectionOptions:
    """Another startup node: its host and port from `url`, everything else from the seed."""
    other = options_from_url(url)
    return dataclasses.replace(seed, host=other.host, port=other.port)
