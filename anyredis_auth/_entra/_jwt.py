"""Reading claims from a JWT access token (no signature check: the server does that).

Entra ID access tokens are JWS compact serializations: ``header.payload.signature``, each part
base64url without padding. The Redis username for Azure Cache for Redis / Azure Managed Redis is
the ``oid`` claim (the object id of the identity the token was issued to).

No function here ever puts the token, or a part of it, in an exception message.
"""

from __future__ import annotations

import base64
import binascii
import json
from typing import Any

from .._errors import AuthenticationError

__all__ = ["jwt_claims", "oid_from_token"]


def jwt_claims(token: str) -> dict[str, Any]:
    """The claims (payload) of a JWT, as a dict; `AuthenticationError` if it is not a JWT."""
    if not isinstance(token, str):
        raise AuthenticationError(f"the access token must be a str, got {type(token).__name__}")
    parts = token.split(".")
    if len(parts) != 3:
        raise AuthenticationError(
            f"the access token is not a JWT (expected 3 dot-separated parts, got {len(parts)})"
        )
    payload = parts[1]
    try:
        raw = base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4))
        claims = json.loads(raw.decode("utf-8"))
    except (binascii.Error, ValueError, UnicodeDecodeError):
        # json.JSONDecodeError is a ValueError; its message quotes nothing of the token but the
        # position, and we drop it anyway (no "from exc" text in our message).
        raise AuthenticationError(
            "the access token is not a JWT (its payload is not base64url-encoded JSON)"
        ) from None
    if not isinstance(claims, dict):
        raise AuthenticationError(
            "the access token is not a JWT (its payload is not a JSON object)"
        )
    return claims


def oid_from_token(token: str) -> str:
    """The ``oid`` claim of a JWT access token: the Redis username for Entra ID authentication."""
    claims = jwt_claims(token)
    oid = claims.get("oid")
    if oid is None:
        names = ", ".join(sorted(str(name) for name in claims)) or "none"
        raise AuthenticationError(
            "the access token has no 'oid' claim, so there is no Redis username to use "
            f"(claims present: {names}); pass username_from_token=... to derive it otherwise"
        )
    if not isinstance(oid, str) or not oid.strip():
        raise AuthenticationError("the access token's 'oid' claim is not a non-empty string")
    return oid
