"""One socket: a writer, a reader and the FIFO of reply slots between them.

Many tasks share a link. `submit` is synchronous: appending the slot to the FIFO and the bytes to
the send buffer happens with no await in between, so the order of replies matches the order of
slots without a lock. The writer task sends everything queued since its last send in one write
(a caller sends itself when the link is idle, `_send_now`, or when the queue is long,
`_send_early`). The reader feeds the parser and hands each reply to the slot it belongs to: on
asyncio over plain TCP the loop itself, in `_ReplyProtocol`'s callback; elsewhere a reader task
(on the plain socket, `_read_socket`, or through the stream for TLS). On a pub/sub link
(``pubsub=True``) the sans-IO `ReplyQueue` turns replies into pub/sub events, and the reader
task awaits the async `event_handler` for each: a slow subscriber slows its own socket
(backpressure), nothing else.

A link never raises into the task group that runs it: a dead socket, a protocol error or a
cancellation fails every pending slot with a typed error and ends the link's tasks.
"""

from __future__ import annotations

import asyncio
import os
import socket
from asyncio import InvalidStateError
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

import anyio
import anyio.abc
import anyio.lowlevel

from .._credentials import Credentials
from .._errors import ConnectionClosedError, ProtocolError, RedisConnectionError
from ..protocol import NEED_DATA, CommandArg, Parser, Push, encode_command
from ..protocol._encoder import BIG_PAYLOAD, Pieces
from ..protocol._slots import EventSlot, ReplyQueue
from ._waiters import Waiter, fail_bare, fresh_copy, waiter_factory

__all__ = ["STREAM_ERRORS", "Link"]

