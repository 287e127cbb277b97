"""A local token issuer for the demo: short-lived tokens enforced by a real server.

Each token is a random secret for a new ACL user (its "oid"); when the token expires the user is
deleted and the server drops every connection still logged in with it, as Azure Cache for Redis
closes connections whose token expired. A client that failed to re-authenticate in time would
see errors.
"""

from __future__ import annotations

import secrets
import time

import anyio

from .._auth import AccessToken, TokenCredentialsProvider, TokenRefreshConfig
from .._credentials import Credentials
from .servers import ServerProcess

__all__ = ["LocalTokenIssuer"]


class LocalTokenIssuer(TokenCredentialsProvider):
    def __init__(self, server: ServerProcess, lifetime: float) -> None:
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
