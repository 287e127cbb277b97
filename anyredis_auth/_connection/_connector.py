"""`Connector`: everything needed to open an authenticated session, and nothing about who holds it.

A connector is handed to whoever holds sessions (a shared connection, a subscriber, the pool of
dedicated connections, later a cluster node). It holds:

- the stream factory, the one seam of the connection room: TCP, TLS or a Unix socket from the
  options by default; a node address in a cluster; an in-memory stream pair in tests;
- the parser settings;
- the handshake (`anyredis_auth.protocol._handshake`), written in one round trip and checked;
- the RESP3 probe of pub/sub sessions: the first one tries ``HELLO 3`` and, when the server does
  not know HELLO, sets up RESP2 on the same socket; the connector remembers the answer.

`open` never returns a half-set-up link and raises only typed errors (`RedisError` subclasses):
whatever goes wrong on the way (refused, reset, a TLS peer that hangs up mid-handshake, an error
reply to ``SELECT``) closes what was opened.
"""

from __future__ import annotations

import ssl
from collections.abc import Awaitable, Callable

import anyio
import anyio.abc

from .._credentials import Credentials
from .._errors import RedisConnectionError, RedisTimeoutError
from .._options import ConnectionOptions
from .._version import __version__
from ..protocol import Parser
from ..protocol._handshake import Handshake, hello_missing
from ._link import STREAM_ERRORS, Link

__all__ = ["Connector", "StreamFactory", "open_stream"]

#: Opens one byte stream to the server (the connection room's seam).
StreamFactory = Callable[[], Awaitable[anyio.abc.ByteStream]]

#: What opening a stream may raise besides OSError: a TLS peer that hangs up mid-handshake
#: surfaces as anyio's EndOfStream or BrokenResourceError, a bad certificate as an SSLError.
_OPEN_ERRORS = (*STREAM_ERRORS, ssl.SSLError)


async def open_stream(options: ConnectionOptions) -> anyio.abc.ByteStream:
    """Connect to the server named by `options`; every failure is a `RedisConnectionError`."""
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
    except _OPEN_ERRORS as exc:
        raise RedisConnectionError(
            f"could not connect to {options.address}: {_reason(exc)}"
        ) from exc


def _reason(exc: BaseException) -> str:
    if isinstance(exc, anyio.EndOfStream | anyio.BrokenResourceError):
        return "the peer closed the connection during the TLS handshake"
    if isinstance(exc, ssl.SSLError):
        return f"TLS failed ({exc.reason or exc})"
    if isinstance(exc, OSError):
        return exc.strerror or str(exc) or type(exc).__name__
    return str(exc) or type(exc).__name__


class Connector:
    """Opens authenticated links to one server (see the module documentation)."""

    def __init__(
        self,
        options: ConnectionOptions,
        stream_factory: StreamFactory | None = None,
        *,
        readonly: bool = False,
    ) -> None:
        self.options = options
        #: Sessions send READONLY (a cluster replica serving reads).
        self.readonly = readonly
        self.address = options.address
        self._open_stream: StreamFactory = stream_factory or (lambda: open_stream(options))
        #: Whether the server speaks RESP3 to pub/sub links (None: not tried yet).
        self.pubsub_resp3: bool | None = None

    def __repr__(self) -> str:
        return f"<Connector {self.address}>"

    def handshake(self, protocol: int) -> Handshake:
        options = self.options
        return Handshake(
            address=options.address,
            protocol=protocol,
            client_name=options.client_name,
            db=options.db,
            lib_name=options.lib_name,
            lib_version=__version__,
            readonly=self.readonly,
        )

    def parser(self, protocol: int) -> Parser:
        options = self.options
        return Parser(
            protocol=protocol,
            backend=options.parser,
            encoding=options.encoding if options.decode_responses else None,
            errors="surrogateescape",
        )

    async def open(
        self,
        group: anyio.abc.TaskGroup,
        credentials: Credentials | None,
        *,
        pubsub: bool = False,
    ) -> Link:
        """Connect, run the link's tasks in `group` and log in with `credentials`.

        A pub/sub link speaks RESP3 whenever the server does (whatever ``options.protocol``
        says). Raises `RedisConnectionError`, `RedisTimeoutError`, `AuthenticationError` or
        another `RedisError` (an error reply during setup); the link is closed then.
        """
        options = self.options
        timeout = options.connect_timeout
        with anyio.move_on_after(timeout) as scope:
            stream = await self._open_stream()
        if scope.cancelled_caught:
            raise RedisTimeoutError(f"connecting to {self.address} took over {timeout:g} s")
        protocol = options.protocol
        if pubsub:
            protocol = 2 if self.pubsub_resp3 is False else 3
        link = Link(stream, self.parser(protocol), self.address, pubsub=pubsub)
        try:
            try:
                await group.start(link.run)
            except BaseException:
                # The link's task never ran, so nobody else closes the stream.
                with anyio.CancelScope(shield=True), anyio.move_on_after(1.0):
                    await stream.aclose()
                raise
            with anyio.move_on_after(timeout) as scope:
                handshake = self.handshake(protocol)
                replies = await link.request_many(handshake.commands(credentials))
                if pubsub and protocol == 3:
                    self.pubsub_resp3 = not hello_missing(replies[0], credentials)
                    if not self.pubsub_resp3:
                        protocol = 2
                        handshake = self.handshake(protocol)
                        replies = await link.request_many(handshake.commands(credentials))
            if scope.cancelled_caught:
                raise RedisTimeoutError(
                    f"the handshake with {self.address} took over {timeout:g} s"
                )
            handshake.check(credentials, replies)
            link.credentials = credentials
            link.protocol = protocol
        except BaseException:
            link.close()  # its task closes the stream
            raise
        return link
