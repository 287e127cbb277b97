"""In-memory byte streams and a fake server the test drives, for connection tests with no socket.

`memory_stream_pair` gives two connected `anyio.abc.ByteStream`s built on anyio memory object
streams (so they run on asyncio and trio alike). Each `send` of one end is one item for the other
end: a `FakeServer` can tell how many writes the client made. `FakeNetwork.connect` is a stream
factory for `Connector`; each connection it makes shows up as a `FakeServer` from `accept`.
"""

from __future__ import annotations

import math
from types import TracebackType

import anyio
import anyio.abc
import anyio.lowlevel
from anyio.streams.memory import MemoryObjectReceiveStream, MemoryObjectSendStream

from anyredis_auth.protocol import NEED_DATA, Parser

__all__ = [
    "OK",
    "FakeNetwork",
    "FakeServer",
    "MemoryByteStream",
    "array",
    "bulk",
    "error",
    "integer",
    "memory_stream_pair",
    "push",
]

Command = list[bytes]


class MemoryByteStream(anyio.abc.ByteStream):
    """One end of an in-memory connection.

    `receive` returns at most `max_bytes` and keeps the rest for the next call. `send_eof` ends
    the peer's reading (after what was sent); `aclose` does that too, and makes the peer's
    `send` raise `anyio.BrokenResourceError`. This end's own calls after `aclose` raise
    `anyio.ClosedResourceError`.
    """

    def __init__(
        self,
        send_stream: MemoryObjectSendStream[bytes],
        receive_stream: MemoryObjectReceiveStream[bytes],
    ) -> None:
        self._send_stream = send_stream
        self._receive_stream = receive_stream
        self._remainder = b""
        self._closed = False
        #: How many `send` calls carried bytes.
        self.writes = 0

    @property
    def closed(self) -> bool:
        return self._closed

    async def receive(self, max_bytes: int = 65536) -> bytes:
        if self._closed:
            raise anyio.ClosedResourceError
        if not self._remainder:
            self._remainder = await self._receive_stream.receive()
        else:
            await anyio.lowlevel.checkpoint()
        data, self._remainder = self._remainder[:max_bytes], self._remainder[max_bytes:]
        return data

    async def send(self, item: bytes) -> None:
        if self._closed:
            raise anyio.ClosedResourceError
        if not item:  # an empty item would read as an empty chunk: nothing to send
            await anyio.lowlevel.checkpoint()
            return
        await self._send_stream.send(bytes(item))
        self.writes += 1

    async def send_eof(self) -> None:
        self._send_stream.close()
        await anyio.lowlevel.checkpoint()

    async def aclose(self) -> None:
        self._closed = True
        self._send_stream.close()
        self._receive_stream.close()
        self._remainder = b""
        await anyio.lowlevel.checkpoint()


def memory_stream_pair(buffer: float = math.inf) -> tuple[MemoryByteStream, MemoryByteStream]:
    """Two connected ends (client, server); `buffer` items may wait unread in each direction."""
    to_server, from_client = anyio.create_memory_object_stream[bytes](buffer)
    to_client, from_server = anyio.create_memory_object_stream[bytes](buffer)
    return MemoryByteStream(to_server, from_server), MemoryByteStream(to_client, from_client)


# -- replies, as the server writes them ----------------------------------------------------------

OK = b"+OK\r\n"


def error(text: str) -> bytes:
    return b"-" + text.encode() + b"\r\n"


def integer(value: int) -> bytes:
    return b":%d\r\n" % value


def bulk(value: bytes | str | None) -> bytes:
    if value is None:
        return b"$-1\r\n"
    data = value.encode() if isinstance(value, str) else value
    return b"$%d\r\n%s\r\n" % (len(data), data)


def array(*items: bytes) -> bytes:
    """An array of already-encoded items."""
    return b"*%d\r\n" % len(items) + b"".join(items)


def push(*items: bytes) -> bytes:
    """A RESP3 push of already-encoded items."""
    return b">%d\r\n" % len(items) + b"".join(items)


HELLO_REPLY = b"%2\r\n" + bulk("server") + bulk("redis") + bulk("proto") + integer(3)


