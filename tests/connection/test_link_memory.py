"""`Link` over an in-memory stream pair: order, cancellation, failures, retirement, pub/sub."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import anyio
import anyio.lowlevel
import pytest

from anyredis_auth import ConnectionClosedError, ProtocolError, RedisConnectionError
from anyredis_auth._connection._link import Link
from anyredis_auth.protocol import Parser, Push, ResponseError, encode_command
from anyredis_auth.protocol._slots import EventSlot
from tests._memory import (
    OK,
    FakeServer,
    array,
    bulk,
    error,
    integer,
    memory_stream_pair,
    push,
)
from tests._waiting import wait_until

pytestmark = pytest.mark.anyio

ADDRESS = "memory://link"
LIMIT = 10


@asynccontextmanager
async def running_link(*, pubsub: bool = False) -> AsyncIterator[tuple[Link, FakeServer]]:
    """A link running in a task group of the test's, and the server end of its stream."""
    client, server_end = memory_stream_pair()
    link = Link(client, Parser(3), ADDRESS, pubsub=pubsub)
    server = FakeServer(server_end)
    try:
        with anyio.fail_after(LIMIT):
            async with anyio.create_task_group() as group:
                await group.start(link.run)
                yield link, server
                link.close()
    finally:
        await server.aclose()
        await client.aclose()


# -- the in-memory stream pair itself -----------------------------------------------------------


async def test_memory_pair_honours_max_bytes() -> None:
    client, server = memory_stream_pair()
    with anyio.fail_after(LIMIT):
        await client.send(b"abcdefgh")
        await client.send(b"ij")
        assert await server.receive(3) == b"abc"
        assert await server.receive(3) == b"def"
        assert await server.receive(3) == b"gh"  # the rest of one write, never more
        assert await server.receive() == b"ij"
        assert client.writes == 2
    await client.aclose()
    await server.aclose()


async def test_memory_pair_close_semantics() -> None:
    client, server = memory_stream_pair()
    with anyio.fail_after(LIMIT):
        await client.send(b"last words")
        await client.aclose()
        assert await server.receive(4) == b"last"  # what was sent is still read
        assert await server.receive() == b" words"
        with pytest.raises(anyio.EndOfStream):
            await server.receive()
        with pytest.raises(anyio.BrokenResourceError):
            await server.send(b"anyone there?")
        with pytest.raises(anyio.ClosedResourceError):
            await client.receive()
        with pytest.raises(anyio.ClosedResourceError):
            await client.send(b"x")
    await server.aclose()


async def test_memory_pair_send_eof_keeps_the_other_direction() -> None:
    client, server = memory_stream_pair()
    with anyio.fail_after(LIMIT):
        await client.send_eof()
        with pytest.raises(anyio.EndOfStream):
            await server.receive()
        await server.send(b"reply")
        assert await client.receive() == b"reply"
    await client.aclose()
    await server.aclose()


async def test_memory_pair_close_wakes_a_blocked_receive() -> None:
    client, server = memory_stream_pair()
    failures: list[BaseException] = []

    async def reader() -> None:
        try:
            await server.receive()
        except (anyio.EndOfStream, anyio.ClosedResourceError) as exc:
            failures.append(exc)

    with anyio.fail_after(LIMIT):
        async with anyio.create_task_group() as group:
            group.start_soon(reader)
            await anyio.wait_all_tasks_blocked()
            await client.aclose()
    assert [type(exc) for exc in failures] == [anyio.EndOfStream]
    await server.aclose()


# -- the link ------------------------------------------------------------------------------------


class Outcomes:
    """What each caller got: a reply or an exception."""

    def __init__(self) -> None:
        self.got: dict[object, object] = {}
        self.changed = anyio.Event()

    async def call(self, link: Link, key: object, *args: str | bytes | int) -> None:
        try:
            self.got[key] = await link.submit(encode_command(*args)).wait()
        except Exception as exc:
            self.got[key] = exc
        self.changed.set()

    async def wait_for(self, count: int) -> None:
        while len(self.got) < count:
            await self.changed.wait()
            self.changed = anyio.Event()


