"""`Client`: ownership only. The task group, the registry of holders, and closing.

Everything a connection needs to open an authenticated session lives in its `Connector`
(`anyredis_auth._connection._connector`) and its `CredentialsSource`; the holders (shared
connections, subscribers, the pool of dedicated connections) get those and the task group to run
in. None of them calls back into the client.
"""

from __future__ import annotations

import weakref
from types import TracebackType
from typing import Any

import anyio
import anyio.abc

from ._auth import StreamingCredentialsProvider
from ._connection._connector import Connector
from ._connection._dedicated import DedicatedPool
from ._connection._multiplexed import MultiplexedConnection
from ._connection._session import CredentialsSource
from ._errors import ConnectionClosedError
from ._options import ConnectionOptions, options_from_url, seconds
from ._ownership import check_transport, close_group, open_group, refresh_before_expiry
from ._pubsub import DEFAULT_BUFFER, PubSub

__all__ = ["Client"]


class Client:
    """Where connections come from. ``async with client:`` owns one task group.

    Every task the client starts (connection readers and writers, and the token refresher)
    lives in that group; leaving the block closes every connection, fails pending callers with
    `ConnectionClosedError` and joins every task, so nothing keeps running.

    >>> client = Client.from_url("redis://localhost:6379/0")
    >>> async with client:
    ...     con = await client.get_multiplexed_async_connection()
    ...     await con.execute("PING")

    ``blocking_segment`` (seconds): with a credentials provider, blocking commands (BLPOP, XREAD
    BLOCK, ...) whose timeout is 0 or longer than this wait in segments of at most this long,
    re-authenticated between segments; each segment also ends before the current token expires
    (see `anyredis_auth._connection._dedicated`). Default: half the provider's
    ``refresh_config.refresh_before_expiry``, at most 30 s (30 s for providers without a
    refresh config).
    """

    def __init__(
        self,
        options: ConnectionOptions,
        credentials_provider: StreamingCredentialsProvider | None = None,
        *,
        blocking_segment: float | None = None,
    ) -> None:
        check_transport(options, credentials_provider)
        self.options = options
        self._provider = credentials_provider
        self.blocking_segment = seconds(blocking_segment, "blocking_segment")
        self._connector = Connector(options)
        self._source = CredentialsSource(credentials_provider, options.credentials)
        self._group: anyio.abc.TaskGroup | None = None
        self._dedicated: DedicatedPool | None = None
        self._connections: weakref.WeakSet[MultiplexedConnection] = weakref.WeakSet()
        self._pubsubs: set[PubSub] = set()

    # -- construction --------------------------------------------------------------------------

    @classmethod
    def from_url(cls, url: str, **options: Any) -> Client:
        """A client for `url` (``redis://``, ``rediss://``, ``unix://``); see `ConnectionOptions`.

        Keyword options win over the URL. A bad URL or option raises `ValueError` naming it.
        ``blocking_segment`` is a client option (see the class).
        """
        segment = options.pop("blocking_segment", None)
        return cls(options_from_url(url, **options), blocking_segment=segment)

    @classmethod
    def open_with_credentials_provider(
        cls, url: str, provider: StreamingCredentialsProvider, **options: Any
    ) -> Client:
        """A client whose connections authenticate with the credentials `provider` streams."""
        return cls.from_url(url, **options).with_credentials_provider(provider)

    def with_credentials_provider(self, provider: StreamingCredentialsProvider) -> Client:
        """A copy of this client that authenticates with `provider`."""
        return type(self)(self.options, provider, blocking_segment=self.blocking_segment)

    def __repr__(self) -> str:
        return f"<Client {self.options.address}>"

    # -- lifecycle -----------------------------------------------------------------------------

    async def __aenter__(self) -> Client:
        if self._group is not None:
            raise RuntimeError("this client is already open")
        # The provider's refresher runs here unless someone runs it already; then this one
        # stands by and takes over if that one stops.
        group = await open_group(self._provider)
        self._group = group
        self._dedicated = DedicatedPool(
            self._connector,
            group,
            self._source,
            segment=self.blocking_segment,
            refresh_before_expiry=refresh_before_expiry(self._provider),
        )
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> bool | None:
        group, self._group = self._group, None
        assert group is not None
        closed = ConnectionClosedError("the client was closed")
        for pubsub in list(self._pubsubs):
            pubsub._shutdown(closed)
        self._pubsubs.clear()
        for connection in list(self._connections):
            await connection.aclose()
        if self._dedicated is not None:
            self._dedicated.close()
            self._dedicated = None
        await close_group(group)
        return None

    def _require_open(self) -> tuple[anyio.abc.TaskGroup, DedicatedPool]:
        if self._group is None or self._dedicated is None:
            raise ConnectionClosedError(
                "the client is not open: use it as `async with client:` to get connections"
            )
        return self._group, self._dedicated

    # -- holders -------------------------------------------------------------------------------

    async def get_multiplexed_async_connection(self) -> MultiplexedConnection:
        """A new connection that any number of tasks may share; connected before it returns.

        A failed connect leaves nothing behind (no task, no provider subscription).
        """
        group, dedicated = self._require_open()
        connection = MultiplexedConnection(self._connector, self._source, dedicated, group)
        try:
            await connection.connect()
        except BaseException:
            await connection.aclose()
            raise
        self._connections.add(connection)
        return connection

    def pubsub(self, *, buffer_size: int = DEFAULT_BUFFER) -> PubSub:
        """A subscriber with a connection of its own: ``async with client.pubsub() as ps:``.

        See `PubSub`. ``buffer_size`` messages wait for the consumer before the connection's
        reader waits too (backpressure: nothing is dropped).
        """
        group, _ = self._require_open()
        pubsub = PubSub(self._connector, self._source, group, buffer_size)
        self._pubsubs.add(pubsub)
        pubsub._on_close = self._pubsubs.discard
        return pubsub
