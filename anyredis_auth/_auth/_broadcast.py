"""`CredentialsBroadcast`: fan-out of credentials (and refresh errors) to every subscriber.

Each subscriber gets its own anyio memory object stream. Publishing is synchronous and never
waits: a subscriber that does not read cannot hold up the publisher or the other subscribers.
Its buffer keeps only what still matters: the newest credentials and, if one came after them,
the newest error (see `CredentialsBroadcast.publish`). So the newest credentials always reach it
when it reads again, and nothing superseded does.

Not thread-safe: publish, subscribe and wait from the event loop's thread.
"""

from __future__ import annotations

import weakref
from dataclasses import dataclass

import anyio
from anyio.streams.memory import MemoryObjectReceiveStream, MemoryObjectSendStream

from .._credentials import Credentials
from .._errors import TokenRefreshError

__all__ = ["CredentialsBroadcast", "Item"]

Item = Credentials | TokenRefreshError
"""What a subscriber receives: new credentials, or an error that did not end the stream."""

# Two slots are enough for "the newest credentials, then an error that came after them".
_BUFFER = 2


def _compact(items: list[Item]) -> list[Item]:
    """Keep the newest credentials and the newest error published after them, in order."""
    start = 0
    kept: list[Item] = []
    for index in range(len(items) - 1, -1, -1):
        if isinstance(items[index], Credentials):
            kept.append(items[index])
            start = index + 1
            break
    later_errors = [item for item in items[start:] if isinstance(item, TokenRefreshError)]
    if later_errors:
        kept.append(later_errors[-1])
    return kept


@dataclass(eq=False)
class _Subscriber:
    send: MemoryObjectSendStream[Item]
    # Our own clone of the receiving end: it lets `publish` drop superseded unread items,
    # and `open_receive_streams == 1` then means the subscriber closed its end.
    drain: MemoryObjectReceiveStream[Item]
    # The stream handed out: if it is garbage collected unclosed, the subscriber is gone too.
    handed_out: weakref.ref[MemoryObjectReceiveStream[Item]]

    def gone(self) -> bool:
        return self.drain.statistics().open_receive_streams <= 1 or self.handed_out() is None

    def close(self) -> None:
        self.send.close()
        self.drain.close()

    def deliver(self, item: Item) -> bool:
        """Queue `item` without waiting; False when the subscriber has gone away.

        Whatever is still unread is compacted with the new item (`_compact`), so the buffer never
        holds a superseded item and never overflows.
        """
        if self.gone():
            return False
        try:
            pending: list[Item] = []
            while True:
                try:
                    pending.append(self.drain.receive_nowait())
                except anyio.WouldBlock:
                    break
            if not pending:
                self.send.send_nowait(item)  # may hand it straight to a waiting reader
                return True
            pending.append(item)
            for kept in _compact(pending):
                self.send.send_nowait(kept)
        except (anyio.BrokenResourceError, anyio.ClosedResourceError, anyio.EndOfStream):
            return False
        return True


