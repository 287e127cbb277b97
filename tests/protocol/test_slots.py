"""Reply-slot bookkeeping (`ReplyQueue`, `EventSlot`, `is_pubsub_event`), with no socket."""

from __future__ import annotations

from dataclasses import dataclass, field

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from anyredis_auth import RedisConnectionError
from anyredis_auth.protocol import ProtocolError, Push, ResponseError
from anyredis_auth.protocol._slots import EventSlot, ReplyQueue, is_pubsub_event


@dataclass
class Recorder:
    """A slot that records what it was given."""

    replies: list[object] = field(default_factory=list)
    errors: list[BaseException] = field(default_factory=list)

    def set(self, reply: object) -> None:
        self.replies.append(reply)

    def fail(self, error: BaseException) -> None:
        self.errors.append(error)


def event_slot(remaining: int) -> tuple[EventSlot, list[object]]:
    replies: list[object] = []
    return EventSlot(remaining, replies.append), replies


# -- a shared connection's queue ------------------------------------------------------------------


def test_shared_replies_fill_slots_in_order() -> None:
    queue = ReplyQueue()
    first, second, third = Recorder(), Recorder(), Recorder()
    queue.pending.extend([first, second, third])
    assert len(queue) == 3
    for reply in (b"one", 2, [b"three", None]):
        assert queue.route(reply) is None
    assert (first.replies, second.replies, third.replies) == ([b"one"], [2], [[b"three", None]])
    assert len(queue) == 0
    assert first.errors == second.errors == third.errors == []


def test_shared_error_replies_are_replies() -> None:
    queue = ReplyQueue()
    slot = Recorder()
    queue.pending.append(slot)
    error = ResponseError("WRONGTYPE Operation against a key holding the wrong kind of value")
    queue.route(error)
    assert slot.replies == [error]
    assert slot.errors == []


def test_shared_push_goes_to_on_push_and_fills_no_slot() -> None:
    queue = ReplyQueue()
    pushes: list[Push] = []
    queue.on_push = pushes.append
    slot = Recorder()
    queue.pending.append(slot)
    invalidation = Push([b"invalidate", [b"key"]])
    assert queue.route(invalidation) is None
    assert pushes == [invalidation]
    assert type(pushes[0]) is Push
    assert slot.replies == []
    assert len(queue) == 1
    queue.route(b"reply")
    assert slot.replies == [b"reply"]


def test_shared_push_is_dropped_without_handler() -> None:
    queue = ReplyQueue()
    assert queue.on_push is None
    slot = Recorder()
    queue.pending.append(slot)
    assert queue.route(Push([b"message", b"ch", b"data"])) is None
    assert queue.route(Push([])) is None  # even an empty one
    assert slot.replies == []
    assert len(queue) == 1


def test_shared_push_with_no_slot_is_not_an_error() -> None:
    queue = ReplyQueue()
    assert queue.route(Push([b"invalidate", None])) is None


def test_shared_event_shaped_array_is_an_ordinary_reply() -> None:
    # On a shared connection LRANGE may well return ["message", ...]: it is a reply.
    queue = ReplyQueue()
    slot = Recorder()
    queue.pending.append(slot)
    assert queue.route([b"message", b"ch", b"data"]) is None
    assert slot.replies == [[b"message", b"ch", b"data"]]


@pytest.mark.parametrize("events", [False, True])
def test_reply_without_slot_is_protocol_error(events: bool) -> None:
    queue = ReplyQueue(events=events)
    with pytest.raises(ProtocolError, match="no command asked for"):
        queue.route(b"OK")
    slot = Recorder()
    queue.pending.append(slot)
    queue.route(1)
    with pytest.raises(ProtocolError):
        queue.route(2)
    assert slot.replies == [1]


def test_fail_all_fails_every_slot_and_forgets_them() -> None:
    queue = ReplyQueue()
    batch = Recorder()  # a batch slot is queued once per command
    single = Recorder()
    queue.pending.extend([single, batch, batch])
    error = RedisConnectionError("gone")
    queue.fail_all(error)
    assert single.errors == [error]
    assert batch.errors == [error, error]
    assert single.replies == batch.replies == []
    assert len(queue) == 0
    with pytest.raises(ProtocolError):
        queue.route(b"late")


def test_fail_all_skips_event_slots_quietly() -> None:
    queue = ReplyQueue(events=True)
    slot, replies = event_slot(2)
    ordinary = Recorder()
    queue.pending.extend([slot, ordinary])
    queue.fail_all(RedisConnectionError("gone"))
    assert replies == []  # a reconnect resubscribes: nothing to report
    assert len(ordinary.errors) == 1
    assert len(queue) == 0