_RECEIVE_SIZE = 65536
#: Queued commands at which a caller sends the queue itself rather than wait for the writer
#: (`_send_early`); doubled at each such send until the writer drains the queue.
_EARLY_SEND = 64
#: asyncio's transport reads up to 256 KiB at a time: asking for less makes the stream split
#: (copy) each big read. Other loops allocate what is asked for on every read: 64 KiB.
_ASYNCIO_RECEIVE_SIZE = 262144

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
        #: asyncio: bare futures for `call` (the reader fills them itself); else None.
        self._await_new = factory.await_new
        self._new_bare = factory.bare
        self._bare_type = factory.bare_type
        self._receive_size = _RECEIVE_SIZE if factory.bare is None else _ASYNCIO_RECEIVE_SIZE
        #: `submit` plus the slot's wait, in one call: what to await for the reply. The
        #: calling task must await it at once (on trio it is already parked on the slot).
        self.call: Callable[[bytes | Pieces], Awaitable[Any]] = (
            self._call_wait if factory.bare is None else self._call_bare
        )
        self._outbuf: list[bytes | Pieces] = []
        #: Items of `_outbuf` that are `Pieces` (big payloads): the writer sends them unjoined.
        self._pieces = 0
        #: Wakes the writer: a reply slot of this loop, cheaper to make than an event (one per
        #: write).
        self._wake: Waiter = self._new_waiter()
        #: Whether `_wake` is set (checked first: setting it again would cost a call).
        self._woken = False
        #: The stream's socket when the writer may send on it directly (see `_raw_socket`),
        #: and whether it is a duplicate of ours to close.
        self._raw_socket, self._raw_owned = _raw_socket(stream)
        #: Whether an idle link's caller may send its command itself (`_send_now`).
        self._direct = self._raw_socket is not None
        #: asyncio, plain TCP, shared link: the transport whose data the link reads in the
        #: loop's own callback (`_ReplyProtocol`: no reader task); else None.
        self._transport = (
            _asyncio_transport(stream)
            if factory.bare is not None and self._raw_socket is not None and not pubsub
            else None
        )
        #: Whether the writer is in the stream's send (then nobody else may send).
        self._writing = False
        #: Whether the last chunk read held one reply: callers take turns rather than run
        #: concurrently (whose commands are better sent together by the writer).
        self._lone = True
        self._error: BaseException | None = None
        #: Whether the link is closed, for good (an attribute, not a property: every command
        #: checks it).
        self.closed = False
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
        """Queue one encoded command; return the slot its reply will land in.

        `call` does the same and returns what to await for the reply: the hot path of a shared
        connection (on asyncio the slot is a bare future, filled by the reader itself).
        """
        if self._error is not None:
            raise fresh_copy(self._error)
        waiter = self._new_waiter()
        self._pending.append(waiter)
        if type(data) is not bytes:
            self._pieces += 1
        self._outbuf.append(data)
        if not self._woken:
            self._woken = True
            self._wake.set(None)
        return waiter

    def _call_wait(self, data: bytes | Pieces) -> Awaitable[Any]:
        # `submit` inlined (one Python call less per command), then the slot's `wait`.
        if self._error is not None:
            raise fresh_copy(self._error)
        waiter = self._new_waiter()
        idle = not self._pending and self._lone
        self._pending.append(waiter)
        if idle and self._direct and type(data) is bytes and not self._outbuf and not self._writing:
            data = self._send_now(data)
            if not data:
                return self._await_new(waiter)
        if type(data) is not bytes:
            self._pieces += 1
        outbuf = self._outbuf
        outbuf.append(data)
        if not self._woken:
            self._woken = True
            self._wake.set(None)
        elif len(outbuf) >= self._early_at:
            self._send_early()
        return self._await_new(waiter)

    def _call_bare(self, data: bytes | Pieces) -> Awaitable[Any]:
        # `submit` with a bare asyncio future as the slot (asyncio only; see `call`).
        if self._error is not None:
            raise fresh_copy(self._error)
        future = self._new_bare()  # type: ignore[misc]  # set when this method is used
        idle = not self._pending and self._lone
        self._pending.append(future)
        if idle and self._direct and type(data) is bytes and not self._outbuf and not self._writing:
            data = self._send_now(data)
            if not data:
                return future  # type: ignore[no-any-return]
        if type(data) is not bytes:
            self._pieces += 1
        outbuf = self._outbuf
        outbuf.append(data)
        if not self._woken:
            self._woken = True
            self._wake.set(None)
        elif len(outbuf) >= self._early_at:
            self._send_early()
        return future  # type: ignore[no-any-return]

    def _send_early(self) -> None:
        """Send the queued commands from the caller, before the writer gets its turn.

        Many concurrent callers queue their commands while the writer waits for its turn in
        the loop: without this, the whole round leaves in one write, and the server idles
        while they are queued, then the client idles while the server answers. Sending the
        first `_EARLY_SEND` at once (then twice as many, and so on, until the writer drains
        the rest) keeps both busy: the first replies are in by the time the last commands
        leave. Synchronous (`_send_now`), so no cancellation can cut it; what the kernel does
        not take stays queued for the writer, ahead of anything queued later.
        """
        self._early_at *= 2
        if self._writing or self._pieces or not self._direct:
            return  # the writer's turn: a send in progress, big payloads, or no plain socket
        outbuf = self._outbuf
        data = outbuf[0] if len(outbuf) == 1 else b"".join(outbuf)  # type: ignore[arg-type]
        outbuf.clear()
        assert isinstance(data, bytes)
        if rest := self._send_now(data):
            outbuf.append(rest)

    def _send_now(self, data: bytes) -> bytes:
        """Send from the caller, not the writer; return what is left to queue.

        Used when the link is idle (no reply pending, nothing queued, the writer not sending,
        and the last chunk read held a single reply): a caller that waits for each reply
        before its next command, for whom sending right away saves waking the writer, a loop
        iteration per command; and by `_send_early`. The send is synchronous, so a
        cancellation cannot cut it.
        """
        assert self._raw_socket is not None
        try:
            sent = self._raw_socket.send(data)
        except OSError:  # full (or dead: the writer meets the error and closes the link)
            return data
        return data[sent:]

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
            self._wake.set(None)
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
            self._wake.set(None)
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
            self.closed = True
            self._error = (
                error
                if error is not None
                else ConnectionClosedError(f"connection to {self.address} closed")
            )
            self._outbuf.clear()
            bare = self._bare_type
            if bare is None:
                self._queue.fail_all(self._error)
            else:
                # What `fail_all` does, bare futures (no `Waiter`s) included.
                slots = list(self._pending)
                self._pending.clear()
                for slot in slots:
                    if type(slot) is bare:
                        fail_bare(slot, self._error)
                    else:
                        slot.fail(self._error)
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
                    if self._transport is not None:
                        _ReplyProtocol.install(self, self._transport)
                    else:
                        group.start_soon(self._read_loop)
                    task_status.started()
        finally:
            self.close()
            with anyio.CancelScope(shield=True), anyio.move_on_after(1.0):
                await self._stream.aclose()
            if self._raw_owned and self._raw_socket is not None:
                self._raw_socket.close()
            self._finished.set()

    async def _write_loop(self) -> None:
        outbuf = self._outbuf
        send = self._stream.send
        raw = self._raw_socket
        try:
            while True:
                await self._wake.wait()
                # No await between here and the drain: commands queued meanwhile set the old
                # (already set) slot and land in outbuf, which we take whole.
                self._wake = self._new_waiter()
                self._woken = False
                self._early_at = _EARLY_SEND
                if not outbuf:
                    continue
                if self._pieces:
                    self._pieces = 0
                    buffers = _coalesce(outbuf)
                    outbuf.clear()
                    if raw is not None:
                        if buffers := _send_direct(raw, buffers):
                            await self._send_rest(raw, buffers)
                        continue
                    self._writing = True
                    for buffer in buffers:
                        await send(buffer)  # type: ignore[arg-type]  # any buffer works
                    self._writing = False
                    continue
                # No Pieces queued: every item is bytes.
                data: bytes | memoryview = (
                    outbuf[0] if len(outbuf) == 1 else b"".join(outbuf)  # type: ignore[arg-type,assignment]
                )
                outbuf.clear()
                if raw is not None:
                    # The socket straight away (what the stream's send would do first), without
                    # the stream's checkpoints: the stream gets only what the kernel did not
                    # take, and waits until it can write it.
                    try:
                        sent = raw.send(data)
                    except BlockingIOError:
                        sent = 0
                    if sent < len(data):
                        await self._send_rest(raw, [memoryview(data)[sent:]])
                    continue
                self._writing = True
                await send(data)  # type: ignore[arg-type]  # any buffer works
                self._writing = False
        except STREAM_ERRORS:
            self.close(RedisConnectionError(f"lost the connection to {self.address} while sending"))

    async def _send_rest(
        self, raw: socket.socket, buffers: list[bytes | bytearray | memoryview]
    ) -> None:
        """Send what the kernel did not take yet, waiting until the socket can take more.

        On the socket itself, not the stream: asyncio's transport would copy the rest into a
        buffer of its own first (1 MiB values: megabytes per write).
        """
        self._writing = True
        while buffers:
            await _wait_writable(raw)
            buffers = _send_direct(raw, buffers)
        self._writing = False

    async def _read_loop(self) -> None:
        """The one reader task (trio, TLS, pub/sub): a dying socket closes the link, typed."""
        try:
            await self._read_replies()
        except Exception as exc:  # never into the holder's group
            self.close(self._reading_error(exc))

    def _reading_error(self, exc: BaseException) -> BaseException:
        """The typed error that closes the link when reading failed with `exc`."""
        if isinstance(exc, anyio.EndOfStream):
            return RedisConnectionError(f"the server at {self.address} closed the connection")
        if isinstance(exc, STREAM_ERRORS):
            return RedisConnectionError(f"lost the connection to {self.address}")
        if isinstance(exc, ProtocolError):
            return ProtocolError(f"{exc} (from {self.address}); the connection was dropped")
        return ProtocolError(  # a reply we could not handle
            f"could not handle a reply from {self.address} ({type(exc).__name__}); "
            "the connection was dropped"
        )

    async def _read_replies(self) -> None:
        receive = self._stream.receive
        size = self._receive_size
        if not self._queue.events:
            if self._raw_socket is not None and not self._raw_owned:
                await self._read_socket(self._raw_socket, size)
                return
            take = self._take_chunk
            while not self.closed:
                take(await receive(size))
            return
        # A pub/sub link: every reply is the sans-IO queue's call, one at a time (an event's
        # handler is awaited before the next reply is parsed).
        feed = self._parser.feed
        next_reply = self._parser.next_reply
        pending = self._pending
        route = self._queue.route
        while True:
            feed(await receive(size))
            while (reply := next_reply()) is not NEED_DATA:
                event = route(reply)
                if event is not None:
                    handler = self.event_handler
                    if handler is not None:
                        await handler(event)
            if self._retiring and not pending:
                self.close(ConnectionClosedError(f"connection to {self.address} was replaced"))
                return

    async def _read_socket(self, raw: socket.socket, size: int) -> None:
        """The reader of a shared link on its plain socket (trio; asyncio over Unix sockets).

        After a short chunk that held one reply (a caller taking turns with the server) it
        waits until the socket is readable, then reads: trying first would cost a failed system
        call per command. Otherwise (a round of many replies, or the middle of a big one) a
        chunk is usually there: it lets the other tasks run, then reads, as the stream's
        receive would, minus its wrapping. Either way it yields once per chunk, so a busy
        socket cannot starve the loop.
        """
        take = self._take_chunk
        recv = raw.recv
        wait_first = True
        while not self.closed:
            if wait_first:
                await _wait_readable(raw)
            try:
                data = recv(size)
            except BlockingIOError:
                wait_first = True
                continue
            if not data:
                raise anyio.EndOfStream
            take(data)
            wait_first = self._lone and len(data) < size
            if not wait_first:
                await _checkpoint()

    def _take_chunk(self, data: bytes) -> None:
        """Read a chunk of a shared link: its replies at once, an ordinary reply for a waiting
        slot handled inline (pushes and stray replies: the queue's call). Synchronous: the
        reader task calls it, or on asyncio the loop itself (`_ReplyProtocol`)."""
        self._parser.feed(data)
        replies = self._parser.replies
        pending = self._pending
        future: Any = self._bare_type
        while batch := replies():  # until empty: an error after some replies comes next
            self._lone = len(batch) == 1
            for reply in batch:
                if pending and type(reply) is not Push:
                    slot: Any = pending.popleft()
                    if type(slot) is future:
                        # A bare future (`call`): a cancelled caller cancelled it, and its
                        # reply is dropped (asking `done()` first would cost a call per reply;
                        # so would `contextlib.suppress`).
                        try:  # noqa: SIM105
                            slot.set_result(reply)
                        except InvalidStateError:
                            pass
                    else:
                        slot.set(reply)
                else:
                    self._queue.route(reply)  # a push, or a reply nobody asked for (raises)
        if self._retiring and not pending:
            self.close(ConnectionClosedError(f"connection to {self.address} was replaced"))


