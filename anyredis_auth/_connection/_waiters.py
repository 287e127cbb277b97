"""Reply slots: what a caller waits on while its command is in flight.

A slot stays in the connection's FIFO whether or not its caller is still waiting: a cancelled or
timed-out caller's reply is read into the abandoned slot and dropped, so replies never shift.

Slots are on the hot path (one per command), so each event loop gets its cheapest primitive: an
asyncio future on asyncio, a parked task rescheduled directly on trio. Each is used only on its
own loop; any other loop gets an anyio event.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from functools import partial
from typing import Any, ClassVar, Protocol

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

    __slots__ = ("_done", "_task", "error", "value")

    #: ``trio.lowlevel``, set by `waiter_factory` (a class attribute: the class itself is the
    #: slot maker, with no Python call around it).
    _lowlevel: ClassVar[Any] = None

    def __init__(self) -> None:
        self._task: Any = None
        self._done = False
        self.value: object = None
        self.error: BaseException | None = None

    def set(self, reply: object) -> None:
        # `_wake` inlined: this runs once per reply.
        if self._done:
            return
        self.value = reply
        self._done = True
        task = self._task
        if task is not None:
            self._task = None
            self._lowlevel.reschedule(task)

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

    def __init__(self, count: int) -> None:
        super().__init__()
        self.remaining = count
        self.replies: list[object] = []

    def set(self, reply: object) -> None:
        self.replies.append(reply)
        self.remaining -= 1
        if self.remaining == 0 and not self._done:
            self.value = self.replies
            self._wake()


class WaiterFactory:
    """Makes slots for the event loop it was created on.

    On asyncio, `bare` makes a plain ``asyncio.Future`` of the running loop (None on other
    loops): the cheapest slot there is, for the hot path of a shared connection (see
    `anyredis_auth._connection._link.Link.call`). It is no `Waiter`: its holder fills it
    itself, as `fill` and `fail_bare` do. An exact future also keeps asyncio's task on its C
    fast path (a subclass costs a method lookup and a bound method per await).
    """

    __slots__ = ("bare", "bare_type", "batch", "single")

    def __init__(
        self,
        single: Callable[[], Waiter],
        batch: Callable[[int], Waiter],
        bare: Callable[[], Any] | None = None,
        bare_type: type | None = None,
    ) -> None:
        self.single = single
        self.batch = batch
        self.bare = bare
        #: The exact type of what `bare` makes (``asyncio.Future``), or None.
        self.bare_type = bare_type


def fail_bare(future: Any, error: BaseException) -> None:
    """Fail a bare asyncio future as `FutureSlot.fail` does."""
    if not future.done():
        future.set_exception(fresh_copy(error))
        future._log_traceback = False  # a caller that left: no log


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
        # partial, not a lambda: no Python frame per command.
        return WaiterFactory(
            partial(single, loop=loop),
            partial(batch, loop=loop),
            partial(asyncio.Future, loop=loop),
            asyncio.Future,
        )
    if library == "trio":
        import trio.lowlevel

        _TrioWaiter._lowlevel = trio.lowlevel
        return WaiterFactory(_TrioWaiter, _TrioBatchWaiter)
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
