"""A token provider whose tokens expire on the server as Azure's do (pub/sub and blocking tests).

Each token is a new ACL user, deleted when the token expires: the server then drops every
connection still logged in with it, so a connection that missed its re-authentication fails the
test. Run `expire_tokens` alongside; `outage` makes token requests fail.
"""

from __future__ import annotations

import secrets
import time

import anyio

from anyredis_auth import (
    AccessToken,
    Credentials,
    RetryConfig,
    TokenCredentialsProvider,
    TokenRefreshConfig,
)
from tests._servers import ServerProcess

__all__ = ["ExpiringTokens", "Identities"]


class ExpiringTokens(TokenCredentialsProvider):
    def __init__(
        self, server: ServerProcess, lifetime: float, refresh_before_expiry: float
    ) -> None:
        super().__init__(
            TokenRefreshConfig(
                refresh_before_expiry=refresh_before_expiry,
                min_refresh_interval=0.1,
                request_timeout=2.0,
                retry_config=RetryConfig(initial_delay=0.05, max_delay=0.2),
            )
        )
        self.server = server
        self.lifetime = lifetime
        self.prefix = f"tok-{secrets.token_hex(3)}"
        self.issued: list[tuple[str, float]] = []  # (username, expires_on)
        self.deleted: set[str] = set()
        self.users: dict[str, str] = {}  # token -> its user
        self.outage = False  # True: the identity provider is down

    async def _fetch_token(self) -> AccessToken:
        await anyio.sleep(0.01)
        if self.outage:
            raise ConnectionError("identity provider unreachable")
        username = f"{self.prefix}-{len(self.issued)}"
        token = secrets.token_urlsafe(24)
        self.server.add_user(username, token)
        expires = time.time() + self.lifetime
        self.issued.append((username, expires))
        self.users[token] = username
        return AccessToken(token=token, expires_on=expires, refresh_on=None)

    def _credentials_for(self, token: AccessToken) -> Credentials:
        return Credentials(self.users[token.token], token.token)

    async def expire_tokens(self) -> None:
        """Delete each token's user when it expires (the server-side expiry rule)."""
        while True:
            now = time.time()
            for username, expires in list(self.issued):
                if expires <= now and username not in self.deleted:
                    self.server.delete_user(username)
                    self.deleted.add(username)
            await anyio.sleep(0.02)


class Identities:
    """ACL users that come and go, as Azure's token identities do."""

    def __init__(self, server: ServerProcess) -> None:
        self.server = server
        self.prefix = f"id-{secrets.token_hex(3)}"
        self.count = 0

    def new(self) -> Credentials:
        username = f"{self.prefix}-{self.count}"
        password = secrets.token_urlsafe(16)
        self.count += 1
        self.server.add_user(username, password)
        return Credentials(username, password)

    def expire(self, credentials: Credentials) -> None:
        """Azure closes connections whose token expired: deleting the user does the same here."""
        assert credentials.username is not None
        self.server.delete_user(credentials.username)
