"""The handshake of a fresh session, as commands to write and a check of their replies (sans-IO).

RESP3: ``HELLO 3 AUTH user pass SETNAME name`` in one command; RESP2: ``AUTH``, ``CLIENT
SETNAME``. Then ``SELECT`` and ``CLIENT SETINFO`` (whose errors on servers that predate it are
ignored). Everything is written at once, so a handshake costs one round trip.

Credentials with no username log in as the ``default`` user: ``AUTH <password>`` on RESP2 and
``HELLO 3 AUTH default <password>`` on RESP3 mean the same to the server.
"""

from __future__ import annotations

from dataclasses import dataclass

from .._credentials import Credentials
from .._errors import AuthenticationError, RedisError, ResponseError

__all__ = [
    "Handshake",
    "auth_command",
    "hello_missing",
    "is_unknown_command",
    "safe_server_message",
]

Command = list[bytes | str | int | float]
_AUTH_ERRORS = ("WRONGPASS", "NOAUTH", "NOPERM", "INVALIDPASSWORD")


def safe_server_message(reply: ResponseError) -> str:
    """The server's error text without the arguments it may echo back.

    Redis answers an unknown command with "ERR unknown command 'HELLO', with args beginning
    with: '3' 'AUTH' '<user>' '<token>'": the echo would put a token into our messages.
    """
    message = reply.message
    for marker in (", with args beginning with", " with args beginning with"):
        if marker in message:
            return message.split(marker, 1)[0]
    return message


def is_unknown_command(reply: object) -> bool:
    """Whether `reply` is the server's "unknown command" error (a RESP2-only server's HELLO)."""
    return isinstance(reply, ResponseError) and "unknown command" in reply.message.lower()


def hello_missing(reply: object, credentials: Credentials | None) -> bool:
    """Whether `reply` to ``HELLO 3 [AUTH ...]`` says the server has no HELLO.

    A server that does not know HELLO answers "unknown command", except when it requires a
    password: Redis 7.2 and later and Valkey refuse any unknown command with ``NOAUTH`` before
    a login. A HELLO they knew would have logged in (or said ``WRONGPASS``), so ``NOAUTH`` to a
    HELLO that carried credentials means the same.
    """
    if is_unknown_command(reply):
        return True
    return credentials is not None and isinstance(reply, ResponseError) and reply.code == "NOAUTH"


def auth_command(credentials: Credentials) -> Command:
    """The AUTH command for `credentials` (its bytes hold the secret: never log them)."""
    if credentials.username:
        return ["AUTH", credentials.username, credentials.password]
    return ["AUTH", credentials.password]


@dataclass(frozen=True)
class Handshake:
    """What a fresh session is set up with; `commands` to write, `check` of their replies."""

    address: str
    protocol: int = 3
    client_name: str | None = None
    db: int = 0
    lib_name: str = "anyredis-auth"
    lib_version: str = ""
    #: A cluster replica's session: ``READONLY`` lets it serve reads of its primary's slots.
    readonly: bool = False

    def commands(self, credentials: Credentials | None) -> list[Command]:
        """The commands that set up a fresh connection, in the order they are written."""
        commands: list[Command] = []
        if self.protocol == 3:
            hello: Command = ["HELLO", 3]
            if credentials is not None:
                hello += ["AUTH", credentials.username or "default", credentials.password]
            if self.client_name:
                hello += ["SETNAME", self.client_name]
            commands.append(hello)
        else:
            if credentials is not None:
                commands.append(auth_command(credentials))
            if self.client_name:
                commands.append(["CLIENT", "SETNAME", self.client_name])
        if self.db:
            commands.append(["SELECT", self.db])
        if self.readonly:
            commands.append(["READONLY"])
        commands.append(["CLIENT", "SETINFO", "LIB-NAME", self.lib_name])
        commands.append(["CLIENT", "SETINFO", "LIB-VER", self.lib_version])
        return commands

    def check(self, credentials: Credentials | None, replies: list[object]) -> None:
        """Raise the typed error the handshake replies call for (SETINFO errors are ignored).

        `AuthenticationError` when the credentials were refused; `RedisError` when a RESP3
        handshake met a server without HELLO; `ResponseError` for any other setup error (a
        ``-BUSY`` during ``SELECT``, say).
        """
        setup_count = len(replies) - 2  # the last two are CLIENT SETINFO
        for index, reply in enumerate(replies[:setup_count]):
            if not isinstance(reply, ResponseError):
                continue
            if self.protocol == 3 and index == 0 and hello_missing(reply, credentials):
                raise RedisError(
                    f"the server at {self.address} does not know HELLO "
                    f"({safe_server_message(reply)}); use protocol=2 for servers without it"
                )
            plain_auth = self.protocol == 2 and credentials is not None and index == 0
            if plain_auth or reply.code in _AUTH_ERRORS:
                who = (credentials.username if credentials else None) or "default"
                raise AuthenticationError(
                    f"the server at {self.address} refused the credentials of user {who!r}: "
                    f"{safe_server_message(reply)}"
                )
            message = safe_server_message(reply)
            raise ResponseError(f"connection setup failed at {self.address}: {message}")
