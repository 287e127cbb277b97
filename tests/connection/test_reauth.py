"""Live re-authentication: every connection follows its provider's credentials, in line."""

from __future__ import annotations

import os

import anyio
import pytest

from anyredis_auth import Client, Credentials, StaticCredentialsProvider, TokenRefreshError
from anyredis_auth.testing import ManualCredentialsProvider
from tests._expiring_tokens import Identities
from tests._proxy import FaultProxy
from tests._servers import ServerProcess
from tests._waiting import library_tasks, wait_until

pytestmark = pytest.mark.anyio


async def test_rotation_under_load_fails_no_command(server: ServerProcess, key_prefix: str) -> None:
    identities = Identities(server)
    first = identities.new()
    provider = ManualCredentialsProvider(first)
    wrong: list[object] = []
    errors: list[BaseException] = []
    done = 0
    rotations = int(os.environ.get("ANYREDIS_ROTATIONS", "10"))  # one a second; more for a soak
    async with Client.open_with_credentials_provider(server.url, provider) as client:
        assert provider.runs == 1  # the client runs the provider's refresher in its group
        con = await client.get_multiplexed_async_connection()
        assert await con.execute("ACL", "WHOAMI") == first.username.encode()  # type: ignore[union-attr]
        stop = anyio.Event()

        async def worker(index: int) -> None:
            nonlocal done
            round_ = 0
            while not stop.is_set():
                key, value = f"{key_prefix}{index}", f"{index}:{round_}"
                try:
                    await con.execute("SET", key, value)
                    if await con.execute("GET", key) != value.encode():
                        wrong.append(value)
                except Exception as exc:  # any failure at all fails the test
                    errors.append(exc)
                    return
                done += 2
                round_ += 1

        async def rotate() -> None:
            current = first
            for _ in range(rotations):
                await anyio.sleep(0.5)
                newer = identities.new()
                provider.set_credentials(newer)
                await anyio.sleep(0.5)
                identities.expire(current)  # the server now drops anyone still logged in as it
                current = newer
            stop.set()

        with anyio.fail_after(rotations * 3 + 10):
            async with anyio.create_task_group() as group:
                for index in range(100):
                    group.start_soon(worker, index)
                group.start_soon(rotate)
        newest = f"{identities.prefix}-{rotations}".encode()
        assert await con.execute("ACL", "WHOAMI") == newest
    assert errors == [] and wrong == []
    assert done > 1000
    assert con.stats.reauths == rotations and con.stats.reauth_failures == 0
    assert con.stats.connects == 1  # never reconnected: every AUTH went in line


async def test_no_auth_is_sent_again_right_after_the_handshake(server: ServerProcess) -> None:
    identities = Identities(server)
    provider = ManualCredentialsProvider(identities.new())
    async with Client.open_with_credentials_provider(server.url, provider) as client:
        con = await client.get_multiplexed_async_connection()
        await anyio.sleep(0.1)
        assert con.stats.reauths == 0
        provider.set_credentials(provider.current)  # type: ignore[arg-type]  # same again
        await anyio.sleep(0.1)
        assert con.stats.reauths == 0


async def test_refused_reauth_replaces_the_connection(
    server: ServerProcess, proxy: FaultProxy
) -> None:
    identities = Identities(server)
    provider = ManualCredentialsProvider(identities.new())
    async with Client.open_with_credentials_provider(proxy.url, provider) as client:
        con = await client.get_multiplexed_async_connection()
        assert await con.execute("PING") == b"PONG"
        newer = identities.new()
        proxy.replace_once(b"+OK\r\n", b"-WRONGPASS injected by the test proxy\r\n")
        provider.set_credentials(newer)
        await wait_until(lambda: con.stats.replacements > 0)
        # Not silently left on the old identity: a fresh session logged in as the new one.
        assert await con.execute("ACL", "WHOAMI") == newer.username.encode()  # type: ignore[union-attr]
        assert con.stats.reauth_failures == 1 and "WRONGPASS" in str(con.stats.last_reauth_error)
        assert proxy.connections == 2


