"""How a shared link moves bytes, on asyncio and trio against real servers.

Reading: on asyncio over plain TCP the loop itself, in the link's protocol callback (no reader
task); on trio, TLS and Unix sockets a reader task. Both must deliver the same replies in the
same order, including bytes read before the link took the stream over.

Writing: many concurrent callers send the queue themselves once it is long (`_send_early`),
ahead of the writer; whatever the kernel does not take must still leave in order.
"""

from __future__ import annotations

import anyio
import pytest

from anyredis_auth import Client, RedisConnectionError
from anyredis_auth._connection import _link
from anyredis_auth._connection._link import Link
from anyredis_auth.protocol import Parser, encode_command
from tests._servers import ServerProcess, TLSFiles
from tests._waiting import library_tasks, wait_until

pytestmark = pytest.mark.anyio


def _url(server: ServerProcess, transport: str) -> str:
    if transport == "unix":
        return f"unix://{server.unix_path}"
    if transport == "tls":
        if server.tls_port is None:
            pytest.skip(f"this {server.kind}-server is built without TLS")
        return f"rediss://127.0.0.1:{server.tls_port}"
    return f"redis://{server.host}:{server.port}"


@pytest.mark.parametrize("transport", ["tcp", "unix", "tls"])
async def test_each_reader_delivers_concurrent_replies_in_order(
    server: ServerProcess, tls_files: TLSFiles, anyio_backend_name: str, transport: str
) -> None:
    url = _url(server, transport)
    async with Client.from_url(url, tls_ca_file=str(tls_files.ca_file)) as client:
        con = await client.get_multiplexed_async_connection()
        assert await con.execute("ECHO", b"x") == b"x"
        readers = [name for name in library_tasks() if name.endswith("Link._read_loop")]
        in_the_loop = anyio_backend_name == "asyncio" and transport == "tcp"
        assert len(readers) == (0 if in_the_loop else 1)
        # The same replies in order whoever reads: 500 concurrent callers, big and small.
        results: dict[int, object] = {}

        async def echo(index: int) -> None:
            results[index] = await con.execute("ECHO", str(index) * (index % 7) ** 4)

        async with anyio.create_task_group() as group:
            for index in range(500):
                group.start_soon(echo, index)
        assert results == {index: (str(index) * (index % 7) ** 4).encode() for index in range(500)}


async def test_replies_read_before_the_link_took_the_stream_come_first(
    server: ServerProcess, anyio_backend_name: str
) -> None:
    stream = await anyio.connect_tcp(server.host, server.port)
    await stream.send(encode_command("ECHO", b"early"))
    if anyio_backend_name == "asyncio":
        # Let anyio's own protocol read the reply, as a receive in progress would have.
        transport = stream._transport  # type: ignore[attr-defined]
        queued = transport.get_protocol().read_queue
        transport.resume_reading()
        await wait_until(lambda: bool(queued), limit=10)
        transport.pause_reading()
    link = Link(stream, Parser(), f"{server.host}:{server.port}")
    early = link.submit(b"")  # the slot of the command sent above
    async with anyio.create_task_group() as group:
        await group.start(link.run)
        with anyio.fail_after(10):
            assert await early.wait() == b"early"
            assert await link.call(encode_command("ECHO", b"later")) == b"later"
        link.close()
    with pytest.raises(RedisConnectionError):
        link.submit(encode_command("PING"))


async def test_early_sends_that_fill_the_socket_keep_every_command_in_order(
    server: ServerProcess, key_prefix: str
) -> None:
    # 300 callers each SET a value just under the size sent unjoined: the queue reaches the
    # early-send length with megabytes in it, more than the kernel takes at once.
    size = _link.BIG_PAYLOAD - 1024
    keys = [f"{key_prefix}early:{index}" for index in range(300)]
    async with Client.from_url(f"redis://{server.host}:{server.port}") as client:
        con = await client.get_multiplexed_async_connection()

        async def put(index: int) -> None:
            value = bytes([index % 251]) * size
            assert await con.execute("SET", keys[index], value) == b"OK"

        with anyio.fail_after(60):
            async with anyio.create_task_group() as group:
                for index in range(300):
                    group.start_soon(put, index)
            lengths = await con.execute("EVAL", _SUMMARY, len(keys), *keys)
            assert await con.execute("DEL", *keys) == 300
        assert lengths == [[size, index % 251] for index in range(300)]


#: Each key's value length and first byte, in key order (one reply instead of 300 values).
_SUMMARY = """
local out = {}
for i, key in ipairs(KEYS) do
  local v = redis.call('GET', key)
  out[i] = {string.len(v), string.byte(v, 1)}
end
return out
"""
