"""Reply-slot bookkeeping (sans-IO): which slot each parsed reply fills, and what is an event.

A connection writes commands in order and the server answers in order, so the replies fill a
FIFO of slots. A slot is anything with ``set(reply)`` and ``fail(error)``:

- a single slot: one command, one reply;
- a batch slot: one object queued once per command of a pipeline, filled reply by reply;
- an `EventSlot`: a subscribe-family command on a pub/sub connection, answered by one
  confirmation event per argument, or by one ordinary error reply in its place (``NOPERM``...).

Not every reply fills a slot. RESP3 push messages never do. On a pub/sub connection the pushes,
and on RESP2 the arrays whose first element names a pub/sub event (``message``, ``subscribe``...),
are events for the subscriber; each confirmation also counts down the `EventSlot` at the head of
the FIFO. Everything here is synchronous and pure: the connection's reader calls `route` for each
reply and awaits the subscriber only for what `route` returns.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from typing import Protocol

from .._errors import ProtocolError
from ._values import Push

__all__ = [
    "CONFIRMATION_NAMES",
    "PUBSUB_EVENT_NAMES",
    "EventSlot",
    "ReplyQueue",
    "Slot",
    "is_pubsub_event",
]

_CONFIRMATIONS = ("subscribe", "unsubscribe", "psubscribe", "punsubscribe", "ssubscribe",
                  "sunsubscribe")  # fmt: skip
#: First elements of the events that confirm a subscribe-family command, one per argument.
CONFIRMATION_NAMES = frozenset(name for text in _CONFIRMATIONS for name in (text, text.encode()))
#: First elements of RESP2 arrays that are pub/sub events on a pub/sub connection (not replies).
PUBSUB_EVENT_NAMES = CONFIRMATION_NAMES | frozenset(
    name for text in ("message", "pmessage", "smessage") for name in (text, text.encode())
)


class Slot(Protocol):
    """Where one reply lands (see the module documentation)."""

    def set(self, reply: object) -> None: ...
    def fail(self, error: BaseException) -> None: ...


class EventSlot:
    """A pub/sub connection's FIFO entry for one subscribe-family command.

    The server answers such a command with one confirmation event per argument, or, when it
    refuses the command (NOPERM, wrong arguments...), with one ordinary error reply in its place:
    that reply goes to `on_reply` instead of shifting every later reply by one.
    """

    __slots__ = ("on_reply", "remaining")

    def __init__(self, remaining: int, on_reply: Callable[[object], None]) -> None:
        self.remaining = remaining
        self.on_reply = on_reply

    def set(self, reply: object) -> None:
        self.on_reply(reply)

    def fail(self, error: BaseException) -> None:
        """The connection closed first: a reconnect resubscribes, nothing to report here."""


def is_pubsub_event(reply: object) -> bool:
    """A push, or a RESP2 array whose first element names a pub/sub event."""
    if type(reply) is Push:
        return bool(reply)  # an empty push names nothing: a malformed reply, not an event
    if type(reply) is not list or not reply:
        return False
    first = reply[0]
    return isinstance(first, (bytes, str)) and first in PUBSUB_EVENT_NAMES


class ReplyQueue:
    """The FIFO of slots of one connection and the routing of every reply it receives.

    ``events=False`` (a shared connection): pushes go to `on_push` (dropped when None), every
    other reply fills the oldest slot. ``events=True`` (a pub/sub connection): pushes and RESP2
    event arrays are returned by `route` for the subscriber, confirmations count down the head
    `EventSlot`; every other reply fills the oldest slot.
    """

    __slots__ = ("events", "on_push", "pending")

    def __init__(self, *, events: bool = False) -> None:
        self.pending: deque[Slot] = deque()
        self.events = events
        #: Receives RESP3 push messages of a shared connection (client tracking...).
        self.on_push: Callable[[Push], None] | None = None

    def __len__(self) -> int:
        return len(self.pending)

    def route(self, reply: object) -> list[object] | None:
        """Deliver `reply`; return it when it is an event for the subscriber, else None.

        Raises `ProtocolError` for a reply that no command asked for.
        """
        if self.events:
            if is_pubsub_event(reply):
                assert isinstance(reply, list)
                pending = self.pending
                first = reply[0]
                if (
                    isinstance(first, (bytes, str))
                    and first in CONFIRMATION_NAMES
                    and pending
                    and type(head := pending[0]) is EventSlot
                ):
                    head.remaining -= 1
                    if head.remaining <= 0:
                        pending.popleft()
                return reply
        elif type(reply) is Push:
            handler = self.on_push
            if handler is not None and reply:
                handler(reply)
            return None
        if type(reply) is Push:
            return None  # an empty push names nothing: dropped, like any push nobody wants
        if not self.pending:
            raise ProtocolError("the server sent a reply that no command asked for")
        self.pending.popleft().set(reply)
        return None

    def fail_all(self, error: BaseException) -> None:
        """Fail every slot still waiting (the connection is gone) and forget them."""
        pending = list(self.pending)
        self.pending.clear()
        for slot in pending:
            slot.fail(error)