class _ReplyProtocol(asyncio.Protocol):
    """The reader of a shared plain-TCP link on asyncio: the loop hands each chunk to the link
    as it arrives, in its own callback.

    A reader task would cost, per chunk, a task step and two selector changes (anyio's stream
    resumes and pauses reading around every receive): for a lone caller, per command. The
    link's writer keeps sending on the socket itself; this protocol only reads.
    """

    def __init__(self, link: Link) -> None:
        self._link = link

    @classmethod
    def install(cls, link: Link, transport: asyncio.Transport) -> None:
        """Take `transport`'s incoming data from its stream's own protocol, with whatever that
        protocol had already read."""
        previous: Any = transport.get_protocol()
        protocol = cls(link)
        transport.set_protocol(protocol)
        while previous.read_queue:
            protocol.data_received(previous.read_queue.popleft())
        if previous.exception is not None or transport.is_closing():
            protocol.connection_lost(previous.exception or ConnectionResetError())
        elif previous.is_at_eof:
            protocol.eof_received()
        else:
            transport.resume_reading()

    def data_received(self, data: bytes) -> None:
        link = self._link
        try:
            link._take_chunk(data)
        except Exception as exc:  # never into the loop: the link closes, typed
            link.close(link._reading_error(exc))

    def eof_received(self) -> bool:
        self._link.close(self._link._reading_error(anyio.EndOfStream()))
        return False  # the transport closes itself

    def connection_lost(self, exc: Exception | None) -> None:
        # None: the link closed the stream itself (already closed then), or after an EOF.
        self._link.close(None if exc is None else self._link._reading_error(exc))


