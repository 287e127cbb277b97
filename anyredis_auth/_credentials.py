"""Credentials: a username and a secret that never shows itself."""

from __future__ import annotations

from dataclasses import dataclass, field

__all__ = ["Credentials"]


@dataclass(frozen=True)
class Credentials:
    """A frozen ``(username, password)`` pair; ``repr`` and ``str`` never show the password.

    ``username`` may be ``None`` for the ``default`` user (``AUTH password``).
    """

    username: str | None
    password: str = field(repr=False)

    def __repr__(self) -> str:
        return f"Credentials(username={self.username!r}, password=<redacted>)"

    __str__ = __repr__
