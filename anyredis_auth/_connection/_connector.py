"""Opening a link: the byte stream (TCP, TLS, Unix) and the handshake that sets the session up.

RESP3: ``HELLO 3 AUTH user pass SETNAME name`` in one round trip; RESP2: ``AUTH``, ``CLIENT
SETNAME``. Then ``SELECT`` and ``CLIENT SETINFO`` (whose errors on servers that predate it are
ignored). Everything is written at once, so a handshake costs one round trip.
"""

from __future__ import annotations

import anyio
import anyio.abc

from .._credentials import Credentials
from .._errors import AuthenticationError, RedisConnectionError, RedisError, ResponseError
from .._options import ConnectionOptions
from .._version import __version__

__all__ = [
    "auth_command",
    "check_handshake",
    "handshake_commands",
    "open_stream",
    "safe_server_message",
]

Command = list[bytes | str | int | float]
_AUTH_ERRORS = ("WRONGPASS", "NOAUTH", "NOPERM", "INVALIDPASSWORD")


async def open_stream(options: ConnectionOptions) -> anyio.abc.ByteStream:
    """Connect to the server named by `options`; errors become `RedisConnectionError`."""
    try:
        if options.unix_path is not None:
            return await anyio.connect_unix(options.unix_path)
        if options.tls:
            return await anyio.connect_tcp(
                options.host,
                options.port,
                ssl_context=options.build_ssl_context(),
                tls_hostname=options.tls_server_hostname or options.host,
                tls_standard_compatible=False,
            )
        return await anyio.connect_tcp(options.host, options.port)
    except OSError as exc:
        reason = exc.strerror or str(exc) or type(exc).__name__
        raise RedisConnectionError(f"could not connect to {options.address}: {reason}") from exc


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


def auth_command(credentials: Credentials) -> Command:
    """The AUTH command for `credentials` (its bytes hold the secret: never log them)."""
    if credentials.username:
        return ["AUTH", credentials.username, credentials.password]
    return ["AUTH", credentials.password]


def handshake_commands(
    options: ConnectionOptions, credentials: Credentials | None, protocol: int | None = None
) -> list[Command]:
    """The commands that set up a fresh connection, in the order they are written."""
    protocol = options.protocol if protocol is None else protocol
    commands: list[Command] = []
    if protocol == 3:
        hello: Command = ["HELLO", 3]
        if credentials is not None:
            hello += ["AUTH", credentials.username or "default", credentials.password]
        if options.client_name:
            hello += ["SETNAME", options.client_name]
        commands.append(hello)
    else:
        if credentials is not None:
            commands.append(auth_command(credentials))
        if options.client_name:
            commands.append(["CLIENT", "SETNAME", options.client_name])
    if options.db:
        commands.append(["SELECT", options.db])
    commands.append(["CLIENT", "SETINFO", "LIB-NAME", options.lib_name])
    commands.append(["CLIENT", "SETINFO", "LIB-VER", __version__])
    return commands


def check_handshake(
    options: ConnectionOptions,
    credentials: Credentials | None,
    replies: list[object],
    protocol: int | None = None,
) -> None:
    """Raise the typed error the handshake replies call for (SETINFO errors are ignored)."""
    protocol = options.protocol if protocol is None else protocol
    setup_count = len(replies) - 2  # the last two are CLIENT SETINFO
    for index, reply in enumerate(replies[:setup_count]):
        if not isinstance(reply, ResponseError):
            continue
        plain_auth = protocol == 2 and credentials is not None and index == 0
        if plain_auth or reply.code in _AUTH_ERRORS:
            who = (credentials.username if credentials else None) or "default"
            raise AuthenticationError(
                f"the server at {options.address} refused the credentials of user {who!r}: "
                f"{safe_server_message(reply)}"
            )
        message = safe_server_message(reply)
        if protocol == 3 and index == 0 and "unknown command" in message.lower():
            raise RedisError(
                f"the server at {options.address} does not know HELLO ({message}); "
                "use protocol=2 for servers older than Redis 6"
            )
        raise ResponseError(f"connection setup failed at {options.address}: {message}")
