"""A TCP proxy over anyio that sits between client and server and misbehaves on command.

Faults apply to the server-to-client direction (replies), where the races live:
`delay` holds every chunk back, `stalled` stops forwarding (a half-open socket), `cut_after`
forwards that many more bytes and then resets both sides, `drop()` closes every connection now,
`replace_once(old, new)` swaps the next reply chunk that is exactly `old` for `new`.
"""

from __future__ import annotations

import anyio
import anyio.abc


class FaultProxy:
    def __init__(self, target_host: str, target_port: int) -> None:
        self.target = (target_host, target_port)
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

    def resume(self) -> None:
        self.stalled = False
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

    async def _handle(self, client_side: anyio.abc.SocketStream) -> None:
        self.connections += 1
        try:
            server_side = await anyio.connect_tcp(*self.target)
        except OSError:
            await client_side.aclose()
            return
        pair = (client_side, server_side)
        self._pairs.append(pair)
        try:
            async with anyio.create_task_group() as group:
                group.start_soon(self._pump, client_side, server_side, False, group.cancel_scope)
                group.start_soon(self._pump, server_side, client_side, True, group.cancel_scope)
        finally:
            if pair in self._pairs:
                self._pairs.remove(pair)
            for stream in pair:
                _abort(stream)

    async def _pump(
        self,
        source: anyio.abc.ByteStream,
        sink: anyio.abc.ByteStream,
        faulty: bool,
        scope: anyio.CancelScope,
    ) -> None:
        try:
            async for chunk in source:
                if faulty:
                    while self.stalled:
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
