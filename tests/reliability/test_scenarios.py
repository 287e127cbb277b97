"""Reliability scenarios behind the Azure-like front: tokens that really expire, faults, outages."""

from __future__ import annotations

import anyio
import pytest

from anyredis_auth import (
    Client,
    ProtocolError,
    RedisConnectionError,
    RedisError,
    RedisTimeoutError,
    TokenRefreshError,
)
from tests._azure_front import AzureFront
from tests._servers import ServerProcess
from tests._tokens import MintedTokenProvider, TokenMint
from tests._waiting import wait_until
from tests.reliability.conftest import SCALE, report

pytestmark = pytest.mark.anyio

LIFETIME = 1.5


def trust(front: AzureFront) -> dict[str, object]:
    """Client options that trust the front's test certificate when it speaks TLS."""
    return {"tls_ca_file": front.ca_file} if front.tls is not None else {}


async def test_soak_many_tasks_through_token_expiry(
    any_front: AzureFront, mint: TokenMint, key_prefix: str
) -> None:
    """Hundreds of tasks, tokens living 1.5 s: no failed command, no connection closed."""
    provider = MintedTokenProvider(mint, LIFETIME)
    tasks, seconds = 300, 4 * SCALE
    ops = 0
    failures: list[BaseException] = []
    wrong: list[object] = []
    async with Client.open_with_credentials_provider(
        any_front.url, provider, **trust(any_front)
    ) as client:
        con = await client.get_multiplexed_async_connection()

        async def worker(index: int) -> None:
            nonlocal ops
            round_ = 0
            with anyio.move_on_after(seconds):
                while True:
                    key, value = f"{key_prefix}{index}", f"{index}:{round_}"
                    try:
                        await con.execute("SET", key, value)
                        if await con.execute("GET", key) != value.encode():
                            wrong.append(value)
                    except RedisError as exc:
                        failures.append(exc)
                        return
                    ops += 2
                    round_ += 1

        async with anyio.create_task_group() as group:
            for index in range(tasks):
                group.start_soon(worker, index)
    rotations = provider.stats.refreshes - 1
    report("soak", tasks=tasks, seconds=seconds, operations=ops, rotations=rotations,
           reauths=con.stats.reauths, closed_for_expiry=any_front.closed_for_expiry,
           errors=len(failures) + len(wrong))  # fmt: skip
    assert failures == [] and wrong == []
    assert any_front.closed_for_expiry == 0 and any_front.refused == 0
    assert rotations >= 2 and con.stats.reauths == rotations and con.stats.connects == 1
    assert ops > 10_000


async def test_identity_provider_outage_then_recovery(front: AzureFront, mint: TokenMint) -> None:
    """An outage longer than the retry window: commands work while the token is valid, errors
    reach subscribers, and after the token expired the client recovers by itself."""
    provider = MintedTokenProvider(mint, LIFETIME)
    async with Client.open_with_credentials_provider(front.url, provider, **trust(front)) as client:
        con = await client.get_multiplexed_async_connection()
        subscription = provider.subscribe()
        assert not isinstance(await subscription.receive(), TokenRefreshError)  # the current one
        provider.outage = True
        # Within the lifetime of the current token: commands keep working.
        with anyio.move_on_after(LIFETIME * 0.6):
            while True:
                assert await con.execute("PING") == b"PONG"
                await anyio.sleep(0.02)
        with anyio.fail_after(5):
            error = await subscription.receive()
        assert isinstance(error, TokenRefreshError)
        assert "unreachable" in str(error)
        # Past the token's expiry the front closes the connection; commands fail typed.
        await anyio.sleep(LIFETIME)
        with pytest.raises((RedisConnectionError, TokenRefreshError)):
            await con.execute("PING")
        assert front.closed_for_expiry == 1
        provider.outage = False  # the identity provider is back: no restart needed
        with anyio.fail_after(5):
            while True:
                try:
                    assert await con.execute("PING") == b"PONG"
                    break
                except (RedisConnectionError, TokenRefreshError):
                    await anyio.sleep(0.05)
        subscription.close()
    report("identity provider outage", outage_seconds=LIFETIME * 1.6,
           failures=provider.stats.failures, recovered=True)  # fmt: skip