def is_setinfo_version(command: Command) -> bool:
    """The last command of every handshake (``CLIENT SETINFO LIB-VER ...``)."""
    return [word.upper() for word in command[:3]] == [b"CLIENT", b"SETINFO", b"LIB-VER"]


class FakeServer:
    """The server end of one connection: the test reads what the client wrote, and replies."""

    def __init__(self, stream: MemoryByteStream) -> None:
        self.stream = stream
        # Commands are RESP arrays of bulk strings: the reply parser reads them as well.
        self._parser = Parser(backend="python")
        self._commands: list[Command] = []
        #: Every command read so far, in order.
        self.received: list[Command] = []

    def _drain(self) -> list[Command]:
        commands: list[Command] = []
        while (command := self._parser.next_reply()) is not NEED_DATA:
            assert isinstance(command, list), f"not a command: {command!r}"
            commands.append(command)
        self.received.extend(commands)
        return commands

    async def read_write(self) -> list[Command]:
        """The commands of the client's next write (it must hold whole commands)."""
        assert not self._commands, "commands of an earlier write are still unread"
        self._parser.feed(await self.stream.receive(1 << 30))
        commands = self._drain()
        assert commands, "the write held no whole command"
        return commands

    async def read_command(self) -> Command:
        """The next command the client wrote."""
        while not self._commands:
            self._parser.feed(await self.stream.receive())
            self._commands.extend(self._drain())
        return self._commands.pop(0)

    async def read_commands(self, count: int) -> list[Command]:
        return [await self.read_command() for _ in range(count)]

    async def read_handshake(self) -> list[Command]:
        """The commands up to the last one of a handshake (``CLIENT SETINFO LIB-VER``)."""
        commands = [await self.read_command()]
        while not is_setinfo_version(commands[-1]):
            commands.append(await self.read_command())
        return commands

    @staticmethod
    def handshake_replies(commands: list[Command]) -> bytes:
        """Success for each handshake command (a map for HELLO, +OK for the others)."""
        return b"".join(HELLO_REPLY if cmd[0].upper() == b"HELLO" else OK for cmd in commands)

    async def accept_handshake(self) -> list[Command]:
        """Read a handshake and answer it with success; return its commands."""
        commands = await self.read_handshake()
        await self.send(self.handshake_replies(commands))
        return commands

    async def send(self, *replies: bytes) -> None:
        """Write encoded replies, in one write."""
        await self.stream.send(b"".join(replies))

    async def send_in_pieces(self, data: bytes, size: int = 1) -> None:
        """Write `data` a few bytes at a time (the client must reassemble it)."""
        for start in range(0, len(data), size):
            await self.stream.send(data[start : start + size])

    async def wait_closed(self) -> list[Command]:
        """Read until the client closes its end; return the commands read meanwhile."""
        commands, self._commands = self._commands, []
        try:
            while True:
                self._parser.feed(await self.stream.receive())
                commands.extend(self._drain())
        except anyio.EndOfStream:
            return commands

    async def aclose(self) -> None:
        await self.stream.aclose()


class FakeNetwork:
    """A stream factory whose connections the test answers as `FakeServer`s.

    Use as ``async with FakeNetwork() as network``: leaving closes every stream it made.
    """

    def __init__(self) -> None:
        self._ends: list[MemoryByteStream] = []
        self._new_send, self._new_receive = anyio.create_memory_object_stream[FakeServer](math.inf)
        #: Every server end made so far, in order.
        self.servers: list[FakeServer] = []

    async def connect(self) -> anyio.abc.ByteStream:
        """The stream factory: a new connection, whose server end `accept` returns."""
        client, server_end = memory_stream_pair()
        self._ends += [client, server_end]
        server = FakeServer(server_end)
        self.servers.append(server)
        self._new_send.send_nowait(server)
        await anyio.lowlevel.checkpoint()
        return client

    async def accept(self) -> FakeServer:
        """The server end of the next connection the client makes."""
        return await self._new_receive.receive()

    async def aclose(self) -> None:
        for end in self._ends:
            await end.aclose()
        self._new_send.close()
        self._new_receive.close()

    async def __aenter__(self) -> FakeNetwork:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        with anyio.CancelScope(shield=True):
            await self.aclose()
