"""`Session`: one live link kept logged in with the newest credentials. The one re-auth path.

A session is a link, the credentials it is logged in with, the loop that follows the provider's
stream, and the replace policy. Every holder (the shared connection, a subscriber, the pool of
dedicated connections) owns sessions built from a `Connector`, runs them in the task group it
was handed, and never calls back into its owner.

- Connect: with bounded back-off; the credentials are the provider's current ones, so a
  connection made after a failover, a drop or a wall-clock jump starts with the newest.
- Follow: each new credential from the provider's stream is sent as ``AUTH`` in line with the
  other commands (those queued before it run as the old identity, those after as the new one,
  with no pause). A rotation that arrives while a connect's handshake is in flight is caught up
  with as soon as that connect completes.
- Replace: a refused ``AUTH`` asks the provider for a fresh token (``request_refresh``) and a new
  link, logged in with the newest credentials, takes over; the old one is still logged in with
  the previous token and delivers the replies already in flight before it closes. An ``AUTH``
  with no reply in time means the socket is presumed dead (half-open): it is closed at once, so
  its callers get a typed error instead of waiting for ever. A replacement that fails (the
  server is busy, unreachable...) is retried with back-off; if it still fails the session has no
  link and the next command reconnects.

A holder may change two steps: how credentials reach a link (a RESP2 subscriber switches over
in one write) and how a link whose re-authentication failed is replaced (a subscriber cuts over
without loss). Nothing a session runs ever raises into the task group.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

import anyio
import anyio.abc
from anyio.streams.memory import MemoryObjectReceiveStream

from .._credentials import Credentials
from .._errors import (
    AuthenticationError,
    ConnectionClosedError,
    ProtocolError,
    RedisConnectionError,
    RedisError,
    RedisTimeoutError,
    ResponseError,
    TokenRefreshError,
)
from ..protocol._handshake import auth_command, safe_server_message
from ._connector import Connector
from ._link import Link

if TYPE_CHECKING:
    from .._auth import StreamingCredentialsProvider

__all__ = ["ConnectionStats", "CredentialsSource", "Session"]

logger = logging.getLogger("anyredis_auth.connection")

#: Failures counted for back-off (2**30 times the initial delay is past any maximum).
_MAX_FAILURES = 30


@dataclass
class ConnectionStats:
    """What happened to a connection's sessions (never holds a secret)."""

    connects: int = 0
    reauths: int = 0
    reauth_failures: int = 0
    replacements: int = 0
    last_reauth_error: str | None = None


class CredentialsSource:
    """Where sessions get their credentials: a provider's stream, or fixed ones (or none)."""

    def __init__(
        self, provider: StreamingCredentialsProvider | None, fixed: Credentials | None
    ) -> None:
        self.provider = provider
        self.fixed = fixed

    @property
    def following(self) -> bool:
        """Whether credentials change over time (a provider)."""
        return self.provider is not None

    async def current(self) -> Credentials | None:
        """Valid credentials now (the provider never hands out an expired token).

        Raises `TokenRefreshError` when the provider has nothing valid.
        """
        if self.provider is None:
            return self.fixed
        credentials = await self.provider.current_credentials()
        if not isinstance(credentials, Credentials):
            raise TokenRefreshError(
                f"the credentials provider returned {type(credentials).__name__}, not Credentials"
            )
        return credentials

    def subscribe(self) -> MemoryObjectReceiveStream[Credentials | TokenRefreshError] | None:
        return None if self.provider is None else self.provider.subscribe()

    def refused(self) -> None:
        """The server refused a token: ask the provider for a fresh one (when it can)."""
        request = getattr(self.provider, "request_refresh", None)
        if callable(request):
            try:
                request()
            except Exception:  # a provider's bug must not break the connection
                logger.exception("the credentials provider's request_refresh() failed")


#: Sends `credentials` to `link` in line and returns the server's reply (a holder may change it).
SendCredentials = Callable[[Link, Credentials], Awaitable[object]]
#: Replaces a link whose re-authentication failed; True when it did (a holder may change it).
ReplaceLink = Callable[[Link, bool], Awaitable[bool]]


