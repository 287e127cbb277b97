"""The exception hierarchy: every error this library raises derives from `RedisError`.

Messages never carry a password or token: callers build them from server replies, URLs with the
password already removed, and our own wording.
"""

from __future__ import annotations

import builtins

__all__ = [
    "AuthenticationError",
    "ConnectionClosedError",
    "ExecAbortError",
    "ProtocolError",
    "RedisConnectionError",
    "RedisError",
    "RedisTimeoutError",
    "ResponseError",
    "TokenRefreshError",
]


class RedisError(Exception):
    """Base class of every error raised by anyredis_auth."""


class RedisConnectionError(RedisError, builtins.ConnectionError):
    """The connection to the server could not be made or was lost."""


class ConnectionClosedError(RedisConnectionError):
    """The connection (or the client that owns it) was closed while a command was pending."""


class RedisTimeoutError(RedisError, builtins.TimeoutError):
    """A command, a connect or a handshake took longer than its configured timeout."""


class ProtocolError(RedisError):
    """The server sent bytes that are not valid RESP (or exceed a configured limit).

    The connection that received them is unusable afterwards and is dropped.
    """


class ResponseError(RedisError):
    """An error reply from the server (``-ERR ...`` or a RESP3 bulk error).

    The parser returns instances as values; the connection raises them. Two instances are equal
    when their type and message are equal, so replies compare as plain values in tests.
    """

    @property
    def message(self) -> str:
        """The error text, code included (e.g. ``"WRONGTYPE Operation against a key ..."``)."""
        return str(self.args[0]) if self.args else ""

    @property
    def code(self) -> str:
        """The error prefix, e.g. ``"WRONGTYPE"`` or ``"ERR"``."""
        return self.message.split(" ", 1)[0]

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, ResponseError):
            return NotImplemented
        return type(self) is type(other) and self.args == other.args

    def __hash__(self) -> int:
        return hash((type(self), self.args))


class ExecAbortError(ResponseError):
    """A transaction's EXEC was aborted (EXECABORT, or a WATCHed key changed)."""


class AuthenticationError(RedisError):
    """The server refused the credentials, or credentials could not be derived from a token."""


class TokenRefreshError(RedisError):
    """The identity provider could not produce a token (after the configured retries)."""
