"""Following a credentials provider: the re-authentication shared by every session holder.

`MultiplexedConnection` and `PubSub` both keep one live link logged in with the provider's newest
credentials. This mixin holds the loop that reads the provider's stream and the in-band AUTH step;
the holder decides how credentials reach its link (`_send_credentials`: a plain AUTH, or a
RESP2 pub/sub switch-over) and how a link whose re-authentication failed is replaced
(`_replace`).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING

import anyio
import anyio.abc
from anyio.streams.memory import MemoryObjectReceiveStream

from .._credentials import Credentials
from .._errors import (
    ProtocolError,
    RedisConnectionError,
    RedisTimeoutError,
    ResponseError,
    TokenRefreshError,
)
from ._connector import auth_command, safe_server_message

if TYPE_CHECKING:
    from .._options import ConnectionOptions
    from ._link import Link

__all__ = ["ConnectionStats", "CredentialsFollower"]

logger = logging.getLogger("anyredis_auth.connection")


@dataclass
class ConnectionStats:
    """What happened to a connection's sessions (never holds a secret)."""

    connects: int = 0
    reauths: int = 0
    reauth_failures: int = 0
    replacements: int = 0
    last_reauth_error: str | None = None


class CredentialsFollower:
    """Mixin: follow the provider's stream and re-authenticate ``self._link`` in band."""

    _link: Link | None
    _options: ConnectionOptions
    _credentials: Credentials | None
    _watcher: anyio.CancelScope | None
    stats: ConnectionStats

    async def _replace(self, old: Link) -> None:  # pragma: no cover - every holder overrides
        raise NotImplementedError

    async def _send_credentials(self, link: Link, credentials: Credentials) -> object:
        """Send AUTH in line with the other commands; return its reply.

        Raises `RedisTimeoutError` when no reply came within the connect timeout.
        """
        timeout = self._options.connect_timeout
        with anyio.move_on_after(timeout) as scope:
            (reply,) = await link.request_many([auth_command(credentials)])
            return reply
        assert scope.cancelled_caught
        raise RedisTimeoutError(f"no reply to AUTH within {timeout:g} s")

    async def _follow_credentials(
        self,
        subscription: MemoryObjectReceiveStream[Credentials | TokenRefreshError],
        *,
        task_status: anyio.abc.TaskStatus[None] = anyio.TASK_STATUS_IGNORED,
    ) -> None:
        """Runs in the client's group for as long as the holder lives."""
        with anyio.CancelScope() as scope, subscription:
            self._watcher = scope
            task_status.started()
            async for item in subscription:
                if isinstance(item, TokenRefreshError):
                    # The refresher keeps trying; the current session stays valid meanwhile.
                    logger.warning("credentials provider error: %s", item)
                    continue
                if item == self._credentials and self._link_is_on(item):
                    continue
                self._credentials = item
                await self._reauthenticate(item)

    def _link_is_on(self, credentials: Credentials) -> bool:
        link = self._link
        return link is None or link.closed or link.credentials == credentials

    async def _reauthenticate(self, credentials: Credentials) -> None:
        link = self._link
        if link is None or link.closed or link.credentials == credentials:
            return  # the next connect (or this session) already uses them
        who = credentials.username or "default"
        problem: str | None = None
        try:
            reply = await self._send_credentials(link, credentials)
            if isinstance(reply, ResponseError):
                problem = f"the server refused AUTH: {safe_server_message(reply)}"
        except RedisTimeoutError as exc:
            problem = str(exc)
        except (RedisConnectionError, ProtocolError):
            return  # the socket died meanwhile; the reconnect uses the newest credentials
        if problem is None:
            link.credentials = credentials
            self.stats.reauths += 1
            logger.info("re-authenticated %s as %r", link.address, who)
            return
        self.stats.reauth_failures += 1
        self.stats.last_reauth_error = problem
        logger.warning(
            "re-authentication of %s as %r failed (%s); replacing the connection",
            link.address,
            who,
            problem,
        )
        await self._replace(link)
