"""`Session` and `Connector` over in-memory streams, against a fake server the test scripts.

The connector's stream factory is the seam: `FakeNetwork.connect` hands the session one end of a
memory stream pair per connection, and the test answers on the other end.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import anyio
import pytest

from anyredis_auth import (
    AuthenticationError,
    ConnectionClosedError,
    Credentials,
    RedisConnectionError,
    RedisTimeoutError,
    ResponseError,
    TokenRefreshError,
)
from anyredis_auth._connection._connector import Connector
from anyredis_auth._connection._link import Link
from anyredis_auth._connection._session import CredentialsSource, Session
from anyredis_auth._options import ConnectionOptions
from anyredis_auth._version import __version__
from anyredis_auth.protocol import encode_command
from anyredis_auth.testing import ManualCredentialsProvider
from tests._memory import OK, FakeNetwork, FakeServer, bulk, error, integer
from tests._waiting import wait_until

pytestmark = pytest.mark.anyio

LIMIT = 10
SECRET = "pw-Mq2secret-one"
ALICE = Credentials("alice", SECRET)
BOB = Credentials("bob", "pw-Mq2secret-two")
CAROL = Credentials("carol", "pw-Mq2secret-three")
WRONGPASS = "WRONGPASS invalid username-password pair or user is disabled."


class CountingProvider(ManualCredentialsProvider):
    """A manual provider that counts `request_refresh` calls (and may answer one with `fresh`)."""

    def __init__(self, credentials: Credentials, fresh: Credentials | None = None) -> None:
        super().__init__(credentials)
        self.fresh = fresh
        self.refresh_requests = 0

    def request_refresh(self) -> None:
        self.refresh_requests += 1
        if self.fresh is not None:
            self.set_credentials(self.fresh)


@asynccontextmanager
async def rig(
    *, provider: CountingProvider | None = None, fixed: Credentials | None = None, **options: Any
) -> AsyncIterator[tuple[Session, FakeNetwork]]:
    """A session in a task group the test owns, connecting through a `FakeNetwork`."""
    settings: dict[str, Any] = {
        "connect_timeout": 5.0,
        "reconnect_attempts": 1,
        "reconnect_initial_delay": 0.01,
        **options,
    }
    async with FakeNetwork() as network:
        with anyio.fail_after(LIMIT):
            async with anyio.create_task_group() as group:
                connector = Connector(ConnectionOptions(**settings), stream_factory=network.connect)
                session = Session(connector, group, CredentialsSource(provider, fixed))
                yield session, network
                session.close()


class Connecting:
    """`session.connect()` in a task of its own, so the test can play the server meanwhile."""

    def __init__(self, session: Session) -> None:
        self.session = session
        self.link: Link | None = None
        self.error: BaseException | None = None
        self.done = anyio.Event()

    async def run(self) -> None:
        try:
            self.link = await self.session.connect()
        except Exception as exc:
            self.error = exc
        finally:
            self.done.set()

    async def result(self) -> Link:
        await self.done.wait()
        if self.error is not None:
            raise self.error
        assert self.link is not None
        return self.link


async def connected(session: Session, network: FakeNetwork) -> tuple[Link, FakeServer]:
    """Connect, with the fake server accepting the handshake."""
    async with anyio.create_task_group() as group:
        connecting = Connecting(session)
        group.start_soon(connecting.run)
        server = await network.accept()
        await server.accept_handshake()
    return await connecting.result(), server


async def failed_connect(session: Session, answer: Any) -> BaseException:
    """The error `session.connect()` raises while `answer(network)` plays the server."""
    connecting = Connecting(session)
    async with anyio.create_task_group() as group:
        group.start_soon(connecting.run)
        await answer()
    await connecting.done.wait()
    assert connecting.error is not None
    return connecting.error


def setinfo() -> list[list[bytes]]:
    return [
        [b"CLIENT", b"SETINFO", b"LIB-NAME", b"anyredis-auth"],
        [b"CLIENT", b"SETINFO", b"LIB-VER", __version__.encode()],
    ]


# -- connecting -----------------------------------------------------------------------------------


async def test_resp3_handshake_goes_out_in_one_write() -> None:
    async with rig(fixed=ALICE, client_name="worker", db=2) as (session, network):
        connecting = Connecting(session)
        async with anyio.create_task_group() as group:
            group.start_soon(connecting.run)
            server = await network.accept()
            commands = await server.read_write()
            assert commands == [
                [b"HELLO", b"3", b"AUTH", b"alice", SECRET.encode(), b"SETNAME", b"worker"],
                [b"SELECT", b"2"],
                *setinfo(),
            ]
            assert not connecting.done.is_set()
            await server.send(server.handshake_replies(commands))
        link = await connecting.result()
        assert session.link is link
        assert link.credentials == ALICE
        assert link.protocol == 3
        assert session.stats.connects == 1
        # The link is live: a command and its reply.
        waiter = link.submit(encode_command("PING"))
        assert await server.read_command() == [b"PING"]
        await server.send(b"+PONG\r\n")
        assert await waiter.wait() == b"PONG"
        # Connected already: connect() hands back the same link without a new handshake.
        assert await session.connect() is link
        assert len(network.servers) == 1


async def test_resp2_handshake_goes_out_in_one_write() -> None:
    async with rig(fixed=Credentials(None, SECRET), protocol=2, client_name="w") as (
        session,
        network,
    ):
        connecting = Connecting(session)
        async with anyio.create_task_group() as group:
            group.start_soon(connecting.run)
            server = await network.accept()
            commands = await server.read_write()
            assert commands == [
                [b"AUTH", SECRET.encode()],
                [b"CLIENT", b"SETNAME", b"w"],
                *setinfo(),
            ]
            await server.send(OK * 4)
        link = await connecting.result()
        assert link.protocol == 2


async def test_refused_credentials_raise_authentication_error() -> None:
    provider = CountingProvider(ALICE)
    async with rig(provider=provider) as (session, network):
        await session.start()
        servers: list[FakeServer] = []

        async def refuse() -> None:
            server = await network.accept()
            servers.append(server)
            commands = await server.read_handshake()
            assert commands[0] == [b"HELLO", b"3", b"AUTH", b"alice", SECRET.encode()]
            await server.send(error(WRONGPASS), OK, OK)

        failure = await failed_connect(session, refuse)
        assert type(failure) is AuthenticationError
        assert WRONGPASS in str(failure)
        assert SECRET not in str(failure)
        assert provider.refresh_requests == 1  # the next attempt gets a fresh token
        assert session.link is None
        await servers[0].wait_closed()  # nothing half set up is left open


async def test_busy_on_select_raises_response_error() -> None:
    busy = "BUSY Redis is busy running a script. You can only call SCRIPT KILL or SHUTDOWN NOSAVE."
    async with rig(fixed=ALICE, db=3) as (session, network):

        async def busy_select() -> None:
            server = await network.accept()
            commands = await server.read_handshake()
            assert commands[1] == [b"SELECT", b"3"]
            await server.send(FakeServer.handshake_replies(commands[:1]), error(busy), OK, OK)
            await server.wait_closed()

        failure = await failed_connect(session, busy_select)
        assert type(failure) is ResponseError
        assert busy in str(failure)
        assert SECRET not in str(failure)
        assert session.link is None


async def test_busy_on_select_is_retried() -> None:
    async with rig(fixed=ALICE, db=3, reconnect_attempts=2) as (session, network):
        connecting = Connecting(session)
        async with anyio.create_task_group() as group:
            group.start_soon(connecting.run)
            first = await network.accept()
            commands = await first.read_handshake()
            await first.send(FakeServer.handshake_replies(commands[:1]), error("BUSY busy"), OK, OK)
            second = await network.accept()  # after the back-off
            await second.accept_handshake()
        link = await connecting.result()
        assert link.credentials == ALICE
        await first.wait_closed()


async def test_unanswered_handshake_raises_timeout() -> None:
    async with rig(fixed=ALICE, connect_timeout=0.2) as (session, network):
        servers: list[FakeServer] = []

        async def silent() -> None:
            server = await network.accept()
            servers.append(server)
            await server.read_handshake()  # ... and never answer

        failure = await failed_connect(session, silent)
        assert type(failure) is RedisTimeoutError
        assert "handshake" in str(failure)
        await servers[0].wait_closed()
        assert session.link is None


async def test_connect_after_close_raises_connection_closed() -> None:
    async with rig(fixed=ALICE) as (session, network):
        link, server = await connected(session, network)
        session.close()
        assert link.closed
        with pytest.raises(ConnectionClosedError):
            await session.connect()
        await server.wait_closed()


# -- following the provider -----------------------------------------------------------------------


@pytest.mark.parametrize("new", [BOB, Credentials(None, "pw-Mq2secret-default")])
async def test_reauthenticate_sends_auth_in_line(new: Credentials) -> None:
    provider = CountingProvider(ALICE)
    async with rig(provider=provider) as (session, network):
        await session.start()
        link, server = await connected(session, network)
        before = link.submit(encode_command("GET", "x"))
        assert await server.read_command() == [b"GET", b"x"]
        provider.set_credentials(new)
        auth = [b"AUTH", new.password.encode()]
        if new.username:
            auth.insert(1, new.username.encode())
        assert await server.read_command() == auth
        after = link.submit(encode_command("SET", "y", "1"))
        assert await server.read_command() == [b"SET", b"y", b"1"]
        await server.send(bulk("old"), OK, OK)
        assert await before.wait() == b"old"
        assert await after.wait() == b"OK"
        await wait_until(lambda: link.credentials == new)
        assert session.link is link  # no new connection
        assert session.stats.reauths == 1
        assert provider.refresh_requests == 0
        assert len(network.servers) == 1


async def test_refused_auth_refreshes_and_replaces_the_link() -> None:
    provider = CountingProvider(ALICE, fresh=CAROL)
    async with rig(provider=provider) as (session, network):
        await session.start()
        old, old_server = await connected(session, network)
        provider.set_credentials(BOB)
        assert await old_server.read_command() == [b"AUTH", b"bob", BOB.password.encode()]
        in_flight = old.submit(encode_command("INCR", "n"))  # after the AUTH, on the old link
        assert await old_server.read_command() == [b"INCR", b"n"]
        await old_server.send(error(WRONGPASS))
        # The refusal asked for a fresh token, and the new link logs in with it.
        new_server = await network.accept()
        handshake = await new_server.accept_handshake()
        assert handshake[0] == [b"HELLO", b"3", b"AUTH", b"carol", CAROL.password.encode()]
        assert provider.refresh_requests == 1
        await wait_until(lambda: session.link is not old)
        new = session.link
        assert new is not None
        assert new.credentials == CAROL
        # The old link is still logged in with the previous token: its reply in flight arrives.
        assert not old.closed
        assert not in_flight.done()
        await old_server.send(integer(1))
        assert await in_flight.wait() == 1
        await old.wait_finished()
        assert isinstance(old.closed_error(), ConnectionClosedError)
        assert await old_server.wait_closed() == []
        assert session.stats.reauth_failures == 1
        assert session.stats.replacements == 1
        problem = session.stats.last_reauth_error
        assert problem is not None
        assert WRONGPASS in problem
        assert BOB.password not in problem
        # New commands go to the new link.
        assert await session.connect() is new


async def test_unanswered_auth_drops_the_old_link_at_once() -> None:
    provider = CountingProvider(ALICE)
    async with rig(provider=provider, connect_timeout=1.0) as (session, network):
        await session.start()
        old, old_server = await connected(session, network)
        in_flight = old.submit(encode_command("GET", "x"))
        assert await old_server.read_command() == [b"GET", b"x"]
        provider.set_credentials(BOB)
        assert await old_server.read_command() == [b"AUTH", b"bob", BOB.password.encode()]
        # The server never answers. Once the AUTH times out, the old link is presumed dead:
        # closed before the replacement even connects.
        new_server = await network.accept()
        assert old.closed
        assert in_flight.done()
        with pytest.raises(RedisConnectionError, match="presumed dead"):
            await in_flight.wait()
        await old_server.wait_closed()
        handshake = await new_server.accept_handshake()
        assert handshake[0] == [b"HELLO", b"3", b"AUTH", b"bob", BOB.password.encode()]
        await wait_until(lambda: session.link is not None and session.link is not old)
        assert session.link is not None
        assert session.link.credentials == BOB
        assert session.stats.reauth_failures == 1
        assert session.stats.replacements == 1
        assert provider.refresh_requests == 0  # not refused: nothing to refresh


async def test_rotation_during_handshake_is_caught_up_before_connect_returns() -> None:
    provider = CountingProvider(ALICE)
    async with rig(provider=provider) as (session, network):
        await session.start()
        connecting = Connecting(session)
        async with anyio.create_task_group() as group:
            group.start_soon(connecting.run)
            server = await network.accept()
            commands = await server.read_handshake()
            assert commands[0] == [b"HELLO", b"3", b"AUTH", b"alice", SECRET.encode()]
            provider.set_credentials(BOB)  # while the handshake is in flight
            await wait_until(lambda: session.latest == BOB)
            await server.send(server.handshake_replies(commands))
            # Logged in as alice, but bob is newer: connect() sends AUTH before it returns.
            assert await server.read_command() == [b"AUTH", b"bob", BOB.password.encode()]
            assert not connecting.done.is_set()
            await server.send(OK)
        link = await connecting.result()
        assert link.credentials == BOB
        assert session.link is link
        assert session.stats.reauths == 1
        assert len(network.servers) == 1


async def test_failed_replacement_leaves_no_link_and_the_next_connect_reconnects() -> None:
    provider = CountingProvider(ALICE)
    async with rig(provider=provider) as (session, network):
        await session.start()
        old, old_server = await connected(session, network)
        provider.set_credentials(BOB)
        await old_server.read_command()  # AUTH bob
        in_flight = old.submit(encode_command("INCR", "n"))
        await old_server.read_command()
        await old_server.send(error(WRONGPASS))
        # The replacement's setup meets an error reply: no link for now, nothing raised.
        failing = await network.accept()
        commands = await failing.read_handshake()
        await failing.send(error("BUSY Redis is busy running a script."), OK, OK)
        await failing.wait_closed()
        await wait_until(lambda: session.link is None)
        # The old link still delivers what was in flight, then closes.
        await old_server.send(integer(7))
        assert await in_flight.wait() == 7
        await old.wait_finished()
        assert session.stats.replacements == 0
        assert session.stats.reauth_failures == 1
        # The next command reconnects, with the newest credentials.
        link, server = await connected(session, network)
        assert server.received[0] == commands[0] == [
            b"HELLO", b"3", b"AUTH", b"bob", BOB.password.encode()
        ]  # fmt: skip
        assert link.credentials == BOB
        assert session.link is link


async def test_provider_error_item_does_not_stop_following() -> None:
    provider = CountingProvider(ALICE)
    async with rig(provider=provider) as (session, network):
        await session.start()
        link, server = await connected(session, network)
        provider.set_error(TokenRefreshError("the identity provider is down"))
        provider.set_credentials(BOB)
        assert await server.read_command() == [b"AUTH", b"bob", BOB.password.encode()]
        await server.send(OK)
        await wait_until(lambda: link.credentials == BOB)
        assert session.link is link
        assert session.following
