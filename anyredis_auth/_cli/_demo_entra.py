"""The demo's Entra ID mode: azure-identity's client-secret flow against the offline rig.

The rig (a local HTTPS authority) issues real JWTs for one app; each new token becomes a
password of the ACL user named by its `oid`, and is revoked from it when it expires, so a
connection that tried to log in again with an expired token would be refused. Needs the test
tools of the `dev` extra (trustme) besides the `entra` extra.
"""

from __future__ import annotations

import secrets
import time
from typing import Protocol

import anyio

from .._auth import TokenRefreshConfig
from .._credentials import Credentials
from .._entra import EntraIdCredentialsProvider, jwt_claims

__all__ = ["EntraRigIdentity"]


class PasswordStore(Protocol):
    """Where an oid's token passwords are added and revoked: one server, or every node of a
    local cluster (ACL users are per node there, as on Azure)."""

    def add_user_password(self, username: str, password: str) -> None: ...
    def remove_user_password(self, username: str, password: str) -> None: ...


class EntraRigIdentity:
    def __init__(self, server: PasswordStore, lifetime: float) -> None:
        try:
            from ..testing.entra import IdentityRig
        except ImportError as exc:  # trustme is a test tool
            raise RuntimeError(
                "the Entra ID demo needs the dev tools: pip install 'anyredis-auth[dev]'"
            ) from exc
        self._server = server
        self._tokens: dict[str, tuple[str, float]] = {}  # token -> (oid, expires)
        self.expired = 0
        self.rig = IdentityRig(token_lifetime=lifetime).start()
        secret = secrets.token_urlsafe(24)
        app = self.rig.add_app(secret=secret)
        self.rig.on_issue.append(self._on_issue)
        self.provider = EntraIdCredentialsProvider.new_client_secret(
            self.rig.tenant_id,
            app.client_id,
            secret,
            refresh_config=TokenRefreshConfig(
                refresh_before_expiry=lifetime / 3, min_refresh_interval=min(1.0, lifetime / 4)
            ),
            **self.rig.authority_options(),
        )

    def _on_issue(self, oid: str, token: str) -> None:  # called in the rig's thread
        self._server.add_user_password(oid, token)
        self._tokens[token] = (oid, float(jwt_claims(token)["exp"]))

    def describe(self, credentials: Credentials) -> str:
        expires = float(jwt_claims(credentials.password)["exp"])
        return f"oid {credentials.username} expires in {max(0.0, expires - time.time()):4.1f}s"

    async def enforce_expiry(self) -> None:
        """Revoke each token from its user when it expires (runs until cancelled)."""
        while True:
            now = time.time()
            for token, (oid, expires) in list(self._tokens.items()):
                if expires <= now:
                    del self._tokens[token]
                    await anyio.to_thread.run_sync(self._server.remove_user_password, oid, token)
                    self.expired += 1
            await anyio.sleep(0.05)

    def close(self) -> None:
        self.rig.close()
