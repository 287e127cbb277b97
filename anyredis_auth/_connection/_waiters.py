"""Reply slots: what a caller waits on while its command is in flight.

A slot stays in the connection's FIFO whether or not its caller is still waiting: a cancelled or
timed-out caller's reply is read into the abandoned slot and dropped, so replies never shift.

Slots are on the hot path (one per command), so each event loop gets its cheapest primitive: an
asyncio future on asyncio, a parked task rescheduled directly on trio. Each is used only on its
own loop; any other loop gets an anyio event.
"""

from __future__ import annotations

from collections.abc import Callable
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
    """The slot of one command (or of a whole batch queued as one slot per command)."""

    def set(self, reply: object) -> None: ...
    def fail(self, error: BaseException) -> None: ...
    @property
    def done(self) -> bool: ...
    async def wait(self) -> Any: ...


class _Failure:
    __slots__ = ("error",)

    def __init__(self, error: BaseException) -> None:
        self.error = error


class _FutureWaiter:
    """asyncio: the reply is the result of a future; a cancelled wait leaves the slot harmless."""

    __slots__ = ("_future",)

    def __init__(self, future: Any) -> None:
        self._future = future

    def set(self, reply: object) -> None:
        if not self._future.done():  # a cancelled caller cancelled the future: drop the reply
            self._future.set_result(reply)

    def fail(self, error: BaseException) -> None:
        if not self._future.done():
            self._future.set_result(_Failure(error))

    @property
    def done(self) -> bool:
        return bool(self._future.done())

    async def wait(self) -> Any:
        result = await self._future
        if type(result) is _Failure:
            raise fresh_copy(result.error)
        return result


class _FutureBatchWaiter(_FutureWaiter):
    __slots__ = ("remaining", "replies")

    def __init__(self, future: Any, count: int) -> None:
        super().__init__(future)
        self.remaining = count
        self.replies: list[object] = []

    def set(self, reply: object) -> None:
        self.replies.append(reply)
        self.remaining -= 1
        if self.remaining == 0 and not self._future.done():
            self._future.set_result(self.replies)


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

    @property
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

    @property
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

        create_future = asyncio.get_running_loop().create_future
        return WaiterFactory(
            lambda: _FutureWaiter(create_future()),
            lambda count: _FutureBatchWaiter(create_future(), count),
        )
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