def test_fail_all_tolerates_a_slot_that_adds_slots() -> None:
    # A slot's fail() may submit again (a retry): the new slot is not failed with the old error.
    queue = ReplyQueue()
    later = Recorder()

    class Resubmits(Recorder):
        def fail(self, error: BaseException) -> None:
            super().fail(error)
            queue.pending.append(later)

    first = Resubmits()
    queue.pending.append(first)
    queue.fail_all(RedisConnectionError("gone"))
    assert len(first.errors) == 1
    assert later.errors == []
    assert list(queue.pending) == [later]


# -- a pub/sub connection's queue ----------------------------------------------------------------


@pytest.mark.parametrize(
    "event",
    [
        Push([b"message", b"ch", b"data"]),
        Push([b"pmessage", b"c*", b"ch", b"data"]),
        Push([b"smessage", b"ch", b"data"]),
        Push([b"invalidate", [b"k"]]),  # every push is an event on a pub/sub connection
        [b"message", b"ch", b"data"],
        [b"pmessage", b"c*", b"ch", b"data"],
        [b"smessage", b"ch", b"data"],
        ["message", "ch", "data"],
        ["pmessage", "c*", "ch", "data"],
    ],
)
def test_pubsub_events_are_returned_and_fill_no_slot(event: list[object]) -> None:
    queue = ReplyQueue(events=True)
    slot = Recorder()
    queue.pending.append(slot)
    assert queue.route(event) is event
    assert slot.replies == []
    assert len(queue) == 1


def test_pubsub_event_with_no_slot_is_not_an_error() -> None:
    queue = ReplyQueue(events=True)
    assert queue.route([b"message", b"ch", b"data"]) == [b"message", b"ch", b"data"]
    assert queue.route(Push([b"message", b"ch", b"data"])) is not None


@pytest.mark.parametrize("name", [b"subscribe", "subscribe", b"psubscribe", "ssubscribe"])
@pytest.mark.parametrize("push", [True, False])
def test_confirmations_count_down_the_head_event_slot(name: bytes | str, push: bool) -> None:
    queue = ReplyQueue(events=True)
    slot, replies = event_slot(3)
    after = Recorder()
    queue.pending.extend([slot, after])
    for count, channel in enumerate(["a", "b", "c"], 1):
        confirmation: list[object] = [name, channel, count]
        event = Push(confirmation) if push else confirmation
        assert queue.route(event) is event
        if count < 3:
            assert queue.pending[0] is slot
            assert slot.remaining == 3 - count
    assert list(queue.pending) == [after]  # popped at zero
    assert replies == []  # confirmations are events, not replies
    queue.route(b"PONG")
    assert after.replies == [b"PONG"]


def test_unsubscribe_confirmations_count_down_too() -> None:
    queue = ReplyQueue(events=True)
    slot, _ = event_slot(2)
    queue.pending.append(slot)
    queue.route([b"unsubscribe", b"a", 1])
    queue.route(Push([b"punsubscribe", b"p*", 0]))
    assert len(queue) == 0


def test_confirmation_with_an_ordinary_head_leaves_it_alone() -> None:
    # A confirmation nobody asked for (a server-side unsubscribe): an event, no slot moves.
    queue = ReplyQueue(events=True)
    ordinary = Recorder()
    queue.pending.append(ordinary)
    assert queue.route([b"unsubscribe", b"gone", 0]) is not None
    assert list(queue.pending) == [ordinary]
    queue.route(b"PONG")
    assert ordinary.replies == [b"PONG"]


def test_message_does_not_count_down() -> None:
    queue = ReplyQueue(events=True)
    slot, _ = event_slot(1)
    queue.pending.append(slot)
    queue.route([b"message", b"ch", b"subscribe"])
    queue.route(Push([b"message", b"subscribe", b"x"]))
    assert slot.remaining == 1
    assert list(queue.pending) == [slot]


def test_error_in_place_of_confirmations_goes_to_on_reply() -> None:
    queue = ReplyQueue(events=True)
    refused, refused_replies = event_slot(2)
    later, later_replies = event_slot(1)
    ping = Recorder()
    queue.pending.extend([refused, ping, later])
    error = ResponseError("NOPERM User alice has no permissions to access the 'secret' channel")
    assert queue.route(error) is None
    assert refused_replies == [error]
    assert queue.pending[0] is ping
    queue.route([b"pong", b""])  # RESP2 PING on a subscribed connection: not an event
    assert ping.replies == [[b"pong", b""]]
    queue.route([b"subscribe", b"ok", 1])
    assert later_replies == []
    assert len(queue) == 0


def test_pubsub_ordinary_replies_fill_ordinary_slots() -> None:
    queue = ReplyQueue(events=True)
    first, second = Recorder(), Recorder()
    queue.pending.extend([first, second])
    assert queue.route(b"PONG") is None
    assert queue.route([b"not-an-event", 1]) is None
    assert (first.replies, second.replies) == ([b"PONG"], [[b"not-an-event", 1]])