async def test_replies_reach_concurrent_submitters_in_order() -> None:
    async with running_link() as (link, server):
        outcomes = Outcomes()
        async with anyio.create_task_group() as callers:
            for n in range(20):
                callers.start_soon(outcomes.call, link, n, "ECHO", f"value-{n}")
            commands = await server.read_commands(20)
            assert sorted(command[1] for command in commands) == sorted(
                f"value-{n}".encode() for n in range(20)
            )
            # Each reply echoes its own command; 7-byte pieces split headers and payloads.
            await server.send_in_pieces(b"".join(bulk(command[1]) for command in commands), 7)
        assert outcomes.got == {n: f"value-{n}".encode() for n in range(20)}
        assert link.pending_count == 0


async def test_batch_and_single_slots_interleave() -> None:
    async with running_link() as (link, server):
        outcomes = Outcomes()
        batch: list[object] = []

        async def many() -> None:
            batch.extend(await link.request_many([["GET", "a"], ["GET", "b"], ["GET", "c"]]))

        async with anyio.create_task_group() as callers:
            callers.start_soon(outcomes.call, link, "before", "GET", "x")
            await server.read_command()
            callers.start_soon(many)
            # The batch goes out in one write.
            assert await server.read_write() == [[b"GET", k] for k in (b"a", b"b", b"c")]
            callers.start_soon(outcomes.call, link, "after", "GET", "y")
            await server.read_command()
            await server.send(bulk("X"), bulk("A"), error("ERR b is odd"), bulk("C"), bulk("Y"))
        assert outcomes.got == {"before": b"X", "after": b"Y"}
        assert batch == [b"A", ResponseError("ERR b is odd"), b"C"]


async def test_commands_queued_together_go_in_one_write() -> None:
    async with running_link() as (link, server):
        waiters = [link.submit(encode_command("INCR", "n")) for _ in range(5)]
        assert len(await server.read_write()) == 5
        await server.send(*(integer(n) for n in range(1, 6)))
        assert [await waiter.wait() for waiter in waiters] == [1, 2, 3, 4, 5]


async def test_cancelled_waiter_reply_is_dropped() -> None:
    async with running_link() as (link, server):
        outcomes = Outcomes()
        abandoned_done = anyio.Event()
        scope = anyio.CancelScope()

        async def abandoned() -> None:
            with scope:
                outcomes.got["a"] = await link.submit(encode_command("GET", "a")).wait()
            abandoned_done.set()

        async with anyio.create_task_group() as callers:
            callers.start_soon(abandoned)
            assert await server.read_command() == [b"GET", b"a"]
            scope.cancel()
            await abandoned_done.wait()
            assert scope.cancelled_caught
            callers.start_soon(outcomes.call, link, "b", "GET", "b")
            assert await server.read_command() == [b"GET", b"b"]
            assert link.pending_count == 2  # the abandoned slot keeps its place
            await server.send(bulk("A"), bulk("B"))
        assert outcomes.got == {"b": b"B"}
        assert link.pending_count == 0
        # Nothing shifted for the callers after that either.
        async with anyio.create_task_group() as callers:
            callers.start_soon(outcomes.call, link, "c", "GET", "c")
            assert await server.read_command() == [b"GET", b"c"]
            await server.send(bulk("C"))
        assert outcomes.got == {"b": b"B", "c": b"C"}


async def test_cancelled_batch_replies_are_dropped() -> None:
    async with running_link() as (link, server):
        outcomes = Outcomes()
        with anyio.CancelScope() as scope:
            waiter = link.submit_batch(encode_command("GET", "a") + encode_command("GET", "b"), 2)
            scope.cancel()
            await waiter.wait()
        assert scope.cancelled_caught
        async with anyio.create_task_group() as callers:
            callers.start_soon(outcomes.call, link, "c", "GET", "c")
            assert len(await server.read_commands(3)) == 3
            await server.send(bulk("A"), bulk("B"), bulk("C"))
        assert outcomes.got == {"c": b"C"}


