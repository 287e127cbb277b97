"""A TCP proxy over anyio that sits between client and server and misbehaves on command.

Faults apply to the server-to-client direction (replies), where the races live:
`delay` holds every chunk back, `stalled` stops forwarding (a half-open socket), `cut_after`
forwards that many more bytes and then resets both sides, `drop()` closes every connection now,
`replace_once(old, new)` swaps the next reply chunk that is exactly `old` for `new`.

Faults for the connections still to come (the edges of issue 12): `tls` makes the proxy a TLS
front (it terminates TLS and forwards plain bytes to the target); `reject_new` closes each new
connection without reaching the server, "at_once" (reset as soon as it is accepted) or
"after_hello" (after its first bytes: with TLS, mid-handshake); `answer_new` plays a server that
answers every command of a new connection with those bytes (e.g. ``-BUSY ...``).
`freeze_existing()` stalls the replies of the connections open now only (new ones flow), and
`client_closes` counts connections the client side closed (not `drop()`).
"""

from __future__ import annotations

import contextlib
import ssl

import anyio
import anyio.abc
from anyio.streams.tls import TLSStream

from anyredis_auth.protocol import NEED_DATA, Parser


class FaultProxy:
    def __init__(
        self, target_host: str, target_port: int, *, tls: ssl.SSLContext | None = None
    ) -> None:
        self.target = (target_host, target_port)
        self.tls = tls
        self.reject_new: str | None = None
        self.answer_new: bytes | None = None
        self.client_closes = 0
        self._frozen: set[int] = set()
        self.port = 0
        self.delay = 0.0
        self.stalled = False
        self.cut_after: int | None = None
        self.connections = 0
        self.replacement: tuple[bytes, bytes] | None = None
        self._pairs: list[tuple[anyio.abc.ByteStream, anyio.abc.ByteStream]] = []
        self._resume = anyio.Event()

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}"

    def replace_once(self, old: bytes, new: bytes) -> None:
        self.replacement = (old, new)

    @property
    def tls_url(self) -> str:
        return f"rediss://127.0.0.1:{self.port}"

    def freeze_existing(self) -> None:
        """Hold back every reply of the connections open now (half-open sockets); new
        connections are not affected. `resume()` lets them flow again."""
        self._frozen.update(id(client_side) for client_side, _ in self._pairs)

    def resume(self) -> None:
        self.stalled = False
        self._frozen.clear()
        self._resume.set()
        self._resume = anyio.Event()

    def drop(self) -> None:
        """Close every proxied connection at once (both sides see the socket die)."""
        for client_side, server_side in self._pairs:
            for stream in (client_side, server_side):
                _abort(stream)
        self._pairs.clear()

    async def run(
        self, *, task_status: anyio.abc.TaskStatus[None] = anyio.TASK_STATUS_IGNORED
    ) -> None:
        listener = await anyio.create_tcp_listener(local_host="127.0.0.1", local_port=0)
        self.port = listener.extra(anyio.abc.SocketAttribute.local_port)
        async with listener:
            task_status.started()
            await listener.serve(self._handle)

    async def _handle(self, accepted: anyio.abc.SocketStream) -> None:
        self.connections += 1
        try:
            await self._serve(accepted)
        finally:
            # Whatever ended the connection (a fault, the peer, the proxy being cancelled before
            # its first await), the accepted socket is released, not left to the collector.
            await anyio.aclose_forcefully(accepted)

    async def _serve(self, accepted: anyio.abc.SocketStream) -> None:
        if self.reject_new is not None:
            await _reject(accepted, self.reject_new)
            return
        client_side: anyio.abc.ByteStream = accepted
        if self.tls is not None:
            try:
                client_side = await TLSStream.wrap(
                    accepted, server_side=True, ssl_context=self.tls, standard_compatible=False
                )
            except (anyio.BrokenResourceError, anyio.EndOfStream, OSError):
                _abort(accepted)
                return
        if self.answer_new is not None:
            await _answer_every_command(client_side, self.answer_new)
            return
        try:
            server_side = await anyio.connect_tcp(*self.target)
        except OSError:
            return
        pair = (client_side, server_side)
        self._pairs.append(pair)
        try:
            async with anyio.create_task_group() as group:
                group.start_soon(
                    self._pump, client_side, server_side, False, group.cancel_scope, pair
                )
                group.start_soon(
                    self._pump, server_side, client_side, True, group.cancel_scope, pair
                )
        finally:
            if pair in self._pairs:
                self._pairs.remove(pair)
            self._frozen.discard(id(client_side))
            for stream in pair:
                _abort(stream)
            # A reset is not a close: the sockets themselves must still be released.
            await anyio.aclose_forcefully(server_side)

    async def _pump(
        self,
        source: anyio.abc.ByteStream,
        sink: anyio.abc.ByteStream,
        faulty: bool,
        scope: anyio.CancelScope,
        pair: tuple[anyio.abc.ByteStream, anyio.abc.ByteStream] | None = None,
    ) -> None:
        try:
            async for chunk in source:
                if faulty:
                    while self.stalled or id(sink) in self._frozen:
                        await self._resume.wait()
                    if self.replacement is not None and chunk == self.replacement[0]:
                        chunk, self.replacement = self.replacement[1], None
                    if self.delay:
                        await anyio.sleep(self.delay)
                    if self.cut_after is not None:
                        if len(chunk) >= self.cut_after:
                            await sink.send(chunk[: self.cut_after])
                            self.cut_after = None
                            await anyio.sleep(0.01)
                            break
                        self.cut_after -= len(chunk)
                await sink.send(chunk)
        except (anyio.BrokenResourceError, anyio.ClosedResourceError, OSError):
            pass
        if not faulty and pair is not None and pair in self._pairs:
            self.client_closes += 1  # the client side ended it (drop() forgets its pairs first)
        scope.cancel()


def _abort(stream: anyio.abc.ByteStream) -> None:
    """Close a socket stream without waiting: set SO_LINGER 0 so the peer sees a reset."""
    import socket
    import struct

    raw = stream.extra(anyio.abc.SocketAttribute.raw_socket, None)
    if raw is not None and raw.fileno() >= 0:
        try:
            raw.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            raw.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass


async def _reject(stream: anyio.abc.SocketStream, how: str) -> None:
    """Close an accepted connection before it reaches the server (see `reject_new`)."""
    if how == "after_hello":
        with contextlib.suppress(anyio.BrokenResourceError, anyio.EndOfStream, OSError):
            await stream.receive()  # the client's first bytes: a TLS ClientHello, or a command
    elif how != "at_once":
        raise ValueError(f"unknown reject_new mode {how!r}")
    _abort(stream)
    await stream.aclose()


async def _answer_every_command(stream: anyio.abc.ByteStream, answer: bytes) -> None:
    """A fake server: each command received gets `answer` (commands parse as RESP arrays)."""
    parser = Parser(protocol=3, backend="python")
    try:
        async for chunk in stream:
            parser.feed(chunk)
            replies = b""
            while parser.next_reply() is not NEED_DATA:
                replies += answer
            if replies:
                await stream.send(replies)
    except (anyio.BrokenResourceError, anyio.ClosedResourceError, OSError):
        pass
    finally:
        await stream.aclose()