class Session:
    """One live link to a server, logged in with the newest credentials (module docs)."""

    def __init__(
        self,
        connector: Connector,
        group: anyio.abc.TaskGroup,
        source: CredentialsSource,
        *,
        pubsub: bool = False,
        stats: ConnectionStats | None = None,
        on_install: Callable[[Link], None] | None = None,
        send_credentials: SendCredentials | None = None,
        replace: ReplaceLink | None = None,
    ) -> None:
        self.connector = connector
        self._group = group
        self._source = source
        self._pubsub = pubsub
        self.stats = stats if stats is not None else ConnectionStats()
        self._on_install = on_install
        self._send_credentials = send_credentials or self.send_auth
        self._replace_hook = replace
        #: The live link (None before the first connect and after a failed replacement).
        self.link: Link | None = None
        #: The newest credentials known (what every link should be logged in with).
        self.latest: Credentials | None = source.fixed
        self._lock = anyio.Lock()
        self._start_lock = anyio.Lock()
        #: When the last connect gave up, and its error (callers queued behind it share it).
        self._failed: tuple[float, RedisError] | None = None
        self._failures = 0
        self._closed: BaseException | None = None
        self._follower: anyio.CancelScope | None = None

    # -- state ---------------------------------------------------------------------------------

    @property
    def closed(self) -> bool:
        return self._closed is not None

    @property
    def address(self) -> str:
        return self.connector.address

    @property
    def following(self) -> bool:
        """Whether the session follows a provider's stream."""
        return self._follower is not None

    # -- lifecycle -----------------------------------------------------------------------------

    async def start(self) -> None:
        """Wait for the provider's first credentials and follow its stream from now on.

        Raises `TokenRefreshError` when the identity provider fails; nothing is left running.
        """
        if not self._source.following or self._follower is not None:
            return
        self.latest = await self._source.current()
        subscription = self._source.subscribe()
        assert subscription is not None
        try:
            await self._group.start(self._follow, subscription)
        except BaseException:
            subscription.close()
            raise

    def close(self, error: BaseException | None = None) -> None:
        """Close the link and stop following; pending and later commands get `error`."""
        if self._closed is None:
            self._closed = error or ConnectionClosedError("the connection was closed")
        if self._follower is not None:
            self._follower.cancel()
        link, self.link = self.link, None
        if link is not None:
            link.close(ConnectionClosedError(str(self._closed)))

    def closed_error(self) -> ConnectionClosedError:
        return ConnectionClosedError(str(self._closed or "the connection was closed"))

    async def current_credentials(self) -> Credentials | None:
        """The source's valid credentials now (`TokenRefreshError` when there are none)."""
        return await self._source.current()

    # -- connecting ----------------------------------------------------------------------------

    async def connect(self, *, forever: bool = False) -> Link:
        """The live link, connecting (one task at a time, with back-off) when there is none.

        Tries ``reconnect_attempts`` times (``forever``: until it succeeds or the session is
        closed), then raises the last typed error. A rotation that came during the handshake
        is caught up with before this returns.
        """
        link = self.link
        if link is None or link.closed:
            if self._closed is not None:
                raise self.closed_error()
            if self._follower is None and self._source.following:
                # A holder that connects lazily (a cluster node) follows the provider from
                # its first connect on.
                async with self._start_lock:
                    await self.start()
            queued_at = anyio.current_time()
            async with self._lock:
                link = self.link
                if link is None or link.closed:
                    failed = self._failed
                    if failed is not None and failed[0] >= queued_at and not forever:
                        # A connect failed (all its attempts) while this caller waited for it:
                        # trying again at once would take as long and meet the same answer.
                        raise type(failed[1])(str(failed[1])) from failed[1]
                    link = await self._open(forever=forever)
            await self._catch_up(link)
        return link

    async def _open(self, *, forever: bool = False) -> Link:
        """Open and install a new link (the caller holds the lock)."""
        options = self.connector.options
        attempts = options.reconnect_attempts
        last_error: RedisError | None = None
        attempt = 0
        while forever or attempt < attempts:
            attempt += 1
            if self._failures:
                delay = options.reconnect_initial_delay * 2 ** (self._failures - 1)
                await anyio.sleep(min(options.reconnect_max_delay, delay))
            if self._closed is not None:
                raise self.closed_error()
            try:
                credentials = await self._source.current()
                link = await self.connector.open(self._group, credentials, pubsub=self._pubsub)
            except RedisError as exc:
                self._failures = min(self._failures + 1, _MAX_FAILURES)
                if isinstance(exc, AuthenticationError):
                    self._source.refused()  # the next attempt gets a fresh token
                if not forever and isinstance(exc, (AuthenticationError, TokenRefreshError)):
                    # Typed, and trying again at once would meet the same answer: the caller's
                    # next command tries again (the refresher keeps trying meanwhile).
                    raise
                last_error = exc
                if forever:
                    logger.warning("connecting to %s failed (%s); trying again", self.address, exc)
                continue
            if self._closed is not None:
                link.close(self.closed_error())
                raise self.closed_error()
            self._failures = 0
            self._install(link)
            return link
        assert last_error is not None
        error = type(last_error)(f"{last_error} (after {attempts} attempts)")
        self._failed = (anyio.current_time(), error)
        raise error from last_error

    def _install(self, link: Link) -> None:
        self.link = link
        self.stats.connects += 1
        if self._on_install is not None:
            self._on_install(link)

    async def _catch_up(self, link: Link) -> None:
        """Credentials that rotated while `link` was being set up: send them now, in line."""
        latest = self.latest
        if latest is not None and self.following and link.credentials != latest:
            await self.reauthenticate(latest)

    # -- following the provider ----------------------------------------------------------------

    async def _follow(
        self,
        subscription: MemoryObjectReceiveStream[Credentials | TokenRefreshError],
        *,
        task_status: anyio.abc.TaskStatus[None] = anyio.TASK_STATUS_IGNORED,
    ) -> None:
        """Runs in the holder's task group for as long as the session lives; never raises."""
        with anyio.CancelScope() as scope, subscription:
            self._follower = scope
            task_status.started()
            async for item in subscription:
                if isinstance(item, TokenRefreshError):
                    # The refresher keeps trying; the current session stays valid meanwhile.
                    logger.warning("credentials provider error: %s", item)
                    continue
                self.latest = item
                try:
                    await self.reauthenticate(item)
                except Exception:  # a bug of ours must not take the holder's group down
                    logger.exception("re-authentication of %s failed unexpectedly", self.address)

    async def send_auth(self, link: Link, credentials: Credentials) -> object:
        """Send AUTH in line with the other commands; return its reply.

        Raises `RedisTimeoutError` when no reply came within the connect timeout.
        """
        timeout = self.connector.options.connect_timeout
        with anyio.move_on_after(timeout) as scope:
            (reply,) = await link.request_many([auth_command(credentials)])
            return reply
        assert scope.cancelled_caught
        raise RedisTimeoutError(f"no reply to AUTH within {timeout:g} s")

    async def reauthenticate(self, credentials: Credentials) -> None:
        """Log the live link in with `credentials`; replace it when that fails."""
        link = self.link
        if link is None or link.closed:
            return  # the next connect uses them
        if link.credentials == credentials:
            link.credentials = credentials  # the same secret, perhaps a later expiry
            return
        dead = False
        try:
            reply = await self._send_credentials(link, credentials)
        except RedisTimeoutError as exc:
            problem, dead = str(exc), True
        except (RedisConnectionError, ProtocolError):
            return  # the socket died meanwhile; the reconnect uses the newest credentials
        else:
            refused = self.record_auth(link, credentials, reply)
            if refused is None:
                return
            problem = refused
        self.stats.reauth_failures += 1
        self.stats.last_reauth_error = problem
        await self.replace(link, problem, dead=dead)

    def record_auth(self, link: Link, credentials: Credentials, reply: object) -> str | None:
        """Take the reply to an in-line AUTH of `credentials` on `link` (any holder's).

        Returns None when the link is now logged in with them, else the problem (and asks the
        provider for a fresh token, since the server refused this one).
        """
        who = credentials.username or "default"
        if not isinstance(reply, ResponseError):
            link.credentials = credentials
            self.stats.reauths += 1
            logger.info("re-authenticated %s as %r", link.address, who)
            return None
        self._source.refused()
        return f"the server refused AUTH as {who!r}: {safe_server_message(reply)}"

    # -- replacing -----------------------------------------------------------------------------

    async def replace(self, old: Link, problem: str, *, dead: bool = False) -> None:
        """`old` failed its re-authentication: a fresh link takes over (module docs)."""
        logger.warning(
            "re-authentication of %s failed (%s); replacing the connection", old.address, problem
        )
        if dead:
            # No reply to AUTH: the socket is presumed half-open. Its callers get a typed error
            # now rather than waiting for replies that will not come.
            old.close(
                RedisConnectionError(
                    f"no reply from {old.address} to re-authentication: the connection was "
                    "presumed dead and dropped"
                )
            )
        if self._replace_hook is not None and await self._replace_hook(old, dead):
            return
        async with self._lock:
            if self.link is not old or self._closed is not None:
                return
            try:
                await self._open()
            except RedisError as exc:
                logger.warning(
                    "replacing the connection to %s failed (%s); the next command reconnects",
                    old.address,
                    exc,
                )
                self.link = None
            else:
                self.stats.replacements += 1
        # Still logged in with the previous token: the replies in flight arrive, then it closes.
        old.retire()
