"""Races between replies, cancellation and dying sockets, through a misbehaving proxy."""

from __future__ import annotations

import anyio
import pytest

from anyredis_auth import Client, RedisConnectionError, RedisTimeoutError
from tests._proxy import FaultProxy
from tests._servers import ServerProcess
from tests._waiting import wait_until

pytestmark = pytest.mark.anyio


async def test_reply_arriving_after_its_caller_left_is_dropped(proxy: FaultProxy) -> None:
    async with Client.from_url(proxy.url) as client:
        con = await client.get_multiplexed_async_connection()
        proxy.delay = 0.2
        with anyio.move_on_after(0.05) as scope:
            await con.execute("ECHO", "abandoned")
        assert scope.cancelled_caught
        # Sent right behind the abandoned command: its reply must not be "abandoned".
        assert await con.execute("ECHO", "mine") == b"mine"
        proxy.delay = 0
        assert [await con.execute("ECHO", str(i)) for i in range(5)] == [
            b"0",
            b"1",
            b"2",
            b"3",
            b"4",
        ]


async def test_socket_closed_mid_reply_fails_every_caller_then_reconnects(
    proxy: FaultProxy, key_prefix: str
) -> None:
    big = b"x" * 300_000
    async with Client.from_url(proxy.url) as client:
        con = await client.get_multiplexed_async_connection()
        await con.execute("SET", key_prefix + "big", big)
        proxy.cut_after = 100_000  # half a reply, then a reset
        failures: list[BaseException] = []

        async def call(*command: str) -> None:
            try:
                await con.execute(*command)
            except RedisConnectionError as exc:
                failures.append(exc)

        with anyio.fail_after(5):
            async with anyio.create_task_group() as group:
                group.start_soon(call, "GET", key_prefix + "big")
                await anyio.sleep(0.01)
                for index in range(10):
                    group.start_soon(call, "ECHO", str(index))
        assert len(failures) == 11
        assert proxy.connections == 1
        assert await con.execute("GET", key_prefix + "big") == big
        assert proxy.connections == 2


async def test_stalled_socket_times_out_without_hanging(proxy: FaultProxy) -> None:
    async with Client.from_url(proxy.url, command_timeout=0.3) as client:
        con = await client.get_multiplexed_async_connection()
        proxy.stalled = True
        with anyio.fail_after(3), pytest.raises(RedisTimeoutError):
            await con.execute("PING")
        proxy.resume()
        assert await con.execute("ECHO", "after the stall") == b"after the stall"


async def test_dropped_connections_under_load_never_misroute(proxy: FaultProxy) -> None:
    wrong: list[tuple[str, object]] = []
    ok = 0
    failed = 0
    async with Client.from_url(proxy.url, reconnect_attempts=10) as client:
        con = await client.get_multiplexed_async_connection()

        async def worker(index: int) -> None:
            nonlocal ok, failed
            for round_ in range(200):
                token = f"{index}-{round_}"
                try:
                    reply = await con.execute("ECHO", token)
                except RedisConnectionError:
                    failed += 1
                    continue
                if reply != token.encode():
                    wrong.append((token, reply))
                ok += 1

        async def chaos() -> None:
            for _ in range(5):
                await anyio.sleep(0.05)
                proxy.drop()

        with anyio.fail_after(30):
            async with anyio.create_task_group() as group:
                group.start_soon(chaos)
                for index in range(50):
                    group.start_soon(worker, index)
    assert wrong == []
    assert ok + failed == 50 * 200
    assert ok > 0


@pytest.mark.parametrize("retry", [False, True])
async def test_resending_after_a_connection_error_is_opt_in(proxy: FaultProxy, retry: bool) -> None:
    outcome: list[object] = []
    async with Client.from_url(proxy.url, retry_on_connection_error=retry) as client:
        con = await client.get_multiplexed_async_connection()

        async def call() -> None:
            try:
                outcome.append(await con.execute("ECHO", "x"))
            except RedisConnectionError as exc:
                outcome.append(exc)

        proxy.stalled = True  # the command reaches the server; its reply is held back
        with anyio.fail_after(5):
            async with anyio.create_task_group() as group:
                group.start_soon(call)
                await anyio.sleep(0.1)
                proxy.drop()
                proxy.resume()
    if retry:
        assert outcome == [b"x"]
    else:
        assert len(outcome) == 1 and isinstance(outcome[0], RedisConnectionError)


async def test_half_open_socket_is_detected_and_replaced(proxy: FaultProxy) -> None:
    options = {"command_timeout": 0.2, "health_check_timeout": 0.3}
    async with Client.from_url(proxy.url, **options) as client:
        con = await client.get_multiplexed_async_connection()
        assert await con.execute("PING") == b"PONG"
        proxy.stalled = True  # the socket stays open but nothing comes back: half-open
        with pytest.raises(RedisTimeoutError):
            await con.execute("ECHO", "lost")
        await wait_until(lambda: not con.is_connected, limit=3)  # the health check gave up
        proxy.resume()
        assert await con.execute("ECHO", "fresh") == b"fresh"
        assert proxy.connections == 2 and con.stats.connects == 2


async def test_a_slow_but_live_server_keeps_its_connection(
    server: ServerProcess, proxy: FaultProxy
) -> None:
    options = {"command_timeout": 0.1, "health_check_timeout": 2.0}
    async with Client.from_url(proxy.url, **options) as client:
        con = await client.get_multiplexed_async_connection()
        server.command("CLIENT", "PAUSE", 400, "ALL")
        with pytest.raises(RedisTimeoutError):
            await con.execute("ECHO", "slow")
        await anyio.sleep(0.8)  # the pause ends; the health check's PING is answered
        assert con.is_connected and con.stats.connects == 1
        assert await con.execute("ECHO", "still here") == b"still here"