def _asyncio_transport(stream: anyio.abc.ByteStream) -> asyncio.Transport | None:
    """The asyncio transport under anyio's plain TCP stream, when it is one whose protocol the
    link can take over (`_ReplyProtocol.install`); else None."""
    transport = getattr(stream, "_transport", None)
    protocol = getattr(transport, "get_protocol", lambda: None)()
    if not isinstance(transport, asyncio.Transport) or not all(
        hasattr(protocol, name) for name in ("read_queue", "exception", "is_at_eof")
    ):
        return None
    return transport


def _raw_socket(stream: anyio.abc.ByteStream) -> tuple[socket.socket | None, bool]:
    """The socket under a plain (not TLS) socket stream, if non-blocking, else None; and
    whether it is a duplicate that the link must close.

    The writer task is the stream's only writer, so it may send on the socket itself as long
    as it hands what is left to the stream (which then waits for the socket to drain) before
    it sends again: bytes are never reordered. That saves the stream's per-send checkpoints (a
    loop iteration per write on asyncio) and, for big payloads, a copy. asyncio hands out a
    wrapper that cannot send: the link sends on a duplicate of its file descriptor.
    """
    if not isinstance(stream, anyio.abc.SocketStream):
        return None, False  # TLS, in-memory streams...: their own send only
    try:
        raw = stream.extra(anyio.abc.SocketAttribute.raw_socket)
        if isinstance(raw, socket.socket):
            return (raw, False) if raw.gettimeout() == 0.0 else (None, False)
        if raw.gettimeout() != 0.0:
            return None, False
        duplicate = socket.socket(fileno=os.dup(raw.fileno()))
    except Exception:
        return None, False
    duplicate.setblocking(False)
    return duplicate, True


