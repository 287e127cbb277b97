"""One socket: a writer task, a reader task and the FIFO of reply slots between them.

Many tasks share a link. `submit` is synchronous: appending the slot to the FIFO and the bytes to
the send buffer happens with no await in between, so the order of replies matches the order of
slots without a lock. The writer sends everything queued since its last send in one write; the
reader feeds the parser and hands each reply to the sans-IO `ReplyQueue`, which fills the slot
it belongs to (see `anyredis_auth.protocol._slots`). On a pub/sub link (``pubsub=True``) the
queue returns pub/sub events, and the reader awaits the async `event_handler` for each: a slow
subscriber slows its own socket (backpressure), nothing else.

A link never raises into the task group that runs it: a dead socket, a protocol error or a
cancellation fails every pending slot with a typed error and ends the link's tasks.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence

import anyio
import anyio.abc

from .._credentials import Credentials
from .._errors import ConnectionClosedError, ProtocolError, RedisConnectionError
from ..protocol import NEED_DATA, CommandArg, Parser, Push, encode_command
from ..protocol._encoder import BIG_PAYLOAD, Pieces
from ..protocol._slots import EventSlot, ReplyQueue
from ._waiters import Waiter, fresh_copy, waiter_factory

__all__ = ["STREAM_ERRORS", "Link"]

_RECEIVE_SIZE = 65536

#: Errors of a byte stream that mean "this socket is gone".
STREAM_ERRORS = (
    anyio.EndOfStream,
    anyio.BrokenResourceError,
    anyio.ClosedResourceError,
    OSError,
)


class Link:
    """A connected byte stream and its pending-reply FIFO; runs in its holder's task group."""

    def __init__(
        self,
        stream: anyio.abc.ByteStream,
        parser: Parser,
        address: str,
        *,
        pubsub: bool = False,
    ) -> None:
        self._stream = stream
        self._parser = parser
        self.address = address
        self._queue = ReplyQueue(events=pubsub)
        self._pending = self._queue.pending
        factory = waiter_factory()
        self._new_waiter = factory.single
        self._new_batch = factory.batch
        self._outbuf: list[bytes | Pieces] = []
        #: Items of `_outbuf` that are `Pieces` (big payloads): the writer sends them unjoined.
        self._pieces = 0
        self._wake = anyio.Event()
        #: Whether `_wake` is set (checked first: setting a set event still costs two calls).
        self._woken = False
        self._error: BaseException | None = None
        self._cancel_scope: anyio.CancelScope | None = None
        self._finished = anyio.Event()
        #: The credentials this session is logged in with (None: no AUTH was sent).
        self.credentials: Credentials | None = None
        self._retiring = False
        #: A pub/sub link's events (pushes, RESP2 event arrays); awaited by the reader.
        self.event_handler: Callable[[list[object]], Awaitable[None]] | None = None
        #: The protocol the handshake settled on (a pub/sub link may differ from the options).
        self.protocol = parser.protocol

    # -- state ---------------------------------------------------------------------------------

    @property
    def closed(self) -> bool:
        return self._error is not None

    @property
    def pending_count(self) -> int:
        return len(self._pending)

    @property
    def push_handler(self) -> Callable[[Push], None] | None:
        """Receives RESP3 push messages of a shared link (client tracking); None drops them."""
        return self._queue.on_push

    @push_handler.setter
    def push_handler(self, handler: Callable[[Push], None] | None) -> None:
        self._queue.on_push = handler

    def closed_error(self) -> BaseException | None:
        """The error that closed the link (a fresh copy), or None while it is open."""
        return None if self._error is None else fresh_copy(self._error)

    # -- submitting ----------------------------------------------------------------------------

    def submit(self, data: bytes | Pieces) -> Waiter:
        """Queue one encoded command; return the slot its reply will land in."""
        if self._error is not None:
            raise fresh_copy(self._error)
        waiter = self._new_waiter()
        self._pending.append(waiter)
        if type(data) is not bytes:
            self._pieces += 1
        self._outbuf.append(data)
        if not self._woken:
            self._woken = True
            self._wake.set()
        return waiter

    def send_only(self, data: bytes, slots: Sequence[EventSlot] = ()) -> None:
        """Queue encoded subscribe-family commands, one `EventSlot` each (pub/sub links)."""
        self.submit_between(data, slots, None, ())

    def submit_between(
        self,
        data: bytes,
        before: Sequence[EventSlot],
        waiter: Waiter | None,
        after: Sequence[EventSlot],
    ) -> Waiter | None:
        """Queue one blob of commands: event slots, then a command whose reply fills `waiter`
        (from `new_waiter`; None: no such command), then event slots. A RESP2 switch-over
        (unsubscribe, AUTH, resubscribe) goes out this way, in one write."""
        if self._error is not None:
            raise fresh_copy(self._error)
        pending = self._pending
        pending.extend(before)
        if waiter is not None:
            pending.append(waiter)
        pending.extend(after)
        self._outbuf.append(data)
        if not self._woken:
            self._woken = True
            self._wake.set()
        return waiter

    def new_waiter(self) -> Waiter:
        """A reply slot for `submit_between`."""
        return self._new_waiter()

    def submit_batch(self, data: bytes | Pieces, count: int) -> Waiter:
        """Queue `count` encoded commands written as one blob; their replies fill one slot."""
        if self._error is not None:
            raise fresh_copy(self._error)
        waiter = self._new_batch(count)
        self._pending.extend([waiter] * count)
        if type(data) is not bytes:
            self._pieces += 1
        self._outbuf.append(data)
        if not self._woken:
            self._woken = True
            self._wake.set()
        return waiter

    async def request_many(self, commands: Sequence[Sequence[CommandArg]]) -> list[object]:
        """Submit commands in one write and wait for all their replies (handshake, re-auth)."""
        blob = b"".join(encode_command(*command) for command in commands)
        replies = await self.submit_batch(blob, len(commands)).wait()
        assert isinstance(replies, list)
        return replies

    # -- lifecycle -----------------------------------------------------------------------------

    def close(self, error: BaseException | None = None) -> None:
        """Fail every pending slot with `error` (default: connection closed) and stop the tasks."""
        if self._error is None:
            self._error = (
                error
                if error is not None
                else ConnectionClosedError(f"connection to {self.address} closed")
            )
            self._outbuf.clear()
            self._queue.fail_all(self._error)
        if self._cancel_scope is not None:
            self._cancel_scope.cancel()

    def retire(self) -> None:
        """Close once the replies already in flight are in: a replacement takes new commands."""
        self._retiring = True
        if not self._pending:
            self.close(ConnectionClosedError(f"connection to {self.address} was replaced"))

    async def wait_finished(self) -> None:
        await self._finished.wait()

    async def run(
        self, *, task_status: anyio.abc.TaskStatus[None] = anyio.TASK_STATUS_IGNORED
    ) -> None:
        """Run the writer and reader until the link closes; never raises (but on cancellation)."""
        try:
            with anyio.CancelScope() as scope:
                self._cancel_scope = scope
                if self._error is not None:
                    scope.cancel()
                async with anyio.create_task_group() as group:
                    group.start_soon(self._write_loop)
                    group.start_soon(self._read_loop)
                    task_status.started()
        finally:
            self.close()
            with anyio.CancelScope(shield=True), anyio.move_on_after(1.0):
                await self._stream.aclose()
            self._finished.set()

    async def _write_loop(self) -> None:
        outbuf = self._outbuf
        send = self._stream.send
        try:
            while True:
                await self._wake.wait()
                # No await between here and the drain: commands queued meanwhile set the old
                # (already set) event and land in outbuf, which we take whole.
                self._wake = anyio.Event()
                self._woken = False
                if not outbuf:
                    continue
                if self._pieces:
                    self._pieces = 0
                    buffers = _coalesce(outbuf)
                    outbuf.clear()
                    for buffer in buffers:
                        await send(buffer)  # type: ignore[arg-type]  # any buffer works
                    continue
                data = outbuf[0] if len(outbuf) == 1 else b"".join(outbuf)  # type: ignore[arg-type]
                outbuf.clear()
                await send(data)  # type: ignore[arg-type]
        except STREAM_ERRORS:
            self.close(RedisConnectionError(f"lost the connection to {self.address} while sending"))

    async def _read_loop(self) -> None:
        """The one reader: the ways a socket dies become the typed error that closes it."""
        try:
            await self._read_replies()
        except anyio.EndOfStream:
            self.close(RedisConnectionError(f"the server at {self.address} closed the connection"))
        except STREAM_ERRORS:
            self.close(RedisConnectionError(f"lost the connection to {self.address}"))
        except ProtocolError as exc:
            self.close(ProtocolError(f"{exc} (from {self.address}); the connection was dropped"))
        except Exception as exc:  # a reply we could not handle: never into the holder's group
            self.close(
                ProtocolError(
                    f"could not handle a reply from {self.address} ({type(exc).__name__}); "
                    "the connection was dropped"
                )
            )

    async def _read_replies(self) -> None:
        receive = self._stream.receive
        feed = self._parser.feed
        next_reply = self._parser.next_reply
        pending = self._pending
        route = self._queue.route
        # The hot path of a shared link (an ordinary reply for a waiting slot) stays inline;
        # everything else (pushes, pub/sub events, stray replies) is the sans-IO queue's call.
        plain = not self._queue.events
        while True:
            feed(await receive(_RECEIVE_SIZE))
            while (reply := next_reply()) is not NEED_DATA:
                if plain and pending and type(reply) is not Push:
                    pending.popleft().set(reply)
                    continue
                event = route(reply)
                if event is not None:
                    handler = self.event_handler
                    if handler is not None:
                        await handler(event)
            if self._retiring and not pending:
                self.close(ConnectionClosedError(f"connection to {self.address} was replaced"))
                return


def _coalesce(items: list[bytes | Pieces]) -> list[bytes | bytearray | memoryview]:
    """The buffers to send for `items`: each big payload alone (no copy), small runs joined."""
    buffers: list[bytes | bytearray | memoryview] = []
    small: list[bytes | bytearray | memoryview] = []
    for item in items:
        parts: list[bytes | bytearray | memoryview] | Pieces = (
            item if isinstance(item, Pieces) else [item]
        )
        for piece in parts:
            if len(piece) >= BIG_PAYLOAD:
                if small:
                    buffers.append(b"".join(small))
                    small.clear()
                buffers.append(piece)
            else:
                small.append(piece)
    if small:
        buffers.append(b"".join(small))
    return buffers
