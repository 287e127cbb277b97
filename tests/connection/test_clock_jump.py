"""A wall-clock jump past the token's expiry, against a real server.

The refresher sleeps on the monotonic clock, so by itself it would notice the jump only at its
next periodic look at the wall clock. A new connection must not wait for that: it asks the
provider for credentials, the provider sees the cached token expired and fetches a fresh one.
Each token is its own ACL user, so ``ACL WHOAMI`` tells which token a connection logged in with.
"""

from __future__ import annotations

import secrets
import time

import anyio
import pytest

from anyredis_auth import (
    AccessToken,
    Client,
    Credentials,
    RetryConfig,
    TokenCredentialsProvider,
    TokenRefreshConfig,
)
from tests._servers import ServerProcess

pytestmark = pytest.mark.anyio

LIFETIME = 30.0  # long enough that no refresh falls due by itself during the test


class JumpingClockTokens(TokenCredentialsProvider):
    """Tokens of LIFETIME seconds on a wall clock the test advances (``offset``)."""

    def __init__(self, server: ServerProcess) -> None:
        self.offset = 0.0
        super().__init__(
            TokenRefreshConfig(
                refresh_before_expiry=5.0,
                min_refresh_interval=1.0,
                request_timeout=2.0,
                retry_config=RetryConfig(initial_delay=0.05, max_delay=0.2),
                refresh_jitter=0.0,
            ),
            clock=self.now,
        )
        self.server = server
        self.prefix = f"jump-{secrets.token_hex(3)}"
        self.issued: list[str] = []  # usernames, one per token
        self.users: dict[str, str] = {}  # token -> its user

    def now(self) -> float:
        return time.time() + self.offset

    async def _fetch_token(self) -> AccessToken:
        await anyio.sleep(0.01)
        username = f"{self.prefix}-{len(self.issued)}"
        token = secrets.token_urlsafe(24)
        self.server.add_user(username, token)
        self.issued.append(username)
        self.users[token] = username
        return AccessToken(token=token, expires_on=self.now() + LIFETIME)

    def _credentials_for(self, token: AccessToken) -> Credentials:
        return Credentials(self.users[token.token], token.token)


async def test_new_connection_after_a_clock_jump_logs_in_with_a_fresh_token(
    server: ServerProcess,
) -> None:
    provider = JumpingClockTokens(server)
    async with Client.open_with_credentials_provider(server.url, provider) as client:
        first = await client.get_multiplexed_async_connection()
        assert await first.execute("ACL", "WHOAMI") == provider.issued[0].encode()
        await anyio.sleep(0.1)  # the refresher is asleep until the next scheduled refresh
        provider.offset = LIFETIME + 15.0  # the wall clock jumps past the token's expiry
        started = time.monotonic()
        with anyio.fail_after(5):
            second = await client.get_multiplexed_async_connection()
        assert time.monotonic() - started < 5
        assert await second.execute("ACL", "WHOAMI") == provider.issued[1].encode()
        assert len(provider.issued) == 2  # one fresh token, shared
        # The first connection follows the fresh token too (re-authenticated in band).
        with anyio.fail_after(5):
            while await first.execute("ACL", "WHOAMI") != provider.issued[1].encode():  # noqa: ASYNC110
                await anyio.sleep(0.02)  # polling the server
        assert first.stats.reauths == 1
