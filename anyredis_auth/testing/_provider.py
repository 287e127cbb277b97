"""`ManualCredentialsProvider`: a provider whose credentials the test pushes by hand."""

from __future__ import annotations

import anyio
import anyio.abc

from .._auth._config import RetryConfig
from .._auth._providers import BroadcastProvider
from .._credentials import Credentials
from .._errors import TokenRefreshError

__all__ = ["ManualCredentialsProvider"]


class ManualCredentialsProvider(BroadcastProvider):
    """A `StreamingCredentialsProvider` driven by the test, synchronously.

    ``provider.set_credentials(Credentials("alice", "s3cret"))`` delivers new credentials to every
    subscriber at once; ``provider.set_error(TokenRefreshError("..."))`` delivers an error item
    (streams go on). `current_credentials` waits for the first credentials, or raises the error
    set before any. `run` does nothing (it reports itself started and returns); `runs` counts its
    calls, `subscriber_count` the subscribers still listening.
    """

    def __init__(self, credentials: Credentials | None = None) -> None:
        super().__init__()
        self.runs = 0
        self.retry_config: RetryConfig | None = None
        if credentials is not None:
            self._broadcast.publish(credentials)

    def __repr__(self) -> str:
        current = self._broadcast.current
        username = None if current is None else current.username
        return f"<{type(self).__name__} username={username!r} subscribers={self.subscriber_count}>"

    @property
    def current(self) -> Credentials | None:
        """The latest credentials set, or ``None``."""
        return self._broadcast.current

    @property
    def subscriber_count(self) -> int:
        """Subscribers still listening (streams closed or dropped are not counted)."""
        return self._broadcast.subscriber_count

    def set_credentials(self, credentials: Credentials) -> None:
        """Make ``credentials`` current and deliver them to every subscriber now."""
        if not isinstance(credentials, Credentials):
            raise TypeError(f"expected Credentials, got {type(credentials).__name__}")
        self._broadcast.publish(credentials)

    def set_error(self, error: TokenRefreshError) -> None:
        """Deliver ``error`` to every subscriber now (their streams go on)."""
        if not isinstance(error, TokenRefreshError):
            raise TypeError(f"expected TokenRefreshError, got {type(error).__name__}")
        self._broadcast.publish(error)

    def start(self, retry_config: RetryConfig | None = None) -> None:
        """Records ``retry_config``; nothing else to arm."""
        self.retry_config = retry_config

    async def current_credentials(self) -> Credentials:
        """The current credentials, waiting for the first; raises the error set before any."""
        return await self._broadcast.wait_current()

    async def run(
        self, *, task_status: anyio.abc.TaskStatus[None] = anyio.TASK_STATUS_IGNORED
    ) -> None:
        """Counts the call in `runs`, reports itself started and returns."""
        self.runs += 1
        task_status.started()
