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
from operator import methodcaller
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
    """trio: the waiting task is parked and rescheduled directly (no event, no parking lot),
    with the reply as the outcome it wakes up with: trio makes an outcome per wake-up anyway.
    """

    __slots__ = ("_outcome", "_task")

    def __init__(self) -> None:
        #: The parked task (None: not parked, or no longer).
        self._task: Any = None
        #: None while pending; then the outcome for a caller yet to wait (or who left), or
        #: `_HANDED` once it went to the parked task.
        self._outcome: Any = None

    def set(self, reply: object) -> None:
        if self._outcome is None:
            task = self._task
            if task is None:
                self._outcome = _trio_value(reply)
            else:
                self._task = None
                self._outcome = _HANDED
                _trio_reschedule(task, _trio_value(reply))

    def fail(self, error: BaseException) -> None:
        if self._outcome is None:
            task = self._task
            if task is None:
                self._outcome = _trio_error(error)  # copied when a caller waits
            else:
                self._task = None
                self._outcome = _HANDED
                _trio_reschedule(task, _trio_error(fresh_copy(error)))

    def _abort(self, _: object) -> Any:
        # Cancelled while parked: forget the task; a later reply lands here and is dropped.
        self._task = None
        return _trio_abort_succeeded

    def done(self) -> bool:
        return self._outcome is not None

    def park(self) -> Awaitable[Any]:
        """`wait` for a slot made just now, whose caller awaits the result at once (the hot
        path of a shared link): the task parks with no coroutine frame of the slot's own."""
        self._task = _trio_current_task()
        return _trio_wait_task_rescheduled(self._abort)  # type: ignore[no-any-return]

    async def wait(self) -> Any:
        outcome = self._outcome
        if outcome is None:
            self._task = _trio_current_task()
            return await _trio_wait_task_rescheduled(self._abort)
        await _trio_checkpoint()
        if type(outcome) is _trio_error:
            raise fresh_copy(outcome.error)
        return outcome.value


class _TrioBatchWaiter(_TrioWaiter):
    __slots__ = ("remaining", "replies")

    def __init__(self, count: int) -> None:
        super().__init__()
        self.remaining = count
        self.replies: list[object] = []

    def set(self, reply: object) -> None:
        self.replies.append(reply)
        self.remaining -= 1
        if self.remaining == 0:
            _TrioWaiter.set(self, self.replies)


#: What `_TrioWaiter._outcome` holds once the outcome went to the parked task.
_HANDED = object()

# trio's parts, set by `waiter_factory` on first use under trio (module globals: the cheapest
# lookups on the hot path, and no import of trio under asyncio).
_trio_value: Any = None
_trio_error: Any = None
_trio_reschedule: Any = None
_trio_current_task: Any = None
_trio_wait_task_rescheduled: Any = None
_trio_checkpoint: Any = None
_trio_abort_succeeded: Any = None


def _load_trio() -> None:
    global _trio_value, _trio_error, _trio_reschedule, _trio_current_task
    global _trio_wait_task_rescheduled, _trio_checkpoint, _trio_abort_succeeded
    import outcome
    import trio.lowlevel

    _trio_value = outcome.Value
    _trio_error = outcome.Error
    _trio_reschedule = trio.lowlevel.reschedule
    _trio_current_task = trio.lowlevel.current_task
    _trio_wait_task_rescheduled = trio.lowlevel.wait_task_rescheduled
    _trio_checkpoint = trio.lowlevel.checkpoint
    _trio_abort_succeeded = trio.lowlevel.Abort.SUCCEEDED


class WaiterFactory:
    """Makes slots for the event loop it was created on.

    On asyncio, `bare` makes a plain ``asyncio.Future`` of the running loop (None on other
    loops): the cheapest slot there is, for the hot path of a shared connection (see
    `anyredis_auth._connection._link.Link.call`). It is no `Waiter`: its holder fills it
    itself, as `fill` and `fail_bare` do. An exact future also keeps asyncio's task on its C
    fast path (a subclass costs a method lookup and a bound method per await).
    """

    __slots__ = ("await_new", "bare", "bare_type", "batch", "single")

    def __init__(
        self,
        single: Callable[[], Waiter],
        batch: Callable[[int], Waiter],
        bare: Callable[[], Any] | None = None,
        bare_type: type | None = None,
        await_new: Callable[[Any], Awaitable[Any]] = methodcaller("wait"),
    ) -> None:
        self.single = single
        #: What to await for a slot of `single` made just now, by a caller that awaits it at
        #: once (`Link.call`): its `wait`, or on trio its `park` (no coroutine of its own).
        self.await_new = await_new
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
        # partial, not a lambda: no Python frame per command. (Futures made without the loop
        # argument cost ~800 instructions less, but measured slower end to end for one task
        # taking turns with the server: left as is.)
        return WaiterFactory(
            partial(single, loop=loop),
            partial(batch, loop=loop),
            partial(asyncio.Future, loop=loop),
            asyncio.Future,
        )
    if library == "trio":
        if _trio_value is None:
            _load_trio()
        return WaiterFactory(_TrioWaiter, _TrioBatchWaiter, await_new=_TrioWaiter.park)
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
