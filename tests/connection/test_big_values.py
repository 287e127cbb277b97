"""Big values both ways: written without being joined into one buffer, read back whole.

A 64 MiB value goes out as its own buffer (`Pieces`), on asyncio and trio, with either parser,
alone and next to small commands from other tasks whose replies must not shift.
"""

from __future__ import annotations

import anyio
import anyio.lowlevel
import pytest

from anyredis_auth import Client
from anyredis_auth._connection._link import Link
from anyredis_auth.protocol import encode_command
from anyredis_auth.protocol._encoder import BIG_PAYLOAD, Pieces, concat, encode_pieces
from tests._servers import ServerProcess

pytestmark = pytest.mark.anyio

BIG = 64 * 1024 * 1024


def _value(size: int) -> bytes:
    # Not one repeated byte: a shifted or truncated copy would still compare equal.
    block = bytes(range(256)) * 4096  # 1 MiB
    return (block * (size // len(block) + 1))[:size]


def test_small_commands_stay_bytes() -> None:
    assert encode_pieces("GET", "k") == encode_command("GET", "k")
    assert type(encode_pieces("SET", "k", b"v" * (BIG_PAYLOAD - 1))) is bytes


@pytest.mark.parametrize("size", [BIG_PAYLOAD, BIG_PAYLOAD + 1, 3 * BIG_PAYLOAD])
def test_a_big_payload_is_its_own_piece(size: int) -> None:
    value = _value(size)
    pieces = encode_pieces("SET", "k", value, "EX", 10)
    assert isinstance(pieces, Pieces)
    assert any(piece is value for piece in pieces)  # the caller's buffer itself: no copy
    assert pieces.tobytes() == encode_command("SET", "k", value, "EX", 10)
    assert pieces.nbytes == len(pieces.tobytes())
    both = concat(encode_command("PING"), pieces)
    assert isinstance(both, Pieces)
    assert both.tobytes() == encode_command("PING") + pieces.tobytes()


@pytest.mark.parametrize("parser", ["hiredis", "python"])
async def test_64_mib_both_ways(server: ServerProcess, key_prefix: str, parser: str) -> None:
    value = _value(BIG)
    key = key_prefix + "big"
    async with Client.from_url(server.url, parser=parser) as client:
        con = await client.get_multiplexed_async_connection()
        small: dict[str, list[object]] = {"a": [], "b": []}

        async def chatter(name: str) -> None:
            for n in range(50):
                small[name].append(await con.execute("ECHO", f"{name}-{n}"))

        with anyio.fail_after(120):
            async with anyio.create_task_group() as group:
                group.start_soon(chatter, "a")
                assert await con.execute("SET", key, value) == b"OK"
                group.start_soon(chatter, "b")
                assert await con.execute("STRLEN", key) == BIG
                got = await con.execute("GET", key)
            assert got == value
            for name, replies in small.items():  # each caller got its own replies, in order
                assert replies == [f"{name}-{n}".encode() for n in range(50)]
            pipe = con.pipeline()
            pipe.execute_command("SET", key, value[: BIG // 2])
            pipe.execute_command("GET", key)
            pipe.execute_command("ECHO", "after")
            assert await pipe.execute() == [b"OK", value[: BIG // 2], b"after"]
        await con.execute("DEL", key)


async def test_a_big_reply_is_read_in_turns_with_other_tasks(
    server: ServerProcess, key_prefix: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The reader yields after each chunk (or reads in the loop's own callback): a task that is
    # always ready keeps getting turns while a 64 MiB reply is read.
    ticks = 0
    at_chunk: list[int] = []  # the ticker's count when each chunk was read
    take_chunk = Link._take_chunk

    def counting(link: Link, data: bytes) -> None:
        at_chunk.append(ticks)
        take_chunk(link, data)

    monkeypatch.setattr(Link, "_take_chunk", counting)
    value = _value(BIG)
    key = key_prefix + "turns"
    async with Client.from_url(server.url) as client:
        con = await client.get_multiplexed_async_connection()
        assert await con.execute("SET", key, value) == b"OK"
        reading = True

        async def ticker() -> None:
            nonlocal ticks
            while reading:
                ticks += 1
                await anyio.lowlevel.checkpoint()

        with anyio.fail_after(120):
            async with anyio.create_task_group() as group:
                group.start_soon(ticker)
                first = len(at_chunk)
                got = await con.execute("GET", key)
                chunks = at_chunk[first:]
                reading = False
        assert got == value
        await con.execute("DEL", key)
    assert len(chunks) >= 64  # 64 MiB in chunks of at most 256 KiB
    # Between any chunk and the one after next the ticker ran (trio runs each batch of ready
    # tasks in either order, so between two neighbours it may not have).
    starved = [i for i in range(len(chunks) - 2) if chunks[i + 2] == chunks[i]]
    assert starved == []
