"""Credentials: a username and a secret that never shows itself."""

from __future__ import annotations

from dataclasses import dataclass, field

__all__ = ["Credentials"]


@dataclass(frozen=True)
class Credentials:
    """A frozen ``(username, password)`` pair; ``repr`` and ``str`` never show the password.

    ``username`` may be ``None`` for the ``default`` user (``AUTH password``).
    ``expires_on`` (keyword-only, Unix epoch seconds) is when the password stops being valid, or
    ``None`` when it does not expire or nobody knows. Token providers set it to the token's
    expiry. It is not part of the identity: equality and the hash ignore it, so the same
    username and password with another expiry are the same credentials.
    """

    username: str | None
    password: str = field(repr=False)
    expires_on: float | None = field(default=None, compare=False, kw_only=True)

    def __repr__(self) -> str:
        expiry = "" if self.expires_on is None else f", expires_on={self.expires_on!r}"
        return f"Credentials(username={self.username!r}, password=<redacted>{expiry})"

    __str__ = __repr__