async def test_peer_closing_mid_reply_fails_every_pending_slot() -> None:
    async with running_link() as (link, server):
        outcomes = Outcomes()
        batch_error: list[BaseException] = []

        async def many() -> None:
            try:
                await link.request_many([["GET", "b1"], ["GET", "b2"]])
            except RedisConnectionError as exc:
                batch_error.append(exc)

        async with anyio.create_task_group() as callers:
            for n in range(3):
                callers.start_soon(outcomes.call, link, n, "GET", str(n))
                await server.read_command()
            callers.start_soon(many)
            await server.read_commands(2)
            await server.send(bulk("zero") + b"$3\r\non")  # the second reply is cut short
            await outcomes.wait_for(1)
            await server.aclose()
        assert outcomes.got[0] == b"zero"
        for n in (1, 2):
            failure = outcomes.got[n]
            assert isinstance(failure, RedisConnectionError)
            assert "closed the connection" in str(failure)
        assert len(batch_error) == 1
        # The link's task ended by itself (and raised nothing into the group).
        await link.wait_finished()
        assert link.closed
        assert isinstance(link.closed_error(), RedisConnectionError)
        with pytest.raises(RedisConnectionError):
            link.submit(encode_command("PING"))


async def test_peer_closing_an_idle_link_closes_it() -> None:
    async with running_link() as (link, server):
        await server.aclose()
        await link.wait_finished()
        with pytest.raises(RedisConnectionError):
            link.submit(encode_command("PING"))
        with pytest.raises(RedisConnectionError):
            await link.request_many([["PING"]])


async def test_malformed_reply_closes_the_link_with_protocol_error() -> None:
    async with running_link() as (link, server):
        outcomes = Outcomes()
        async with anyio.create_task_group() as callers:
            for n in range(3):
                callers.start_soon(outcomes.call, link, n, "PING")
                await server.read_command()
            await server.send(OK + b"?what\r\n" + OK)
        assert outcomes.got[0] == b"OK"
        for n in (1, 2):
            assert isinstance(outcomes.got[n], ProtocolError)
            assert ADDRESS in str(outcomes.got[n])
        await link.wait_finished()
        assert isinstance(link.closed_error(), ProtocolError)
        await server.wait_closed()  # the link dropped the socket


async def test_reply_nobody_asked_for_closes_the_link() -> None:
    async with running_link() as (link, server):
        await server.send(OK)
        await link.wait_finished()
        assert isinstance(link.closed_error(), ProtocolError)
        await server.wait_closed()


async def test_retire_closes_after_the_replies_in_flight() -> None:
    async with running_link() as (link, server):
        outcomes = Outcomes()
        async with anyio.create_task_group() as callers:
            for n in range(2):
                callers.start_soon(outcomes.call, link, n, "GET", str(n))
                await server.read_command()
            link.retire()
            assert not link.closed
            await server.send(bulk("one"))
            await outcomes.wait_for(1)
            assert not link.closed
            await server.send(bulk("two"))
        assert outcomes.got == {0: b"one", 1: b"two"}
        await link.wait_finished()
        error_ = link.closed_error()
        assert isinstance(error_, ConnectionClosedError)
        assert "replaced" in str(error_)
        await server.wait_closed()


async def test_retire_with_nothing_pending_closes_at_once() -> None:
    async with running_link() as (link, server):
        link.retire()
        assert link.closed
        with pytest.raises(ConnectionClosedError):
            link.submit(encode_command("PING"))
        await link.wait_finished()
        await server.wait_closed()


async def test_close_fails_pending_with_the_given_error() -> None:
    async with running_link() as (link, server):
        outcomes = Outcomes()
        async with anyio.create_task_group() as callers:
            callers.start_soon(outcomes.call, link, "x", "GET", "x")
            await server.read_command()
            link.close(RedisConnectionError("dropped on purpose"))
        assert isinstance(outcomes.got["x"], RedisConnectionError)
        assert str(outcomes.got["x"]) == "dropped on purpose"
        await link.wait_finished()
        assert (await server.wait_closed()) == []


