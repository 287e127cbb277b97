"""Reply slots: what a caller waits on while its command is in flight.

A slot stays in the connection's FIFO whether or not its caller is still waiting: a cancelled or
timed-out caller's reply is read into the abandoned slot and dropped, so replies never shift.
"""

from __future__ import annotations

import anyio

__all__ = ["BatchWaiter", "Waiter"]


def fresh_copy(error: BaseException) -> BaseException:
    """A new instance of `error` for one caller: many waiters share one failure, not one traceback."""
    try:
        copy = type(error)(*error.args)
    except Exception:
        return error
    copy.__cause__ = error.__cause__
    return copy


class Waiter:
    """The slot of one command: receives exactly one reply, or the connection's failure."""

    __slots__ = ("_event", "error", "value")

    def __init__(self) -> None:
        self._event = anyio.Event()
        self.value: object = None
        self.error: BaseException | None = None

    def set(self, reply: object) -> None:
        self.value = reply
        self._event.set()

    def fail(self, error: BaseException) -> None:
        if not self._event.is_set():
            self.error = error
            self._event.set()

    @property
    def done(self) -> bool:
        return self._event.is_set()

    async def wait(self) -> object:
        await self._event.wait()
        if self.error is not None:
            raise fresh_copy(self.error)
        return self.value


class BatchWaiter(Waiter):
    """One slot object queued `count` times (a pipeline): done when all its replies arrived."""

    __slots__ = ("remaining", "replies")

    def __init__(self, count: int) -> None:
        super().__init__()
        self.remaining = count
        self.replies: list[object] = []

    def set(self, reply: object) -> None:
        self.replies.append(reply)
        self.remaining -= 1
        if self.remaining == 0:
            self.value = self.replies
            self._event.set()