class CredentialsBroadcast:
    """The latest credentials, and a stream of every new one for each subscriber.

    - `subscribe` returns a new receive stream that first holds the current credentials (when
      there are any) and then every item published afterwards. Close it to unsubscribe.
    - `publish` delivers credentials or a `TokenRefreshError` to every subscriber at once,
      without awaiting; an error item does not end any stream.
    - `current` is the latest credentials (or ``None``); `wait_current` waits for the first
      outcome: credentials, or the error that came instead of them.
    - `close` ends every subscriber's stream (they see ``EndOfStream`` after their buffer).
    """

    def __init__(self) -> None:
        self._subscribers: list[_Subscriber] = []
        self._current: Credentials | None = None
        self._error: TokenRefreshError | None = None  # latest error, if newer than _current
        self._version = 0
        self._waiters: set[anyio.Event] = set()
        self._closed = False

    def __repr__(self) -> str:
        return (
            f"<{type(self).__name__} subscribers={len(self._subscribers)} "
            f"current={self._current!r} error={self._error is not None}>"
        )

    @property
    def current(self) -> Credentials | None:
        """The latest published credentials, or ``None`` before the first."""
        return self._current

    @property
    def error(self) -> TokenRefreshError | None:
        """The latest published error when it is newer than the latest credentials, else None."""
        return self._error

    @property
    def version(self) -> int:
        """How many items were published so far (to wait for the next with `wait_published`)."""
        return self._version

    @property
    def subscriber_count(self) -> int:
        """Subscribers still listening (those that went away are pruned first)."""
        self._prune()
        return len(self._subscribers)

    def subscribe(self, *, replay_current: bool = True) -> MemoryObjectReceiveStream[Item]:
        """A new stream: the current credentials first (if any and ``replay_current``), then
        every item published from now on. Close it (or leave ``with stream:``) to unsubscribe.

        Clones of the stream share the subscription while the stream itself is open or still
        referenced. A stream dropped without being closed (anyio warns about it) is unsubscribed
        at the next publish.
        """
        if self._closed:
            raise anyio.ClosedResourceError("the credentials broadcast is closed")
        self._prune()
        send, receive = anyio.create_memory_object_stream[Item](_BUFFER)
        if replay_current and self._current is not None:
            send.send_nowait(self._current)
        subscriber = _Subscriber(send, receive.clone(), weakref.ref(receive))
        self._subscribers.append(subscriber)
        return receive

    def publish(self, item: Item) -> None:
        """Deliver `item` to every subscriber now, without waiting.

        A subscriber that has not read everything yet keeps only the newest credentials and the
        newest error published after them: superseded items are dropped, the newest credentials
        never are.
        Subscribers that closed their stream (or dropped it) are removed here.
        """
        if self._closed:
            raise anyio.ClosedResourceError("the credentials broadcast is closed")
        if isinstance(item, Credentials):
            self._current = item
            self._error = None
        elif isinstance(item, TokenRefreshError):
            self._error = item
        else:
            raise TypeError(f"can only publish Credentials or TokenRefreshError, got {item!r}")
        self._version += 1
        alive: list[_Subscriber] = []
        for subscriber in self._subscribers:
            if subscriber.deliver(item):
                alive.append(subscriber)
            else:
                subscriber.close()
        self._subscribers = alive
        waiters, self._waiters = self._waiters, set()
        for event in waiters:
            event.set()

    async def wait_published(self, version: int) -> None:
        """Return once `version` has moved past the given value (returns at once if it has)."""
        while self._version <= version and not self._closed:
            event = anyio.Event()
            self._waiters.add(event)
            try:
                await event.wait()
            finally:
                self._waiters.discard(event)
        if self._closed and self._version <= version:
            raise anyio.ClosedResourceError("the credentials broadcast is closed")

    async def wait_current(self) -> Credentials:
        """The current credentials, waiting for the first outcome if there is none yet.

        Raises the `TokenRefreshError` published instead of the first credentials, rather than
        waiting for ever.
        """
        while True:
            if self._current is not None:
                return self._current
            if self._error is not None:
                raise self._error.with_traceback(None)
            await self.wait_published(self._version)

    def _prune(self) -> None:
        alive = []
        for subscriber in self._subscribers:
            if subscriber.gone():
                subscriber.close()
            else:
                alive.append(subscriber)
        self._subscribers = alive

    def close(self) -> None:
        """End every subscriber's stream and refuse new subscribers and items."""
        self._closed = True
        subscribers, self._subscribers = self._subscribers, []
        for subscriber in subscribers:
            subscriber.close()
        waiters, self._waiters = self._waiters, set()
        for event in waiters:
            event.set()

    def __del__(self) -> None:
        # Close our stream ends so anyio does not warn about them; the subscribers' ends are
        # theirs to close.
        for subscriber in getattr(self, "_subscribers", ()):
            subscriber.close()