async def test_replacement_that_cannot_log_in_drops_the_old_session(server: ServerProcess) -> None:
    identities = Identities(server)
    provider = ManualCredentialsProvider(identities.new())
    async with Client.open_with_credentials_provider(
        server.url, provider, reconnect_attempts=1
    ) as client:
        con = await client.get_multiplexed_async_connection()
        await con.execute("PING")
        unknown = Credentials(f"{identities.prefix}-not-yet", "pw")
        provider.set_credentials(unknown)
        await wait_until(lambda: not con.is_connected)
        server.add_user(unknown.username, "pw")  # type: ignore[arg-type]  # the identity appears
        assert await con.execute("ACL", "WHOAMI") == unknown.username.encode()  # type: ignore[union-attr]


async def test_provider_errors_leave_the_session_working(server: ServerProcess) -> None:
    identities = Identities(server)
    provider = ManualCredentialsProvider(identities.new())
    async with Client.open_with_credentials_provider(server.url, provider) as client:
        con = await client.get_multiplexed_async_connection()
        provider.set_error(TokenRefreshError("the identity provider is down"))
        await anyio.sleep(0.05)
        assert await con.execute("PING") == b"PONG"
        newer = identities.new()
        provider.set_credentials(newer)
        await wait_until(lambda: con.stats.reauths > 0)
        assert await con.execute("ACL", "WHOAMI") == newer.username.encode()  # type: ignore[union-attr]


async def test_new_connections_and_blocking_ones_use_the_newest_credentials(
    server: ServerProcess, key_prefix: str
) -> None:
    identities = Identities(server)
    provider = ManualCredentialsProvider(identities.new())
    async with Client.open_with_credentials_provider(server.url, provider) as client:
        con = await client.get_multiplexed_async_connection()
        await con.execute("BLPOP", key_prefix + "q", 0.01)  # leaves an idle blocking connection
        newer = identities.new()
        provider.set_credentials(newer)
        second = await client.get_multiplexed_async_connection()
        assert await second.execute("ACL", "WHOAMI") == newer.username.encode()  # type: ignore[union-attr]
        await con.execute("RPUSH", key_prefix + "q", "x")
        assert await con.execute("BLPOP", key_prefix + "q", 1) == [
            (key_prefix + "q").encode(),
            b"x",
        ]
        clients = server.command("CLIENT", "LIST")
        assert isinstance(clients, bytes)
        blocking_users = {
            part.split(b"=", 1)[1]
            for line in clients.splitlines()
            for part in line.split()
            if part.startswith(b"user=") and identities.prefix.encode() in part
        }
        assert blocking_users == {newer.username.encode()}  # type: ignore[union-attr]


async def test_shutdown_in_the_middle_of_a_reauth_is_prompt(
    server: ServerProcess, proxy: FaultProxy
) -> None:
    identities = Identities(server)
    provider = ManualCredentialsProvider(identities.new())
    with anyio.fail_after(3):
        async with Client.open_with_credentials_provider(proxy.url, provider) as client:
            con = await client.get_multiplexed_async_connection()
            await con.execute("PING")
            proxy.stalled = True  # the AUTH goes out, its reply never comes back
            provider.set_credentials(identities.new())
            await anyio.sleep(0.1)
            # The re-auth watcher, the link and its writer (and a reader task but on asyncio
            # TCP, where the loop itself reads): what leaving must end.
            assert len(library_tasks()) >= 3
    assert library_tasks() == []


def test_tokens_are_not_sent_in_clear_text_to_remote_hosts() -> None:
    provider = StaticCredentialsProvider("user", "token")
    with pytest.raises(ValueError, match="clear text") as caught:
        Client.open_with_credentials_provider("redis://cache.example.net:6380", provider)
    assert "token" not in str(caught.value).replace("tokens", "")
    for url in ("rediss://cache.example.net:6380", "redis://127.0.0.1", "redis://[::1]:6379",
                "redis://localhost", "unix:///tmp/x.sock"):  # fmt: skip
        Client.open_with_credentials_provider(url, provider)
    Client.open_with_credentials_provider(
        "redis://cache.example.net", provider, allow_insecure_transport=True
    )
