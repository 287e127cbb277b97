"""An Azure-like front for the tests: a RESP-aware proxy that enforces token expiry.

Between the client and a real server it reads every command the client sends (with our own
sans-IO parser) and, like Azure Cache for Redis:
- checks the token given in ``AUTH <oid> <token>`` and ``HELLO 3 AUTH <oid> <token>``
  (signature, audience, expiry, user name = the token's oid); a bad token is replaced by a
  wrong password, so the server itself answers WRONGPASS, in order with the other replies;
- closes any connection whose token expired without a fresh, valid AUTH (`closed_for_expiry`).
Valid AUTHs are rewritten to the ACL user the front keeps for each oid. It terminates TLS when
given a server-side `ssl.SSLContext` (test certificates from trustme). Faults can be injected
on command (server-to-client direction): delay, stall (half-open), drop every connection, reset
after N bytes, or corrupt the next reply chunk.
"""

from __future__ import annotations

import secrets
import ssl
import time
from collections.abc import Callable

import anyio
import anyio.abc
from anyio.streams.tls import TLSListener

from anyredis_auth.protocol import NEED_DATA, Parser, encode_command
from tests._servers import ServerProcess

Verifier = Callable[[str | None, str], float | None]


def _text(value: object) -> str:
    return value.decode("latin-1") if isinstance(value, bytes) else str(value)


class AzureFront:
    def __init__(
        self, server: ServerProcess, verify: Verifier, tls: ssl.SSLContext | None = None
    ) -> None:
        self.server = server
        self.verify = verify
        self.tls = tls
        self.ca_file: str | None = None  # what a client must trust when `tls` is set
        self.port = 0
        self.password = secrets.token_urlsafe(16)  # what the front logs in with, per oid
        self.connections = 0
        self.closed_for_expiry = 0
        self.refused = 0
        self.auths = 0
        self.delay = 0.0
        self.stalled = False
        self.cut_after: int | None = None
        self.corrupt_next: bytes | None = None
        self._resume = anyio.Event()
        self._scopes: set[anyio.CancelScope] = set()

    @property
    def url(self) -> str:
        scheme = "rediss" if self.tls is not None else "redis"
        return f"{scheme}://127.0.0.1:{self.port}"

    def resume(self) -> None:
        self.stalled = False
        self._resume.set()
        self._resume = anyio.Event()

    def drop(self) -> None:
        for scope in list(self._scopes):
            scope.cancel()

    async def run(
        self, *, task_status: anyio.abc.TaskStatus[None] = anyio.TASK_STATUS_IGNORED
    ) -> None:
        tcp = await anyio.create_tcp_listener(local_host="127.0.0.1", local_port=0)
        self.port = tcp.extra(anyio.abc.SocketAttribute.local_port)
        listener: anyio.abc.Listener[anyio.abc.ByteStream] = tcp
        if self.tls is not None:  # terminate TLS here, as Azure's endpoint does
            listener = TLSListener(tcp, self.tls, standard_compatible=False)
        async with listener:
            task_status.started()
            await listener.serve(self._handle)

    def _rewrite(self, args: list[object], session: dict[str, float]) -> list[object]:
        """AUTH/HELLO AUTH: check the token; rewrite to the front's own login for that oid."""
        name = _text(args[0]).upper() if args else ""
        if name == "AUTH" and len(args) == 3:
            at = 1
        elif name == "HELLO" and len(args) >= 5 and _text(args[2]).upper() == "AUTH":
            at = 3
        else:
            return args
        oid, token = _text(args[at]), _text(args[at + 1])
        self.auths += 1
        expires = self.verify(oid, token)
        if expires is None:
            self.refused += 1
            return [*args[:at], oid, "not-a-valid-token", *args[at + 2 :]]
        self.server.add_user(oid, self.password)  # every time: the server may have restarted
        session["expires"] = expires
        return [*args[:at], oid, self.password, *args[at + 2 :]]

    async def _handle(self, client: anyio.abc.ByteStream) -> None:
        self.connections += 1
        session = {"expires": float("inf")}
        try:
            await self._relay(client, session)
        finally:
            # Also when the front itself is cancelled (the test ends): release the socket now.
            await anyio.aclose_forcefully(client)

    async def _relay(self, client: anyio.abc.ByteStream, session: dict[str, float]) -> None:
        try:
            upstream = await anyio.connect_tcp(self.server.host, self.server.port)
        except OSError:
            return
        try:
            with anyio.CancelScope() as scope:
                self._scopes.add(scope)
                try:
                    async with anyio.create_task_group() as group:
                        group.start_soon(
                            self._commands, client, upstream, session, group.cancel_scope
                        )
                        group.start_soon(self._replies, upstream, client, group.cancel_scope)
                        group.start_soon(self._expiry, session, group.cancel_scope)
                finally:
                    self._scopes.discard(scope)
        finally:
            await anyio.aclose_forcefully(upstream)

    async def _expiry(self, session: dict[str, float], scope: anyio.CancelScope) -> None:
        while True:
            await anyio.sleep(0.02)
            if session["expires"] <= time.time():
                self.closed_for_expiry += 1
                scope.cancel()
                return

    async def _commands(
        self,
        source: anyio.abc.ByteStream,
        sink: anyio.abc.ByteStream,
        session: dict[str, float],
        scope: anyio.CancelScope,
    ) -> None:
        parser = Parser(backend="python")
        try:
            async for chunk in source:
                parser.feed(chunk)
                out: list[bytes] = []
                while (command := parser.next_reply()) is not NEED_DATA:
                    assert isinstance(command, list)
                    out.append(encode_command(*self._rewrite(command, session)))  # type: ignore[arg-type]
                if out:
                    await sink.send(b"".join(out))
        except (anyio.BrokenResourceError, anyio.ClosedResourceError, OSError):
            pass
        scope.cancel()

    async def _replies(
        self, source: anyio.abc.ByteStream, sink: anyio.abc.ByteStream, scope: anyio.CancelScope
    ) -> None:
        try:
            async for chunk in source:
                while self.stalled:
                    await self._resume.wait()
                if self.delay:
                    await anyio.sleep(self.delay)
                if self.corrupt_next is not None:
                    chunk, self.corrupt_next = self.corrupt_next, None
                if self.cut_after is not None:
                    if len(chunk) >= self.cut_after:
                        await sink.send(chunk[: self.cut_after])
                        self.cut_after = None
                        break
                    self.cut_after -= len(chunk)
                await sink.send(chunk)
        except (anyio.BrokenResourceError, anyio.ClosedResourceError, OSError):
            pass
        scope.cancel()
