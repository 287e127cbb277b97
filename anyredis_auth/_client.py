"""`Client`: options, the task group that owns every task, connection management."""

from __future__ import annotations

import weakref
from types import TracebackType
from typing import Any

import anyio
import anyio.abc

from ._connection._blocking import MAX_SEGMENT, SegmentedBlocking, plan_blocking
from ._connection._connector import check_handshake, handshake_commands, open_stream
from ._connection._link import Link
from ._connection._multiplexed import MultiplexedConnection
from ._credentials import Credentials
from ._errors import ConnectionClosedError, RedisTimeoutError, ResponseError
from ._options import ConnectionOptions, options_from_url, seconds
from ._pubsub import DEFAULT_BUFFER, PubSub
from .protocol import CommandArg, Parser

__all__ = ["Client"]


class Client:
    """Where connections come from. ``async with client:`` owns one task group.

    Every task the client starts (connection readers and writers, and later the token refresher)
    lives in that group; leaving the block closes every connection, fails pending callers with
    `ConnectionClosedError` and joins every task, so nothing keeps running.

    >>> client = Client.from_url("redis://localhost:6379/0")
    >>> async with client:
    ...     con = await client.get_multiplexed_async_connection()
    ...     await con.execute("PING")

    ``blocking_segment`` (seconds): with a credentials provider, blocking commands (BLPOP, XREAD
    BLOCK, ...) whose timeout is 0 or longer than this wait in segments of at most this long,
    re-authenticated between segments (see `anyredis_auth._blocking`). Default: half the
    provider's ``refresh_config.refresh_before_expiry``, at most 30 s (30 s for providers without
    a refresh config).
    """

    def __init__(
        self,
        options: ConnectionOptions,
        credentials_provider: Any = None,
        *,
        blocking_segment: float | None = None,
    ) -> None:
        if (
            credentials_provider is not None
            and not options.tls
            and not options.is_local
            and not options.allow_insecure_transport
        ):
            raise ValueError(
                f"refusing to send tokens in clear text to {options.address}: use rediss:// "
                "(Azure requires TLS), or pass allow_insecure_transport=True"
            )
        self.options = options
        self._provider = credentials_provider
        self._group: anyio.abc.TaskGroup | None = None
        self._connections: weakref.WeakSet[MultiplexedConnection] = weakref.WeakSet()
        self._links: set[Link] = set()
        self._idle_blocking: list[Link] = []
        self._pubsubs: set[PubSub] = set()
        #: Whether the server speaks RESP3 to pub/sub links (None: not tried yet).
        self._pubsub_resp3: bool | None = None
        self.blocking_segment = seconds(blocking_segment, "blocking_segment")

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
    def open_with_credentials_provider(cls, url: str, provider: Any, **options: Any) -> Client:
        """A client whose connections authenticate with the credentials `provider` streams."""
        return cls.from_url(url, **options).with_credentials_provider(provider)

    def with_credentials_provider(self, provider: Any) -> Client:
        """A copy of this client that authenticates with `provider`."""
        return type(self)(self.options, provider, blocking_segment=self.blocking_segment)

    def __repr__(self) -> str:
        return f"<Client {self.options.address}>"

    # -- lifecycle -----------------------------------------------------------------------------

    async def __aenter__(self) -> Client:
        if self._group is not None:
            raise RuntimeError("this client is already open")
        group = anyio.create_task_group()
        await group.__aenter__()
        self._group = group
        if self._provider is not None:
            # The provider's refresher runs here unless someone runs it already; then this one
            # stands by and takes over if that one stops.
            await group.start(self._provider.run)
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> bool | None:
        group, self._group = self._group, None
        assert group is not None
        for pubsub in list(self._pubsubs):
            pubsub._shutdown(ConnectionClosedError("the client was closed"))
        for connection in list(self._connections):
            await connection.aclose()
        for link in list(self._links):
            link.close(ConnectionClosedError("the client was closed"))
        self._idle_blocking.clear()
        group.cancel_scope.cancel()
        # Our tasks never raise (links report errors to their callers), so the group ends clean;
        # the body's own exception, if any, propagates as it is, not wrapped in a group.
        await group.__aexit__(None, None, None)
        return None

    def _require_group(self) -> anyio.abc.TaskGroup:
        if self._group is None:
            raise ConnectionClosedError(
                "the client is not open: use it as `async with client:` to get connections"
            )
        return self._group

    # -- connections ---------------------------------------------------------------------------

    async def get_multiplexed_async_connection(self) -> MultiplexedConnection:
        """A new connection that any number of tasks may share; connected before it returns."""
        self._require_group()
        connection = MultiplexedConnection(self, self.options, self._provider)
        self._connections.add(connection)
        await connection.connect()
        return connection

    def pubsub(self, *, buffer_size: int = DEFAULT_BUFFER) -> PubSub:
        """A subscriber with a connection of its own: ``async with client.pubsub() as ps:``.

        See `PubSub`. ``buffer_size`` messages wait for the consumer before the connection's
        reader waits too (backpressure: nothing is dropped).
        """
        self._require_group()
        return PubSub(self, self.options, self._provider, buffer_size)

    async def _current_credentials(self) -> Credentials | None:
        if self._provider is not None:
            credentials = await self._provider.current_credentials()
            assert isinstance(credentials, Credentials)
            return credentials
        return self.options.credentials

    async def _open_link(
        self, options: ConnectionOptions, credentials: Credentials | None, *, pubsub: bool = False
    ) -> Link:
        """Connect, start the link's tasks in our group and log in with `credentials`.

        A pub/sub link speaks RESP3 whenever the server does (whatever ``options.protocol``
        says): the first one tries ``HELLO 3`` and, when the server does not know HELLO, sets
        up RESP2 on the same socket; the client remembers the answer.
        """
        group = self._require_group()
        timeout = options.connect_timeout
        with anyio.move_on_after(timeout) as scope:
            stream = await open_stream(options)
        if scope.cancelled_caught:
            raise RedisTimeoutError(f"connecting to {options.address} took over {timeout:g} s")
        protocol = options.protocol
        if pubsub:
            protocol = 2 if self._pubsub_resp3 is False else 3
        parser = Parser(
            protocol=protocol,
            backend=options.parser,
            encoding=options.encoding if options.decode_responses else None,
            errors="surrogateescape",
        )
        link = Link(stream, parser, options.address, on_close=self._links.discard, pubsub=pubsub)
        self._links.add(link)
        try:
            await group.start(link.run)
            with anyio.move_on_after(timeout) as scope:
                commands = handshake_commands(options, credentials, protocol)
                replies = await link.request_many(commands)
                if pubsub and protocol == 3 and _unknown_command(replies[0]):
                    self._pubsub_resp3 = False
                    protocol = 2
                    commands = handshake_commands(options, credentials, protocol)
                    replies = await link.request_many(commands)
                elif pubsub and protocol == 3:
                    self._pubsub_resp3 = True
            if scope.cancelled_caught:
                raise RedisTimeoutError(
                    f"the handshake with {options.address} took over {timeout:g} s"
                )
            check_handshake(options, credentials, replies, protocol)
            link.credentials = credentials
            link.protocol = protocol
        except BaseException:
            link.close()
            raise
        return link

    def _segment_length(self) -> float | None:
        """How long one segment of a blocking command may wait (None: no segmenting)."""
        if self._provider is None:
            return None
        if self.blocking_segment is not None:
            return self.blocking_segment
        config = getattr(self._provider, "refresh_config", None)
        before = getattr(config, "refresh_before_expiry", None)
        if isinstance(before, (int, float)) and before > 0:
            return min(before / 2.0, MAX_SEGMENT)
        return MAX_SEGMENT

    async def _run_blocking(self, data: bytes, args: tuple[CommandArg, ...] = ()) -> object:
        """Run one blocking command on a dedicated connection, kept for reuse when it ends well.

        With a credentials provider, a wait longer than a segment (or for ever) is segmented
        and re-authenticated between segments (see `anyredis_auth._blocking`).
        """
        segment = self._segment_length()
        plan = plan_blocking(args) if segment is not None and args else None
        if plan is not None and segment is not None and 0 < plan.timeout <= segment:
            plan = None  # ends before the refresh deadline anyway
        credentials = await self._current_credentials()
        link = None
        while self._idle_blocking:
            candidate = self._idle_blocking.pop()
            if not candidate.closed and candidate.credentials == credentials:
                link = candidate
                break
            candidate.close()  # closed, or logged in with credentials that were replaced
        if link is None:
            link = await self._open_link(self.options, credentials)
        runner: SegmentedBlocking | None = None
        try:
            if plan is None or segment is None:
                reply = await link.submit(data).wait()
            else:
                runner = SegmentedBlocking(self, link, plan, segment)
                reply = await runner.run()
                link = runner.link
        except BaseException:
            if runner is not None:
                runner.link.close()
            # Cancelled or failed mid-block: the server may still be blocked on it. Never reuse.
            link.close()
            raise
        if (
            self._group is None
            or len(self._idle_blocking) >= self.options.max_idle_blocking_connections
        ):
            link.close()
        else:
            self._idle_blocking.append(link)
        return reply


def _unknown_command(reply: object) -> bool:
    return isinstance(reply, ResponseError) and "unknown command" in reply.message.lower()
