"""Credentials with no username (issue 12, edge 13): the ``default`` user's password.

``Credentials(None, password)`` logs in as ``default``: ``AUTH <password>`` on RESP2 and
``HELLO 3 AUTH default <password>`` on RESP3 must agree, for the first handshake, for every
in-band re-authentication pushed by a provider, for a reconnect after a rotation, for blocking
commands (their dedicated connection re-authenticates per segment) and for a subscriber.

Each test gets a server of its own whose ``default`` user is given a password, by ``requirepass``
or by ``ACL SETUSER``; a rotation replaces the password on the server (the old one stops working)
before the new credentials are pushed, so a re-authentication that sent the wrong thing would be
refused and counted in ``stats.reauth_failures``.
"""

from __future__ import annotations

import logging
import os
import secrets
from collections.abc import Iterator

import anyio
import pytest

from anyredis_auth import Client, Credentials
from anyredis_auth.testing import ManualCredentialsProvider
from tests import _secrets
from tests._servers import KINDS, ServerProcess, admin_command, find_binary
from tests._waiting import wait_until

pytestmark = pytest.mark.anyio

ROTATIONS = 3
IN_CI = os.environ.get("CI", "").lower() in {"1", "true", "yes"}


MODES = {
    # mode: (the client's `protocol` option, the server's extra arguments, the protocol spoken)
    "resp3": (3, (), 3),
    "resp2": (2, (), 2),
    # A server without HELLO. A subscriber still tries HELLO 3 AUTH default <password> first
    # and, refused, logs in with AUTH <password> on the same socket.
    "resp2-only": (2, ("--rename-command", "HELLO", '""'), 2),
}


@pytest.fixture(params=[(kind, mode) for kind in KINDS for mode in MODES], ids="-".join)
def target(request: pytest.FixtureRequest) -> Iterator[tuple[ServerProcess, int, int]]:
    """A server for this test alone, the `protocol` option to give and the protocol spoken."""
    kind, mode = request.param
    binary = find_binary(kind)
    if binary is None:
        if IN_CI:
            pytest.fail(f"{kind}-server is not installed")
        pytest.skip(f"{kind}-server is not installed")
    option, extra_args, spoken = MODES[mode]
    process = ServerProcess(kind, binary, extra_args=extra_args)
    process.start()
    try:
        yield process, option, spoken
    finally:
        process.close()


@pytest.fixture(params=["requirepass", "acl"])
def how(request: pytest.FixtureRequest) -> str:
    """How the default user's password is set and changed on the server."""
    return str(request.param)


class DefaultPassword:
    """The `default` user's password on `server`, changed the way `how` says."""

    def __init__(self, server: ServerProcess, how: str) -> None:
        self.server = server
        self.how = how
        self.current: str | None = None

    def admin(self, *args: str | int) -> object:
        return admin_command(self.server.host, self.server.port, *args, password=self.current)

    def change(self) -> Credentials:
        """A new password for `default` (the previous one stops working); its credentials."""
        password = _secrets.issued(f"pw-{secrets.token_urlsafe(16)}")
        if self.how == "requirepass":
            self.admin("CONFIG", "SET", "requirepass", password)
        else:
            self.admin("ACL", "SETUSER", "default", "on", "resetpass", f">{password}")
        self.current = password
        return Credentials(None, password)


@pytest.fixture
def default_password(target: tuple[ServerProcess, int, int], how: str) -> DefaultPassword:
    return DefaultPassword(target[0], how)


@pytest.fixture
def no_warnings(caplog: pytest.LogCaptureFixture) -> pytest.LogCaptureFixture:
    """The library's records: a refused (re-)authentication is logged as a warning."""
    caplog.set_level(logging.INFO, logger="anyredis_auth")
    return caplog


