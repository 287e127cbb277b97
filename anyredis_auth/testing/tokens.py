"""Short-lived tokens enforced by a real server, offline: `LocalTokenIssuer`.

`LocalTokenIssuer` is a credentials provider (a `TokenCredentialsProvider`, like the Entra ID
one) whose tokens live for as long as you say: seconds rather than an hour. Each token is a
random secret for a new ACL user (its "oid") on a local server of `anyredis_auth.testing.servers`;
while `LocalTokenIssuer.enforce_expiry` runs, each token's user is deleted when the token expires
and the server drops every connection still logged in with it, as Azure Cache for Redis closes
connections whose token expired. Code that failed to re-authenticate in time sees errors.

So a test of your own can check, in seconds and without a cloud account, that your service
keeps working across many token rotations: give the issuer to the `Client`, run your code for a
few lifetimes, and look at `LocalTokenIssuer.expired` (users deleted) and your own results::

    import anyio
    from anyredis_auth import Client
    from anyredis_auth.testing.tokens import LocalTokenIssuer

    async def test_counter_survives_rotations(redis_server):  # a ServerProcess fixture
        issuer = LocalTokenIssuer(redis_server, lifetime=2.0)  # refreshed 2/3 of the way
        async with anyio.create_task_group() as tasks:
            tasks.start_soon(issuer.enforce_expiry)
            async with Client.open_with_credentials_provider(redis_server.url, issuer) as client:
                con = await client.get_multiplexed_async_connection()
                for _ in range(50):  # 5 s: two or three rotations
                    await con.incr("n")
                    await anyio.sleep(0.1)
            tasks.cancel_scope.cancel()
        assert issuer.expired >= 2  # users were deleted under the running client
"""

from __future__ import annotations

import secrets
import time
from typing import Protocol

import anyio

from .._auth import AccessToken, TokenCredentialsProvider, TokenRefreshConfig
from .._credentials import Credentials

__all__ = ["LocalTokenIssuer", "UserStore"]


class UserStore(Protocol):
    """Where token users are made and deleted: a `ServerProcess`, or a `LocalCluster` (then on
    every node, as Azure's ACL users are)."""

    def add_user(self, username: str, password: str, *rules: str) -> None:
        """Create ACL user `username` with `password` (and `rules`)."""
        ...

    def delete_user(self, username: str) -> None:
        """Delete ACL user `username`: the server drops its connections."""
        ...


class LocalTokenIssuer(TokenCredentialsProvider):
    """A `TokenCredentialsProvider` whose tokens are ACL users of `server` living `lifetime` s.

    Each token is fetched (the user created) a third of its lifetime before the previous one
    expires, and no more often than once a second (or a quarter of the lifetime). Run
    `enforce_expiry` beside the client to delete each token's user when it expires; `expired`
    counts them. `close` does nothing: the server belongs to the caller.
    """

    def __init__(self, server: UserStore, lifetime: float) -> None:
        super().__init__(
            TokenRefreshConfig(
                refresh_before_expiry=lifetime / 3,
                min_refresh_interval=min(1.0, lifetime / 4),
            )
        )
        self._server = server
        self._lifetime = lifetime
        self._users: dict[str, tuple[str, float]] = {}  # token -> (oid, expires_on)
        self.expired = 0

    @property
    def provider(self) -> LocalTokenIssuer:
        """The issuer itself (it is its own credentials provider)."""
        return self

    def close(self) -> None:
        """Nothing to release: the server it uses belongs to the caller."""

    async def _fetch_token(self) -> AccessToken:
        oid = f"demo-oid-{secrets.token_hex(4)}"
        token = secrets.token_urlsafe(32)
        await anyio.to_thread.run_sync(self._server.add_user, oid, token)
        expires_on = time.time() + self._lifetime
        self._users[token] = (oid, expires_on)
        return AccessToken(token=token, expires_on=expires_on, refresh_on=None)

    def _credentials_for(self, token: AccessToken) -> Credentials:
        return Credentials(self._users[token.token][0], token.token)

    def describe(self, credentials: Credentials) -> str:
        """The identity and expiry of `credentials` (never the token)."""
        for oid, expires_on in self._users.values():
            if oid == credentials.username:
                return f"oid {oid} expires in {max(0.0, expires_on - time.time()):4.1f}s"
        return "no token yet"

    async def enforce_expiry(self) -> None:
        """Delete each token's user when it expires (runs until cancelled)."""
        while True:
            now = time.time()
            for token, (oid, expires_on) in list(self._users.items()):
                if expires_on <= now:
                    del self._users[token]
                    await anyio.to_thread.run_sync(self._server.delete_user, oid)
                    self.expired += 1
            await anyio.sleep(0.05)
