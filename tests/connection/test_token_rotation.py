"""The real refresher, run by the client, against a real server that enforces expiry.

Each token is a new ACL user whose password is the token; when a token expires its user is
deleted, and the server then drops every connection still logged in with it (what Azure does).
"""

from __future__ import annotations

import logging

import anyio
import pytest

from anyredis_auth import (
    AccessToken,
    Client,
)
from tests._expiring_tokens import ExpiringTokens
from tests._servers import ServerProcess

pytestmark = pytest.mark.anyio

LIFETIME = 1.6


def short_lived_tokens(server: ServerProcess) -> ExpiringTokens:
    """Tokens of LIFETIME seconds, each its own ACL user (deleted by `expire_tokens`)."""
    return ExpiringTokens(server, LIFETIME, refresh_before_expiry=0.6)


async def test_connections_outlive_many_token_lifetimes(
    server: ServerProcess, key_prefix: str
) -> None:
    provider = short_lived_tokens(server)
    errors: list[BaseException] = []
    ops = 0
    async with anyio.create_task_group() as rig:
        rig.start_soon(provider.expire_tokens)
        async with Client.open_with_credentials_provider(server.url, provider) as client:
            con = await client.get_multiplexed_async_connection()
            blocking_rounds = 0

            async def worker(index: int) -> None:
                nonlocal ops
                with anyio.move_on_after(LIFETIME * 4):
                    while True:
                        try:
                            await con.execute("SET", f"{key_prefix}{index}", index)
                            assert (
                                await con.execute("GET", f"{key_prefix}{index}")
                                == str(index).encode()
                            )
                            ops += 2
                        except Exception as exc:
                            errors.append(exc)
                            return

            async def blocking() -> None:
                nonlocal blocking_rounds
                with anyio.move_on_after(LIFETIME * 4):
                    while True:  # short blocks on dedicated connections, across rotations
                        try:
                            await con.execute("BLPOP", key_prefix + "q", 0.1)
                            blocking_rounds += 1
                        except Exception as exc:
                            errors.append(exc)
                            return

            async with anyio.create_task_group() as group:
                for index in range(50):
                    group.start_soon(worker, index)
                group.start_soon(blocking)
            whoami = await con.execute("ACL", "WHOAMI")
        rig.cancel_scope.cancel()
    assert errors == []
    assert len(provider.issued) >= 4  # several lifetimes went by
    assert whoami == provider.issued[-1][0].encode()
    assert con.stats.connects == 1 and con.stats.reauths == len(provider.issued) - 1
    assert ops > 1000 and blocking_rounds > 5


async def test_identity_provider_outage_then_recovery(server: ServerProcess) -> None:
    provider = short_lived_tokens(server)
    async with Client.open_with_credentials_provider(server.url, provider) as client:
        con = await client.get_multiplexed_async_connection()
        provider.outage = True
        failed_before = provider.stats.failures
        await anyio.sleep(LIFETIME * 0.85)  # past the refresh time, before the expiry
        assert await con.execute("PING") == b"PONG"  # the current token is still valid
        assert provider.stats.failures > failed_before
        provider.outage = False
        with anyio.fail_after(5):
            while con.stats.reauths == 0:  # noqa: ASYNC110 - library state, polled
                await anyio.sleep(0.05)
        assert await con.execute("ACL", "WHOAMI") == provider.issued[-1][0].encode()


async def test_leaving_the_client_stops_a_refresh_in_flight(server: ServerProcess) -> None:
    class HangingTokens(ExpiringTokens):
        hang = False

        async def _fetch_token(self) -> AccessToken:
            if self.hang:
                await anyio.sleep_forever()
            return await super()._fetch_token()

    provider = HangingTokens(server, LIFETIME, refresh_before_expiry=0.6)
    with anyio.fail_after(3):
        async with Client.open_with_credentials_provider(server.url, provider) as client:
            con = await client.get_multiplexed_async_connection()
            provider.hang = True
            await anyio.sleep(LIFETIME)  # a refresh is now hanging in the identity provider
            assert await con.execute("PING") == b"PONG"
    assert [task.name for task in anyio.get_running_tasks() if "anyredis_auth" in task.name] == []


async def test_no_token_reaches_logs_reprs_or_stats(
    server: ServerProcess, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="anyredis_auth")
    provider = short_lived_tokens(server)
    texts: list[str] = []
    async with Client.open_with_credentials_provider(server.url, provider) as client:
        con = await client.get_multiplexed_async_connection()
        await anyio.sleep(LIFETIME * 1.5)  # a couple of refreshes and re-auths
        provider.outage = True
        await anyio.sleep(LIFETIME * 0.5)  # and some failures
        credentials = await provider.current_credentials()
        texts += [repr(provider), str(provider.stats), repr(con.stats), repr(credentials),
                  str(credentials), repr(client), repr(con.options)]  # fmt: skip
    assert con.stats.reauths >= 1 and provider.stats.failures >= 1
    texts += [record.getMessage() for record in caplog.records]
    texts.append(caplog.text)
    assert any("re-authenticated" in text for text in texts)  # the logs are really captured
    tokens = list(provider.users)
    assert len(tokens) >= 2
    leaks = [token for token in tokens for text in texts if token in text]
    assert leaks == []