def _warnings(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [
        record.getMessage()
        for record in caplog.records
        if record.name.startswith("anyredis_auth") and record.levelno >= logging.WARNING
    ]


async def test_url_password_without_username(
    target: tuple[ServerProcess, int, int], default_password: DefaultPassword
) -> None:
    own_server, protocol, spoken = target
    credentials = default_password.change()
    url = f"redis://:{credentials.password}@{own_server.host}:{own_server.port}"
    async with Client.from_url(url, protocol=protocol) as client:
        con = await client.get_multiplexed_async_connection()
        assert await con.execute("ACL", "WHOAMI") == b"default"
        info = await con.execute("CLIENT", "INFO")
        assert f"resp={spoken}".encode() in info
        # A blocking command's dedicated connection logs in the same way.
        await con.rpush("queue", "x")
        assert await con.blpop("queue", timeout=1) == (b"queue", b"x")


async def test_provider_rotations_without_username(
    target: tuple[ServerProcess, int, int],
    default_password: DefaultPassword,
    no_warnings: pytest.LogCaptureFixture,
) -> None:
    own_server, protocol, spoken = target
    provider = ManualCredentialsProvider(default_password.change())
    async with Client.open_with_credentials_provider(
        own_server.url, provider, protocol=protocol
    ) as client:
        con = await client.get_multiplexed_async_connection()
        assert await con.execute("ACL", "WHOAMI") == b"default"  # the first AUTH
        info = await con.execute("CLIENT", "INFO")
        assert f"resp={spoken}".encode() in info
        # Open the blocking connection now, on the first password.
        assert await con.blpop("queue", timeout=0.1) is None
        for rotation in range(1, ROTATIONS + 1):
            provider.set_credentials(default_password.change())  # the old password is gone
            await wait_until(lambda: con.stats.reauths == rotation)  # noqa: B023
            assert con.stats.reauth_failures == 0, con.stats.last_reauth_error
            assert await con.incr("counter") == rotation
            assert await con.execute("ACL", "WHOAMI") == b"default"
            # The blocking connection re-authenticates in front of its next segment.
            await con.rpush("queue", rotation)
            assert await con.blpop("queue", timeout=1) == (b"queue", str(rotation).encode())
        assert con.stats.connects == 1  # every rotation went in band: nothing was replaced
        assert con.stats.replacements == 0
    assert _warnings(no_warnings) == []


async def test_reconnect_after_rotation_without_username(
    target: tuple[ServerProcess, int, int],
    default_password: DefaultPassword,
    no_warnings: pytest.LogCaptureFixture,
) -> None:
    """A new handshake (after the socket died) uses the newest password, with no username."""
    own_server, protocol, spoken = target
    provider = ManualCredentialsProvider(default_password.change())
    async with Client.open_with_credentials_provider(
        own_server.url, provider, protocol=protocol, retry_on_connection_error=True
    ) as client:
        con = await client.get_multiplexed_async_connection()
        assert await con.ping() is True
        provider.set_credentials(default_password.change())
        await wait_until(lambda: con.stats.reauths == 1)
        client_id = await con.execute("CLIENT", "ID")
        default_password.admin("CLIENT", "KILL", "ID", int(client_id))
        with anyio.fail_after(10):
            assert await con.execute("ACL", "WHOAMI") == b"default"
        assert con.stats.connects == 2 and con.stats.reauth_failures == 0
        info = await con.execute("CLIENT", "INFO")
        assert f"resp={spoken}".encode() in info
        # And a second client on the same provider starts on the newest password.
        async with Client.open_with_credentials_provider(
            own_server.url, provider, protocol=protocol
        ) as second:
            other = await second.get_multiplexed_async_connection()
            assert await other.execute("ACL", "WHOAMI") == b"default"
    assert _warnings(no_warnings) == []


async def test_subscriber_rotations_without_username(
    target: tuple[ServerProcess, int, int],
    default_password: DefaultPassword,
    no_warnings: pytest.LogCaptureFixture,
) -> None:
    """A subscriber re-authenticates in band (RESP3) or by the switch-over (RESP2).

    Its first connection tries ``HELLO 3 AUTH default <password>`` whatever `protocol` says,
    and falls back to RESP2 when the server does not know HELLO.
    """
    own_server, protocol, _ = target
    provider = ManualCredentialsProvider(default_password.change())
    # Redis >= 7.2 and Valkey answer the HELLO they do not know with NOAUTH (not "unknown
    # command") while the default user has a password: that must still mean "no HELLO".
    knows_hello = "HELLO" not in own_server.extra_args
    async with (
        Client.open_with_credentials_provider(
            own_server.url, provider, protocol=protocol
        ) as client,
        client.pubsub() as pubsub,
    ):
        await pubsub.subscribe("news")
        for rotation in range(1, ROTATIONS + 1):
            provider.set_credentials(default_password.change())
            await wait_until(lambda: pubsub.stats.reauths == rotation)  # noqa: B023
            assert pubsub.stats.reauth_failures == 0, pubsub.stats.last_reauth_error
            assert default_password.admin("PUBLISH", "news", rotation) == 1
            with anyio.fail_after(5):
                message = await pubsub.get_message()
            assert message is not None and message.data == str(rotation).encode()
        stats = pubsub.stats
        assert stats.connects == 1 and stats.gaps == 0 and stats.replacements == 0
        assert pubsub.protocol == (3 if knows_hello else 2)  # RESP3 wherever the server has it
        if pubsub.protocol == 2:  # every re-authentication was a switch-over
            assert stats.switchovers == ROTATIONS
    assert _warnings(no_warnings) == []