@pytest.mark.parametrize(
    ("name", "garbage"),
    [
        ("malformed", b"?what\r\n"),
        ("oversized bulk", b"$99999999999\r\n"),
        ("deep nesting", b"*1\r\n" * 5000),
        ("unsolicited reply", b"+OK\r\n+OK\r\n"),
    ],
)
async def test_hostile_replies_drop_only_that_connection(
    front: AzureFront, mint: TokenMint, name: str, garbage: bytes
) -> None:
    provider = MintedTokenProvider(mint, 30.0)
    async with Client.open_with_credentials_provider(front.url, provider, **trust(front)) as client:
        victim = await client.get_multiplexed_async_connection()
        bystander = await client.get_multiplexed_async_connection()
        front.corrupt_next = garbage
        if name == "unsolicited reply":
            # The first "+OK" answers the PING (a server may lie); the second has no caller:
            # the connection is dropped rather than handing it to the next command.
            assert await victim.execute("PING") == b"OK"
        else:
            with anyio.fail_after(5), pytest.raises((ProtocolError, RedisConnectionError)):
                await victim.execute("PING")
        await wait_until(lambda: not victim.is_connected)
        assert await bystander.execute("ECHO", "unaffected") == b"unaffected"
        assert await victim.execute("ECHO", "reconnected") == b"reconnected"
    report("hostile reply", kind=name, dropped_connections=1, other_connections_affected=0)


async def test_memory_stays_flat_over_commands_and_rotations(
    front: AzureFront, mint: TokenMint, key_prefix: str
) -> None:
    import gc
    import tracemalloc

    # 2 s tokens: refreshed about every second, with a second of margin before the front
    # closes a session whose token expired (0.8 s tokens left too little on a loaded machine).
    provider = MintedTokenProvider(mint, 2.0)

    async def burst(con: object, seconds: float) -> int:
        count = 0
        with anyio.move_on_after(seconds):
            async with anyio.create_task_group() as group:

                async def worker(index: int) -> None:
                    nonlocal count
                    while True:
                        await con.execute("SET", f"{key_prefix}{index}", count)  # type: ignore[attr-defined]
                        count += 1

                for index in range(50):
                    group.start_soon(worker, index)
        return count

    async with Client.open_with_credentials_provider(front.url, provider, **trust(front)) as client:
        con = await client.get_multiplexed_async_connection()
        await burst(con, 1.0)  # warm up caches and buffers
        gc.collect()
        tracemalloc.start()
        before = tracemalloc.take_snapshot()
        operations = await burst(con, 3.0 * SCALE)
        gc.collect()
        after = tracemalloc.take_snapshot()
        tracemalloc.stop()
    # Only what the library's own code allocated: the test's token registry grows by design.
    library = [tracemalloc.Filter(True, "*/anyredis_auth/*")]
    growth = sum(
        stat.size_diff
        for stat in after.filter_traces(library).compare_to(
            before.filter_traces(library), "filename"
        )
    )
    report("memory", operations=operations, rotations=provider.stats.refreshes - 1,
           growth_bytes=growth)  # fmt: skip
    assert provider.stats.refreshes >= 2
    # 50 commands in flight when a snapshot is taken hold a reply slot each: a few KiB.
    assert growth < 64 * 1024, f"grew by {growth} bytes over {operations} commands"


async def test_server_restart_and_drops_under_load(
    own_server: ServerProcess, own_front: AzureFront, mint: TokenMint
) -> None:
    """Every in-flight caller gets a typed error within the timeout, none hangs, the client
    reconnects with the current token, and no reply is ever misrouted."""
    provider = MintedTokenProvider(mint, 3.0)
    ok = failed = 0
    wrong: list[object] = []
    other: list[BaseException] = []
    faults = 0
    options = {"command_timeout": 2.0, "reconnect_attempts": 50, "reconnect_max_delay": 0.2}
    async with Client.open_with_credentials_provider(own_front.url, provider, **options) as client:
        con = await client.get_multiplexed_async_connection()

        async def worker(index: int) -> None:
            nonlocal ok, failed
            with anyio.move_on_after(3 * SCALE):
                round_ = 0
                while True:
                    token = f"{index}:{round_}"
                    round_ += 1
                    try:
                        reply = await con.execute("ECHO", token)
                    except (RedisConnectionError, RedisTimeoutError):
                        failed += 1
                        await anyio.sleep(0.01)
                        continue
                    except RedisError as exc:
                        other.append(exc)
                        return
                    ok += 1
                    if reply != token.encode():
                        wrong.append(reply)

        async def chaos() -> None:
            nonlocal faults
            for round_ in range(int(4 * SCALE)):
                await anyio.sleep(0.3)
                if round_ % 2:
                    own_front.drop()  # every connection dies at once
                else:
                    await anyio.to_thread.run_sync(own_server.restart)
                faults += 1

        with anyio.fail_after(30 * SCALE):
            async with anyio.create_task_group() as group:
                group.start_soon(chaos)
                for index in range(100):
                    group.start_soon(worker, index)
        assert await con.execute("ECHO", "after") == b"after"
    report("server restarts and drops under load", faults=faults, operations=ok,
           typed_failures=failed, wrong_replies=len(wrong), other_errors=len(other))  # fmt: skip
    assert wrong == [] and other == []
    assert ok > 1000 and failed > 0 and faults >= 4