async def test_shared_link_pushes_go_to_the_push_handler() -> None:
    async with running_link() as (link, server):
        pushes: list[Push] = []
        link.push_handler = pushes.append
        waiter = link.submit(encode_command("GET", "k"))
        await server.read_command()
        invalidate = push(bulk("invalidate"), array(bulk("k")))
        await server.send(invalidate, bulk("v"), invalidate)
        assert await waiter.wait() == b"v"
        await wait_until(lambda: len(pushes) == 2)
        assert pushes == [[b"invalidate", [b"k"]]] * 2
        assert all(type(item) is Push for item in pushes)


@pytest.mark.parametrize("resp3", [True, False])
async def test_pubsub_events_await_the_handler_and_replies_stay_in_order(resp3: bool) -> None:
    event = push if resp3 else array
    async with running_link(pubsub=True) as (link, server):
        events: list[list[object]] = []
        entered = anyio.Event()
        gate = anyio.Event()

        async def handler(item: list[object]) -> None:
            events.append(item)
            if len(events) == 3:  # the first message: hold the reader
                entered.set()
                await gate.wait()

        link.event_handler = handler
        refused: list[object] = []
        subscribe = EventSlot(2, refused.append)
        link.send_only(encode_command("SUBSCRIBE", "a", "b"), [subscribe])
        first = link.submit(encode_command("PING"))
        second = link.submit(encode_command("PING", "again"))
        assert len(await server.read_commands(3)) == 3
        await server.send(
            event(bulk("subscribe"), bulk("a"), integer(1)),
            event(bulk("subscribe"), bulk("b"), integer(2)),
            event(bulk("message"), bulk("a"), bulk("m1")),
            b"+PONG\r\n",
            event(bulk("message"), bulk("b"), bulk("m2")),
            bulk("again"),
        )
        await entered.wait()
        for _ in range(10):  # give a wrong reader every chance to run ahead
            await anyio.lowlevel.checkpoint()
        # Backpressure: while the subscriber is busy, nothing after its event is read.
        assert not first.done()
        assert len(events) == 3
        assert link.pending_count == 2  # the confirmations popped the event slot
        gate.set()
        assert await first.wait() == b"PONG"
        assert await second.wait() == b"again"
        await wait_until(lambda: len(events) == 4)
        assert events == [
            [b"subscribe", b"a", 1],
            [b"subscribe", b"b", 2],
            [b"message", b"a", b"m1"],
            [b"message", b"b", b"m2"],
        ]
        assert all((type(item) is Push) is resp3 for item in events)
        assert refused == []
        assert link.pending_count == 0


async def test_pubsub_refused_subscribe_goes_to_its_slot() -> None:
    async with running_link(pubsub=True) as (link, server):
        events: list[list[object]] = []

        async def handler(item: list[object]) -> None:
            events.append(item)

        link.event_handler = handler
        refused: list[object] = []
        link.send_only(encode_command("SUBSCRIBE", "secret"), [EventSlot(1, refused.append)])
        ping = link.submit(encode_command("PING"))
        await server.read_commands(2)
        await server.send(error("NOPERM no access to the 'secret' channel"), b"+PONG\r\n")
        assert await ping.wait() == b"PONG"
        assert refused == [ResponseError("NOPERM no access to the 'secret' channel")]
        assert events == []


async def test_empty_push_on_pubsub_link_never_raises_into_the_group() -> None:
    async with running_link(pubsub=True) as (link, server):
        events: list[list[object]] = []

        async def handler(item: list[object]) -> None:
            events.append(item)

        link.event_handler = handler
        ping = link.submit(encode_command("PING"))
        await server.read_command()
        await server.send(b">0\r\n", b"+PONG\r\n")
        # Either the odd push is passed on (or dropped) and PING is answered, or the link closes
        # with a typed error; it must never crash the task group.
        try:
            reply = await ping.wait()
        except (ProtocolError, RedisConnectionError):
            await link.wait_finished()
        else:
            assert reply == b"PONG"
