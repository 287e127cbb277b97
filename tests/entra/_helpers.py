"""Shared steps of the Entra ID end-to-end tests."""

from __future__ import annotations

import anyio

from anyredis_auth import Client
from anyredis_auth._entra import EntraIdCredentialsProvider, oid_from_token
from anyredis_auth.testing.entra import IdentityRig
from tests._servers import ServerProcess
from tests._waiting import wait_until


async def connect_and_rotate(
    provider: EntraIdCredentialsProvider,
    server: ServerProcess,
    rig: IdentityRig,
    oid: str,
    key: str,
    *,
    rotations: int = 1,
) -> None:
    """Connect as ``oid`` with the rig's token, run commands, see the token rotate (the
    connection re-authenticates in line) and commands keep working."""
    async with Client.open_with_credentials_provider(server.url, provider) as client:
        con = await client.get_multiplexed_async_connection()
        assert await con.execute("ACL", "WHOAMI") == oid.encode()
        await con.execute("SET", key, "0")
        first = await provider.current_credentials()
        assert first.username == oid
        assert oid_from_token(first.password) == oid
        for round_ in range(1, rotations + 1):
            with anyio.fail_after(10):
                while con.stats.reauths < round_:
                    assert await con.execute("INCR", key) >= 1
                    await anyio.sleep(0.05)
        assert await con.execute("ACL", "WHOAMI") == oid.encode()
        assert int(await con.execute("GET", key)) >= 1
        latest = await provider.current_credentials()
        assert latest.password != first.password  # a new token, the same user
        assert con.stats.reauth_failures == 0
        assert provider.stats.refreshes >= rotations + 1
    assert any(token == latest.password for _, token in rig.issued)
    # Each refresh was a request to the rig: no cache in between second-guessed the schedule
    # (a cached token handed out again would count as a refresh without an issued token).
    assert provider.stats.refreshes <= sum(1 for issued_oid, _ in rig.issued if issued_oid == oid)
    await wait_until(lambda: not provider.running)
