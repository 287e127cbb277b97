"""Token minting for the offline identity rig: JWT-shaped access tokens with Entra ID's claims.

The signature is an HMAC with a per-rig random key (``alg: HS256``): clients never check it (the
Redis server authenticates the token as an opaque password), but the token has the real shape.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
import time
import uuid
from typing import Any

__all__ = ["TokenMinter", "b64url", "b64url_decode", "resource_of"]


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def b64url_decode(text: str) -> bytes:
    text = text.rstrip("=")
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def resource_of(scope: str) -> str:
    """``https://redis.azure.com/.default`` -> ``https://redis.azure.com`` (the token's aud)."""
    scope = scope.strip()
    return scope[: -len("/.default")] if scope.endswith("/.default") else scope


class TokenMinter:
    def __init__(self, issuer: str) -> None:
        self._key = secrets.token_bytes(32)
        self.issuer = issuer

    def mint(
        self,
        *,
        oid: str,
        tenant_id: str,
        audience: str,
        lifetime: float,
        app_id: str | None = None,
        extra: dict[str, Any] | None = None,
    ) -> tuple[str, int]:
        """A new token and its ``exp`` (epoch seconds)."""
        now = int(time.time())
        exp = now + max(1, round(lifetime))
        claims: dict[str, Any] = {
            "aud": audience,
            "iss": f"{self.issuer}/{tenant_id}/v2.0",
            "iat": now,
            "nbf": now,
            "exp": exp,
            "oid": oid,
            "sub": oid,
            "tid": tenant_id,
            "uti": uuid.uuid4().hex,
            "ver": "2.0",
        }
        if app_id is not None:
            claims["azp"] = app_id
            claims["appid"] = app_id
        if extra:
            claims.update(extra)
        header = b64url(json.dumps({"alg": "HS256", "typ": "JWT"}).encode())
        payload = b64url(json.dumps(claims, separators=(",", ":")).encode())
        signing_input = f"{header}.{payload}".encode("ascii")
        signature = b64url(hmac.new(self._key, signing_input, hashlib.sha256).digest())
        return f"{header}.{payload}.{signature}", exp

    def verify(self, token: str, audience: str) -> dict[str, Any] | None:
        """The claims of `token` if this rig signed it for `audience` and it has not expired."""
        try:
            header, payload, signature = token.split(".")
            expected = hmac.new(
                self._key, f"{header}.{payload}".encode("ascii"), hashlib.sha256
            ).digest()
            if not hmac.compare_digest(b64url_decode(signature), expected):
                return None
            claims: dict[str, Any] = json.loads(b64url_decode(payload))
        except (ValueError, UnicodeError):
            return None
        if claims.get("aud") != audience or float(claims.get("exp", 0)) <= time.time():
            return None
        return claims
