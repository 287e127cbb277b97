"""The subscriber's state, apart from any socket: families of subscriptions, messages, and the
bookkeeping of one subscriber connection (confirmations awaited, delivery phase of a cut-over).
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import anyio

from .._connection._session import ConnectionStats

if TYPE_CHECKING:
    from .._connection._link import Link

__all__ = [
    "AFTER_FENCE",
    "FAMILIES",
    "KIND",
    "LIVE",
    "MESSAGE_KINDS",
    "SUBSCRIBE_EVENTS",
    "UNTIL_FENCE",
    "LinkState",
    "Message",
    "PubSubStats",
]


#: family -> (subscribe command, unsubscribe command, subscribe event, unsubscribe event)
FAMILIES: dict[str, tuple[str, str, str, str]] = {
    "channel": ("SUBSCRIBE", "UNSUBSCRIBE", "subscribe", "unsubscribe"),
    "pattern": ("PSUBSCRIBE", "PUNSUBSCRIBE", "psubscribe", "punsubscribe"),
    "shard": ("SSUBSCRIBE", "SUNSUBSCRIBE", "ssubscribe", "sunsubscribe"),
}
MESSAGE_KINDS = ("message", "pmessage", "smessage")
CONFIRMATIONS = tuple(name for family in FAMILIES.values() for name in family[2:])
#: An event's first element (bytes, or str with decode_responses) -> its kind as text.
KIND: dict[object, str] = {
    form: name for name in MESSAGE_KINDS + CONFIRMATIONS for form in (name, name.encode())
}


@dataclass(frozen=True, slots=True)
class Message:
    """One item of a subscription.

    ``kind`` is ``"message"`` (SUBSCRIBE), ``"pmessage"`` (PSUBSCRIBE: ``pattern`` is the pattern
    that matched), ``"smessage"`` (SSUBSCRIBE), or ``"gap"``: the connection was lost or replaced
    and messages published until the resubscribe are lost; then ``channel`` is None and ``data``
    says why (text). ``channel`` and ``data`` are bytes (str with ``decode_responses``).
    """

    kind: str
    channel: Any
    data: Any
    pattern: Any = None


LIVE, UNTIL_FENCE, AFTER_FENCE = 0, 1, 2


class LinkState:
    """One subscriber connection's bookkeeping: confirmations awaited and delivery phase.

    Phases matter only during a cut-over (see `PubSub._cut_over`): the old connection delivers
    until the fence message and drops what follows, the new one drops until the fence and
    delivers what follows once the old one passed its fence.
    """

    __slots__ = ("expected", "fenced", "link", "nonce", "peer", "phase")

    def __init__(self, link: Link) -> None:
        self.link = link
        #: Confirmations awaited, per (event kind, key), in the order the commands were written.
        self.expected: dict[tuple[str, bytes], deque[list[anyio.Event]]] = {}
        self.phase = LIVE
        self.nonce: object = None
        self.fenced = anyio.Event()
        self.peer: LinkState | None = None

    def expect(self, kind: str, key: bytes, group: list[anyio.Event]) -> None:
        queue = self.expected.get((kind, key))
        if queue is None:
            queue = self.expected[(kind, key)] = deque()
        queue.append(group)

    def confirm(self, kind: str, key: bytes) -> bool:
        """The oldest command awaiting a (kind, key) confirmation got it (or was refused).

        False when no command awaited it: the server sent it by itself (a cluster node drops
        its shard channels when their slot moves away).
        """
        queue = self.expected.get((kind, key))
        if not queue:
            return False
        for waiting in queue.popleft():
            waiting.set()
        if not queue:
            del self.expected[(kind, key)]
        return True

    def release(self) -> None:
        expected, self.expected = self.expected, {}
        for queue in expected.values():
            for group in queue:
                for event in group:
                    event.set()


@dataclass
class PubSubStats(ConnectionStats):
    """`ConnectionStats` plus the subscriber's own counters."""

    #: RESP2 switch-overs (unsubscribe + AUTH + resubscribe in one write) that succeeded.
    switchovers: int = 0
    #: Replacements after a refused re-authentication done without loss or duplicate (fenced).
    cutovers: int = 0
    #: Gap messages yielded (drops and replacements).
    gaps: int = 0


SUBSCRIBE_EVENTS = frozenset(family[2] for family in FAMILIES.values())
