"""Reply slots: what a caller waits on while its command is in flight.

A slot stays in the connection's FIFO whether or not its caller is still waiting: a cancelled or
timed-out caller's reply is read into the abandoned slot and dropped, so replies never shift.

Slots are on the hot path (one per command), so each event loop gets its cheapest primitive: an
asyncio future on asyncio, a parked task rescheduled directly on trio. Each is used only on its
own loop; any other loop gets an anyio event.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, Protocol

__all__ = ["Waiter", "WaiterFactory", "fresh_copy", "waiter_factory"]


def fresh_copy(error: BaseException) -> BaseException:
    """A new instance of `error` for one caller: waiters share a failure, not a traceback."""
    try:
        copy = type(error)(*error.args)
    except Exception:
        return error
    copy.__cause__ = error.__cause__
    return copy


class Waiter(Protocol):
    """The slot of one command (or of a whole batch queued as one slot per command).

    ``await waiter.wait()`` gives the reply or raises the failure; `wait` returns an awaitable
    (on asyncio the slot's own future: no coroutine frame per command).
    """

    def set(self, reply: object) -> None: ...
    def fail(self, error: BaseException) -> None: ...
    def done(self) -> bool: ...
    def wait(self) -> Awaitable[Any]: ...


class _EventWaiter:
    """Any other loop (trio): an event plus the value it guards."""

    __slots__ = ("_event", "error", "value")

    def __init__(self, event: Any) -> None:
        self._event = event
        self.value: object = None
        self.error: BaseException | None = None

    def set(self, reply: object) -> None:
        self.value = reply
        self._event.set()

    def fail(self, error: BaseException) -> None:
        if not self._event.is_set():
            self.error = error
            self._event.set()

    def done(self) -> bool:
        return bool(self._event.is_set())

    async def wait(self) -> Any:
        await self._event.wait()
        if self.error is not None:
            raise fresh_copy(self.error)
        return self.value


class _EventBatchWaiter(_EventWaiter):
    __slots__ = ("remaining", "replies")

    def __init__(self, event: Any, count: int) -> None:
        super().__init__(event)
        self.remaining = count
        self.replies: list[object] = []

    def set(self, reply: object) -> None:
        self.replies.append(reply)
        self.remaining -= 1
        if self.remaining == 0:
            self.value = self.replies
            self._event.set()


class _TrioWaiter:
    """trio: the waiting task is parked and rescheduled directly (no event, no parking lot)."""

    __slots__ = ("_done", "_lowlevel", "_task", "error", "value")

    def __init__(self, lowlevel: Any) -> None:
        self._lowlevel = lowlevel
        self._task: Any = None
        self._done = False
        self.value: object = None
        self.error: BaseException | None = None

    def set(self, reply: object) -> None:
        if self._done:
            return
        self.value = reply
        self._wake()

    def fail(self, error: BaseException) -> None:
        if not self._done:
            self.error = error
            self._wake()

    def _wake(self) -> None:
        self._done = True
        task, self._task = self._task, None
        if task is not None:
            self._lowlevel.reschedule(task)

    def _abort(self, _: object) -> Any:
        # Cancelled while parked: forget the task; a later reply lands here and is dropped.
        self._task = None
        return self._lowlevel.Abort.SUCCEEDED

    def done(self) -> bool:
        return self._done

    async def wait(self) -> Any:
        if not self._done:
            self._task = self._lowlevel.current_task()
            await self._lowlevel.wait_task_rescheduled(self._abort)
        else:
            await self._lowlevel.checkpoint()
        if self.error is not None:
            raise fresh_copy(self.error)
        return self.value


class _TrioBatchWaiter(_TrioWaiter):
    __slots__ = ("remaining", "replies")

    def __init__(self, lowlevel: Any, count: int) -> None:
        super().__init__(lowlevel)
        self.remaining = count
        self.replies: list[object] = []

    def set(self, reply: object) -> None:
        self.replies.append(reply)
        self.remaining -= 1
        if self.remaining == 0 and not self._done:
            self.value = self.replies
            self._wake()


class WaiterFactory:
    """Makes slots for the event loop it was created on."""

    __slots__ = ("batch", "single")

    def __init__(self, single: Callable[[], Waiter], batch: Callable[[int], Waiter]) -> None:
        self.single = single
        self.batch = batch


def _current_library() -> str | None:
    try:
        import sniffio
    except ImportError:  # without sniffio there is no trio: asyncio or nothing
        return "asyncio"
    try:
        return sniffio.current_async_library()
    except sniffio.AsyncLibraryNotFoundError:
        return None


def waiter_factory() -> WaiterFactory:
    """Slot makers for the running event loop (call from inside it)."""
    library = _current_library()
    if library == "asyncio":
        import asyncio

        single, batch = _future_slots(asyncio)
        loop = asyncio.get_running_loop()
        return WaiterFactory(lambda: single(loop=loop), lambda count: batch(count, loop))
    if library == "trio":
        import trio.lowlevel

        lowlevel = trio.lowlevel
        return WaiterFactory(
            lambda: _TrioWaiter(lowlevel),
            lambda count: _TrioBatchWaiter(lowlevel, count),
        )
    import anyio

    return WaiterFactory(
        lambda: _EventWaiter(anyio.Event()),
        lambda count: _EventBatchWaiter(anyio.Event(), count),
    )


def _future_slots(asyncio: Any) -> tuple[Any, Any]:
    """asyncio's slots: futures that fill themselves (made once per process, on first use)."""
    global _FUTURE_SLOTS
    if _FUTURE_SLOTS is not None:
        return _FUTURE_SLOTS

    class FutureSlot(asyncio.Future):  # type: ignore[misc]
        """The reply is the future's result: the caller awaits the slot itself. A cancelled
        caller cancelled the future, so a late reply is dropped."""

        __slots__ = ()

        def set(self, reply: object) -> None:
            if not self.done():
                self.set_result(reply)

        def fail(self, error: BaseException) -> None:
            if not self.done():
                self.set_exception(fresh_copy(error))
                self._log_traceback = False  # type: ignore[misc]  # a caller that left: no log

        def wait(self) -> Any:
            return self

    class FutureBatchSlot(FutureSlot):
        """One future for a batch: its result is the list of replies, once all are in."""

        __slots__ = ("remaining", "replies")

        def __init__(self, count: int, loop: Any) -> None:
            super().__init__(loop=loop)
            self.remaining = count
            self.replies: list[object] = []

        def set(self, reply: object) -> None:
            self.replies.append(reply)
            self.remaining -= 1
            if self.remaining == 0 and not self.done():
                self.set_result(self.replies)

    _FUTURE_SLOTS = (FutureSlot, FutureBatchSlot)
    return _FUTURE_SLOTS


_FUTURE_SLOTS: tuple[Any, Any] | None = None