@pytest.mark.parametrize(
    "reply",
    [
        [[b"message"], b"x"],  # a list first element cannot be hashed
        [{b"k": b"v"}, b"x"],  # nor a dict
        [bytearray(b"message"), b"x"],  # a bytearray is not an event name
        [None],
        [1, 2],
        [],
    ],
)
def test_odd_arrays_are_ordinary_replies(reply: list[object]) -> None:
    assert not is_pubsub_event(reply)
    queue = ReplyQueue(events=True)
    slot = Recorder()
    queue.pending.append(slot)
    assert queue.route(reply) is None
    assert slot.replies == [reply]


@pytest.mark.parametrize("first", [[b"subscribe"], {b"k": 1}, None, 7])
def test_push_with_odd_first_element_is_an_event(first: object) -> None:
    queue = ReplyQueue(events=True)
    slot, _ = event_slot(1)
    queue.pending.append(slot)
    push = Push([first, b"x"])
    assert queue.route(push) is push
    assert slot.remaining == 1  # not a confirmation


def test_empty_push_is_dropped_on_both_queues() -> None:
    for events in (True, False):
        queue = ReplyQueue(events=events)
        slot = Recorder()
        queue.pending.append(slot)
        assert queue.route(Push([])) is None
        assert slot.replies == [] and len(queue) == 1  # no slot filled, none lost


def test_is_pubsub_event() -> None:
    assert not is_pubsub_event(Push([]))  # names nothing: malformed
    assert is_pubsub_event([b"subscribe", b"a", 1])
    assert is_pubsub_event(["sunsubscribe", "a", 0])
    assert not is_pubsub_event([b"MESSAGE", b"a", b"b"])  # the server's names are lower case
    assert not is_pubsub_event((b"message", b"a", b"b"))  # a tuple is not a reply shape
    assert not is_pubsub_event(b"message")
    assert not is_pubsub_event({b"message": 1})
    assert not is_pubsub_event(None)


# -- property: slots never shift ------------------------------------------------------------------

# One command: an ordinary one (1 reply) or a subscribe with n channels (n confirmations).
_commands = st.lists(st.one_of(st.just(0), st.integers(1, 3)), max_size=25)


@settings(max_examples=300, deadline=None)
@given(count=st.integers(0, 25), data=st.data())
def test_shared_queue_every_slot_gets_its_own_reply(count: int, data: st.DataObject) -> None:
    queue = ReplyQueue()
    pushes: list[Push] = []
    queue.on_push = pushes.append
    slots = [Recorder() for _ in range(count)]
    queue.pending.extend(slots)
    stream: list[object] = [[b"reply", index] for index in range(count)]
    for number in range(data.draw(st.integers(0, 10), label="pushes")):
        push = Push([b"invalidate", [b"key%d" % number]])
        stream.insert(data.draw(st.integers(0, len(stream)), label="at"), push)
    for reply in stream:
        assert queue.route(reply) is None
    assert [slot.replies for slot in slots] == [[[b"reply", i]] for i in range(count)]
    assert all(not slot.errors for slot in slots)
    assert pushes == [item for item in stream if type(item) is Push]
    assert len(queue) == 0


@settings(max_examples=300, deadline=None)
@given(commands=_commands, data=st.data(), resp3=st.booleans())
def test_pubsub_queue_every_slot_gets_its_own_reply(
    commands: list[int], data: st.DataObject, resp3: bool
) -> None:
    queue = ReplyQueue(events=True)
    slots: list[Recorder | EventSlot] = []
    stream: list[object] = []
    refused: list[object] = []
    for index, channels in enumerate(commands):
        if channels == 0:
            slots.append(Recorder())
            stream.append([b"reply", index])
        elif data.draw(st.booleans(), label="refused"):
            error = ResponseError(f"NOPERM no access to channel {index}")
            slots.append(EventSlot(channels, refused.append))
            stream.append(error)
        else:
            slots.append(EventSlot(channels, refused.append))
            for n in range(channels):
                confirmation: list[object] = [b"subscribe", b"ch%d-%d" % (index, n), n + 1]
                stream.append(Push(confirmation) if resp3 else confirmation)
    queue.pending.extend(slots)
    # Messages may arrive between any two replies; record the order events should come out in.
    for count in range(data.draw(st.integers(0, 10), label="messages")):
        message: list[object] = [b"message", b"ch", b"%d" % count]
        stream.insert(
            data.draw(st.integers(0, len(stream)), label="at"),
            Push(message) if resp3 else message,
        )
    expected_events = [item for item in stream if is_pubsub_event(item)]
    events = [event for item in stream if (event := queue.route(item)) is not None]
    assert events == expected_events
    for index, slot in enumerate(slots):
        if isinstance(slot, Recorder):
            assert slot.replies == [[b"reply", index]]
    assert refused == [item for item in stream if isinstance(item, ResponseError)]
    assert len(queue) == 0
