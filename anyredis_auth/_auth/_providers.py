"""The provider protocol every credentials source implements, and the static provider."""

from __future__ import annotations

from types import TracebackType
from typing import Protocol, TypeVar, runtime_checkable

import anyio
import anyio.abc
from anyio.streams.memory import MemoryObjectReceiveStream

from .._credentials import Credentials
from .._errors import TokenRefreshError
from ._broadcast import CredentialsBroadcast
from ._config import RetryConfig

__all__ = ["StaticCredentialsProvider", "StreamingCredentialsProvider"]


@runtime_checkable
class StreamingCredentialsProvider(Protocol):
    """A source of credentials that may change over time (the seed's trait of the same name).

    - `subscribe` gives each caller its own stream: the current credentials first (once there
      are any), then every new one; a refresh that failed for good arrives as a
      `TokenRefreshError` item and the stream goes on. Close the stream to unsubscribe.
    - `current_credentials` returns valid credentials, waiting for the first ones; it raises
      `TokenRefreshError` when there are none and the latest attempt(s) failed.
    - `run` is the provider's background work (the token refresher). It runs in the task group
      of whoever enters it: ``await group.start(provider.run)``. It calls
      ``task_status.started()`` at once. Any number of task groups may run it at the same time:
      one refreshes, the others stand by and take over when it stops.
    """

    def subscribe(self) -> MemoryObjectReceiveStream[Credentials | TokenRefreshError]:
        """A new stream of this caller's own: the current credentials, then every new item."""
        ...

    async def current_credentials(self) -> Credentials:
        """Valid credentials, waiting for the first ones.

        Raises `TokenRefreshError` when there are none and the latest attempt(s) failed.
        """
        ...

    async def run(
        self, *, task_status: anyio.abc.TaskStatus[None] = anyio.TASK_STATUS_IGNORED
    ) -> None:
        """The provider's background work; reports itself started at once."""
        ...


_Provider = TypeVar("_Provider", bound="BroadcastProvider")


class BroadcastProvider:
    """A provider without a refresher: credentials published by hand to a `CredentialsBroadcast`.

    The base of the static and the manual (test) providers: `subscribe` hands out the
    broadcast's streams, ``async with`` has nothing to start or stop.
    """

    def __init__(self) -> None:
        self._broadcast = CredentialsBroadcast()

    def subscribe(self) -> MemoryObjectReceiveStream[Credentials | TokenRefreshError]:
        """A new stream: the current credentials (if any), then every item published later."""
        return self._broadcast.subscribe()

    async def __aenter__(self: _Provider) -> _Provider:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        return None


class StaticCredentialsProvider(BroadcastProvider):
    """Fixed credentials behind the provider protocol (``username`` may be ``None``).

    `run` has nothing to do: it reports itself started and returns at once. `start` exists so
    code written for token providers works unchanged; it does nothing.
    """

    def __init__(self, username: str | None, password: str) -> None:
        super().__init__()
        self._credentials = Credentials(username, password)
        self._broadcast.publish(self._credentials)

    def __repr__(self) -> str:
        return f"{type(self).__name__}(username={self._credentials.username!r})"

    @property
    def credentials(self) -> Credentials:
        """The fixed credentials."""
        return self._credentials

    def start(self, retry_config: RetryConfig | None = None) -> None:
        """Nothing to arm: static credentials never fail."""

    async def current_credentials(self) -> Credentials:
        """The fixed credentials, at once (a subscription yields them and nothing after)."""
        return self._credentials

    async def run(
        self, *, task_status: anyio.abc.TaskStatus[None] = anyio.TASK_STATUS_IGNORED
    ) -> None:
        """Nothing to run: reports itself started and returns."""
        task_status.started()