#: Waits until a socket can be written to (`wait_writable` from anyio 4.7 on).
_wait_writable: Callable[[socket.socket], Awaitable[None]] = (
    getattr(anyio, "wait_writable", None) or anyio.wait_socket_writable
)

#: Waits until a socket can be read from (`wait_readable` from anyio 4.7 on).
_wait_readable: Callable[[socket.socket], Awaitable[None]] = (
    getattr(anyio, "wait_readable", None) or anyio.wait_socket_readable
)
_checkpoint = anyio.lowlevel.checkpoint

#: Buffers per `sendmsg` call (the usual IOV_MAX is 1024).
_IOV_MAX = 1024


def _send_direct(
    raw: socket.socket, buffers: list[bytes | bytearray | memoryview]
) -> list[bytes | bytearray | memoryview]:
    """Send `buffers` on `raw` in one system call when the kernel takes them; return the rest
    (as views, no copy), for the stream to send once it can."""
    try:
        sent = raw.sendmsg(buffers[:_IOV_MAX])
    except BlockingIOError:
        return buffers
    for index, buffer in enumerate(buffers):
        size = len(buffer) if type(buffer) is not memoryview else buffer.nbytes
        if sent < size:
            rest = buffers[index:]
            if sent:
                rest[0] = memoryview(buffer)[sent:]
            return rest
        sent -= size
    return []


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
