"""`MultiplexedConnection`: one socket shared by any number of tasks, reconnected when it dies."""

from __future__ import annotations

import logging
from typing import Any

import anyio
import anyio.abc
from anyio.streams.memory import MemoryObjectReceiveStream, MemoryObjectSendStream

from .._commands import Commands, ConnectionOnlyCommands
from .._errors import ConnectionClosedError, RedisConnectionError, RedisTimeoutError, ResponseError
from .._options import ConnectionOptions
from ..protocol import CommandArg, Push
from ..protocol._encoder import Pieces, encode_pieces
from ..protocol._routing import _ORDINARY as ORDINARY_NAMES
from ..protocol._routing import BLOCKING, classify, command_name
from ._connector import Connector
from ._dedicated import DedicatedPool
from ._link import Link
from ._pipeline import Pipeline
from ._session import ConnectionStats, CredentialsSource, Session
from ._waiters import Waiter

__all__ = ["ConnectionStats", "MultiplexedConnection"]

logger = logging.getLogger("anyredis_auth.connection")

#: Push messages kept for a slow consumer before new ones are dropped (and counted).
PUSH_BUFFER = 1000


class MultiplexedConnection(ConnectionOnlyCommands, Commands):
    """A connection shared by many tasks: commands are pipelined on one socket.

    Get one with ``await client.get_multiplexed_async_connection()`` and share it. Each
    `execute` returns its own reply, whatever happens to other callers: a cancelled or timed-out
    caller's reply is read and dropped, never handed to someone else. When the socket dies every
    in-flight caller gets `RedisConnectionError` at once, and the next command reconnects (with
    bounded back-off) and sets the session up again with the latest credentials. Commands are not
    re-sent after a connection error unless ``retry_on_connection_error=True``.

    Blocking commands (BLPOP, XREAD BLOCK, WAIT, ...) run on a dedicated connection so they never
    stall the others. With a credentials provider, a long or endless block is cut into segments
    that end before the token expires, re-authenticated in between (same result as one long
    block; see ``Client(blocking_segment=...)``). Subscriptions: ``client.pubsub()``.

    With a credentials provider, the connection follows the provider's stream: each new
    credential is sent as ``AUTH`` in line with the other commands (those queued before it run as
    the old identity, those after as the new one, with no pause). If the server refuses it or
    does not answer in time, the connection is replaced by a fresh one logged in with the newest
    credentials; commands already in flight on a refused socket still get their replies, those on
    a socket that did not answer get `RedisConnectionError` (see `anyredis_auth._connection.
    _session`).
    """

    def __init__(
        self,
        connector: Connector,
        source: CredentialsSource,
        dedicated: DedicatedPool,
        group: anyio.abc.TaskGroup,
    ) -> None:
        self._session = Session(connector, group, source, on_install=self._on_install)
        self._dedicated = dedicated
        self._group = group
        self._options = connector.options
        self._health_checks: set[Link] = set()
        self.stats = self._session.stats
        self._timeout = self._options.command_timeout
        # Made when someone asks for `push_messages`: until then push messages are dropped.
        self._push_send: MemoryObjectSendStream[Push] | None = None
        self._push_receive: MemoryObjectReceiveStream[Push] | None = None
        #: Push messages dropped because nobody read `push_messages` (fast enough).
        self.dropped_push_messages = 0

    # -- public API ----------------------------------------------------------------------------

    @property
    def options(self) -> ConnectionOptions:
        """The `ConnectionOptions` this connection was made with."""
        return self._options

    @property
    def push_messages(self) -> MemoryObjectReceiveStream[Push]:
        """RESP3 push messages (client tracking, ...) routed away from the replies.

        Messages are kept from the first time this is read; the stream ends (EndOfStream, after
        what is buffered) when the connection or its client is closed. Close it when done.
        """
        if self._push_receive is None:
            send, receive = anyio.create_memory_object_stream[Push](PUSH_BUFFER)
            self._push_send, self._push_receive = send, receive
            if self._session.closed:
                send.close()
        return self._push_receive

    @property
    def is_connected(self) -> bool:
        """Whether the connection holds an open socket right now."""
        link = self._session.link
        return link is not None and not link.closed

    async def execute(self, *args: bytes | str | int | float | bytearray | memoryview) -> Any:
        """Run one command and return its reply; an error reply raises `ResponseError`."""
        data = encode_pieces(*args)
        name = args[0]
        # `classify`'s first step inlined (the hot path): a name known to be ordinary.
        if (type(name) is str or type(name) is bytes) and name in ORDINARY_NAMES:
            kind = None
        else:
            kind = classify(args)
        if kind is not None:
            if kind != BLOCKING:
                raise ValueError(
                    f"{command_name(args[0])} is not allowed on a shared connection: {kind}"
                )
            if self._session.closed:
                raise self._session.closed_error()
            reply = await self._dedicated.run_blocking(data, args)
        else:
            session = self._session
            link = session.link
            if link is None or link.closed:
                link = await session.connect()
            try:
                if self._timeout is None:  # the hot path: no extra coroutine per command
                    reply = await link.call(data)
                else:
                    reply = await self._wait(link, link.submit(data), args[0])
            except RedisConnectionError:
                if not self._options.retry_on_connection_error or session.closed:
                    raise
                link = await session.connect()
                reply = await self._wait(link, link.submit(data), args[0])
        if isinstance(reply, ResponseError):
            raise reply
        return reply

    def pipeline(self, transaction: bool = False) -> Pipeline:
        """Queue commands; ``await pipe.execute()`` writes them at once (MULTI/EXEC if asked).

        A transaction runs on a dedicated connection: ``MULTI`` must be accepted before its
        commands are written (see `Pipeline`).
        """
        return Pipeline(self, transaction)

    async def connect(self) -> None:
        """Connect now (the first command would otherwise); errors surface here.

        With a provider this waits for its first credentials (`TokenRefreshError` when the
        identity provider fails) and starts following its stream.
        """
        await self._session.start()
        await self._session.connect()

    async def aclose(self) -> None:
        """Close the socket; pending and later commands get `ConnectionClosedError`."""
        self._session.close(ConnectionClosedError("the connection was closed"))
        if self._push_send is not None:
            self._push_send.close()

    # -- internals -----------------------------------------------------------------------------

    async def _wait(self, link: Link, waiter: Waiter, name: object) -> object:
        timeout = self._timeout
        if timeout is None:
            return await waiter.wait()
        with anyio.move_on_after(timeout):
            return await waiter.wait()
        # The slot stays queued: its reply will be read and dropped, never given to anyone else.
        self._check_health(link)
        raise RedisTimeoutError(f"{command_name(name)} got no reply within {timeout:g} s")

    def _check_health(self, link: Link) -> None:
        """After a timeout: is the socket half-open? A PING queued behind the late reply tells.

        If the PING gets no reply within ``health_check_timeout`` the connection is presumed
        dead and closed: its in-flight callers get `RedisConnectionError` and the next command
        reconnects. One check per connection at a time; a slow but live server passes it.
        """
        limit = self._options.health_check_timeout
        if limit is None or link.closed or link in self._health_checks:
            return
        self._health_checks.add(link)
        self._group.start_soon(self._health_check, link, limit)

    async def _health_check(self, link: Link, limit: float) -> None:
        try:
            with anyio.move_on_after(limit) as scope:
                await link.request_many([["PING"]])
            if scope.cancelled_caught and not link.closed:
                logger.warning(
                    "no reply from %s within %g s: connection replaced", link.address, limit
                )
                link.close(
                    RedisConnectionError(
                        f"no reply from {link.address} within {limit:g} s: the connection "
                        "was presumed dead (half-open) and dropped"
                    )
                )
        except RedisConnectionError:
            pass  # it died on its own meanwhile
        finally:
            self._health_checks.discard(link)

    async def _execute_within(self, limit: float | None, *args: CommandArg) -> object:
        """One command bounded by `limit` instead of ``command_timeout`` (the client's own
        queries, such as a cluster's slot map); an error reply is returned as a value."""
        session = self._session
        link = session.link
        if link is None or link.closed:
            link = await session.connect()
        waiter = link.submit(encode_pieces(*args))
        with anyio.move_on_after(limit):
            return await waiter.wait()
        raise RedisTimeoutError(f"{command_name(args[0])} got no reply within {limit:g} s")

    async def _execute_batch(self, blob: bytes | Pieces, count: int) -> list[object]:
        session = self._session
        link = session.link
        if link is None or link.closed:
            link = await session.connect()
        replies = await self._wait(link, link.submit_batch(blob, count), "pipeline")
        assert isinstance(replies, list)
        return replies

    async def _execute_transaction(self, body: bytes | Pieces, count: int) -> list[object]:
        if self._session.closed:
            raise self._session.closed_error()
        return await self._dedicated.run_transaction(body, count)

    def _on_install(self, link: Link) -> None:
        link.push_handler = self._on_push

    def _on_push(self, message: Push) -> None:
        if self._push_send is None:
            self.dropped_push_messages += 1
            return
        try:
            self._push_send.send_nowait(message)
        except (anyio.WouldBlock, anyio.BrokenResourceError, anyio.ClosedResourceError):
            self.dropped_push_messages += 1
