"""Signed test tokens (JWT, HS256) with an `oid`, an audience and an expiry.

The Azure-like front verifies them the way Azure Cache for Redis verifies Entra ID tokens:
signature, audience, expiry, and the AUTH user name must be the token's `oid`.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
import time
from dataclasses import dataclass, field

import anyio

from anyredis_auth import (
    AccessToken,
    Credentials,
    RetryConfig,
    TokenCredentialsProvider,
    TokenRefreshConfig,
)
from tests import _secrets as secrets_scan

AUDIENCE = "https://redis.azure.com"


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


@dataclass
class TokenMint:
    """Issues and verifies tokens with one secret key."""

    key: bytes = field(default_factory=lambda: secrets.token_bytes(32))
    audience: str = AUDIENCE
    issued: list[str] = field(default_factory=list)

    def issue(self, oid: str, lifetime: float, audience: str | None = None) -> tuple[str, float]:
        now = time.time()
        header = _b64(json.dumps({"alg": "HS256", "typ": "JWT"}).encode())
        claims = {
            "oid": oid,
            "aud": audience or self.audience,
            "iat": int(now),
            "exp": now + lifetime,
            "jti": secrets.token_hex(8),
        }
        payload = _b64(json.dumps(claims).encode())
        signature = _b64(
            hmac.new(self.key, f"{header}.{payload}".encode(), hashlib.sha256).digest()
        )
        token = secrets_scan.issued(f"{header}.{payload}.{signature}")
        self.issued.append(token)
        return token, claims["exp"]

    def verify(self, username: str | None, token: str) -> float | None:
        """The token's expiry when it is valid for `username` now, else None."""
        try:
            header, payload, signature = token.split(".")
            expected = hmac.new(self.key, f"{header}.{payload}".encode(), hashlib.sha256).digest()
            if not hmac.compare_digest(_unb64(signature), expected):
                return None
            claims = json.loads(_unb64(payload))
        except (ValueError, TypeError):
            return None
        if claims.get("aud") != self.audience or claims.get("oid") != username:
            return None
        expires = float(claims.get("exp", 0))
        return expires if expires > time.time() else None


class MintedTokenProvider(TokenCredentialsProvider):
    """A token provider whose identity provider is a `TokenMint` (one oid, short lifetimes)."""

    def __init__(
        self, mint: TokenMint, lifetime: float, oid: str | None = None, **config: float
    ) -> None:
        window = config.pop("refresh_before_expiry", lifetime / 3)
        super().__init__(
            TokenRefreshConfig(
                refresh_before_expiry=window,
                min_refresh_interval=min(0.2, lifetime / 4),
                request_timeout=2.0,
                retry_config=RetryConfig(initial_delay=0.05, max_delay=0.3),
                **config,  # type: ignore[arg-type]
            )
        )
        self.mint = mint
        self.lifetime = lifetime
        self.oid = oid or f"oid-{secrets.token_hex(4)}"
        self.outage = False

    async def _fetch_token(self) -> AccessToken:
        await anyio.sleep(0.005)
        if self.outage:
            raise ConnectionError("the identity provider is unreachable")
        token, expires = self.mint.issue(self.oid, self.lifetime)
        return AccessToken(token=token, expires_on=expires, refresh_on=None)

    def _credentials_for(self, token: AccessToken) -> Credentials:
        return Credentials(self.oid, token.token)
