"""One socket session: a writer task, a reader task and the FIFO of reply slots between them.

Many tasks share a link. `submit` is synchronous: appending the slot to the FIFO and the bytes to
the send buffer happens with no await in between, so the order of replies matches the order of
slots without a lock. The writer sends everything queued since its last send in one write; the
reader feeds the parser and completes slots in order. RESP3 push messages never enter the FIFO:
they go to `push_handler`.

A link never raises into the task group that runs it: a dead socket, a protocol error or a
cancellation fails every pending slot with a typed error and ends the link's tasks.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Sequence

import anyio
import anyio.abc

from ._credentials import Credentials
from ._errors import ConnectionClosedError, ProtocolError, RedisConnectionError
from ._waiters import Waiter, fresh_copy, waiter_factory
from .protocol import NEED_DATA, Parser, Push, encode_command

__all__ = ["Link"]

_RECEIVE_SIZE = 65536
#: Errors of the byte stream that mean "this socket is gone".
_STREAM_ERRORS = (
    anyio.EndOfStream,
    anyio.BrokenResourceError,
    anyio.ClosedResourceError,
    OSError,
)


class Link:
    """A connected byte stream and its pending-reply FIFO; runs in the client's task group."""

    def __init__(
        self,
        stream: anyio.abc.ByteStream,
        parser: Parser,
        address: str,
        on_close: Callable[[Link], None] | None = None,
    ) -> None:
        self._stream = stream
        self._parser = parser
        self.address = address
        self._on_close = on_close
        self._pending: deque[Waiter] = deque()
        factory = waiter_factory()
        self._new_waiter = factory.single
        self._new_batch = factory.batch
        self._outbuf: list[bytes] = []
        self._wake = anyio.Event()
        self._error: BaseException | None = None
        self._cancel_scope: anyio.CancelScope | None = None
        self._finished = anyio.Event()
        #: The credentials this session is logged in with (None: no AUTH was sent).
        self.credentials: Credentials | None = None
        self._retiring = False
        #: Receives RESP3 push messages (pub/sub, client tracking); dropped when None.
        self.push_handler: Callable[[Push], None] | None = None

    # -- state ---------------------------------------------------------------------------------

    @property
    def closed(self) -> bool:
        return self._error is not None

    @property
    def pending_count(self) -> int:
        return len(self._pending)

    def closed_error(self) -> BaseException | None:
        """The error that closed the link (a fresh copy), or None while it is open."""
        return None if self._error is None else fresh_copy(self._error)

    # -- submitting ----------------------------------------------------------------------------

    def submit(self, data: bytes) -> Waiter:
        """Queue one encoded command; return the slot its reply will land in."""
        if self._error is not None:
            raise fresh_copy(self._error)
        waiter = self._new_waiter()
        self._pending.append(waiter)
        self._outbuf.append(data)
        self._wake.set()
        return waiter

    def submit_batch(self, data: bytes, count: int) -> Waiter:
        """Queue `count` encoded commands written as one blob; their replies fill one slot."""
        if self._error is not None:
            raise fresh_copy(self._error)
        waiter = self._new_batch(count)
        self._pending.extend([waiter] * count)
        self._outbuf.append(data)
        self._wake.set()
        return waiter

    async def request_many(
        self, commands: Sequence[Sequence[bytes | str | int | float]]
    ) -> list[object]:
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
            pending, self._pending = self._pending, deque()
            self._outbuf.clear()
            for waiter in pending:
                waiter.fail(self._error)
            if self._on_close is not None:
                self._on_close(self)
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
                if not outbuf:
                    continue
                data = outbuf[0] if len(outbuf) == 1 else b"".join(outbuf)
                outbuf.clear()
                await send(data)
        except _STREAM_ERRORS:
            self.close(RedisConnectionError(f"lost the connection to {self.address} while sending"))

    async def _read_loop(self) -> None:
        receive = self._stream.receive
        parser = self._parser
        feed = parser.feed
        next_reply = parser.next_reply
        pending = self._pending
        try:
            while True:
                feed(await receive(_RECEIVE_SIZE))
                while (reply := next_reply()) is not NEED_DATA:
                    if type(reply) is Push:
                        handler = self.push_handler
                        if handler is not None:
                            handler(reply)
                        continue
                    if not pending:
                        raise ProtocolError("the server sent a reply that no command asked for")
                    pending.popleft().set(reply)
                if self._retiring and not pending:
                    self.close(ConnectionClosedError(f"connection to {self.address} was replaced"))
                    return
        except anyio.EndOfStream:
            self.close(RedisConnectionError(f"the server at {self.address} closed the connection"))
        except _STREAM_ERRORS:
            self.close(RedisConnectionError(f"lost the connection to {self.address}"))
        except ProtocolError as exc:
            self.close(ProtocolError(f"{exc} (from {self.address}); the connection was dropped"))
