"""The whole Entra path behind the Azure-like front: azure-identity gets tokens from the rig, the
front checks each AUTH against the rig's signing key (signature, audience, expiry, oid) and
closes any connection whose token expired without a fresh AUTH."""

from __future__ import annotations

from collections.abc import Callable

import anyio
import pytest

from anyredis_auth import AuthenticationError, Client, StaticCredentialsProvider
from anyredis_auth._entra import EntraIdCredentialsProvider
from anyredis_auth.testing.entra import IdentityRig
from tests._azure_front import AzureFront
from tests._servers import ServerProcess
from tests.entra.conftest import FAST, secret

pytestmark = pytest.mark.anyio

SECRET = secret("front-client-secret-value")


async def test_entra_tokens_through_the_azure_front(
    rig: IdentityRig, server: ServerProcess, key_prefix: str
) -> None:
    rig.token_lifetime = 3
    app = rig.add_app(secret=SECRET)
    front = AzureFront(server, rig.verify_token)
    provider = EntraIdCredentialsProvider.new_client_secret(
        rig.tenant_id, app.client_id, SECRET, refresh_config=FAST, **rig.authority_options()
    )
    errors: list[BaseException] = []
    ops = 0
    async with anyio.create_task_group() as group:
        await group.start(front.run)
        async with Client.open_with_credentials_provider(front.url, provider) as client:
            con = await client.get_multiplexed_async_connection()

            async def worker(index: int) -> None:
                nonlocal ops
                with anyio.move_on_after(7):  # more than two token lifetimes
                    while True:
                        try:
                            await con.execute("SET", f"{key_prefix}{index}", ops)
                        except Exception as exc:
                            errors.append(exc)
                            return
                        ops += 1

            async with anyio.create_task_group() as workers:
                for index in range(50):
                    workers.start_soon(worker, index)
            assert await con.execute("ACL", "WHOAMI") == app.oid.encode()
        group.cancel_scope.cancel()
    assert errors == []
    assert front.closed_for_expiry == 0 and front.refused == 0
    assert front.auths >= 3 and con.stats.reauths >= 2 and con.stats.connects == 1
    assert ops > 1000


async def test_the_front_refuses_a_forged_or_foreign_token(
    rig: IdentityRig, server: ServerProcess, acl: Callable[[str, str], None]
) -> None:
    app = rig.add_app(secret=SECRET)
    front = AzureFront(server, rig.verify_token)
    async with anyio.create_task_group() as group:
        await group.start(front.run)
        other = IdentityRig().start()  # another authority: its signature is not trusted
        try:
            foreign_app = other.add_app(secret=SECRET)
            foreign = EntraIdCredentialsProvider.new_client_secret(
                other.tenant_id, foreign_app.client_id, SECRET, **other.authority_options()
            )
            async with Client.open_with_credentials_provider(front.url, foreign) as client:
                with pytest.raises(AuthenticationError):
                    await client.get_multiplexed_async_connection()
        finally:
            other.close()
        genuine = EntraIdCredentialsProvider.new_client_secret(
            rig.tenant_id, app.client_id, SECRET, **rig.authority_options()
        )
        async with genuine:
            token = await genuine.current_credentials()
        wrong_user = StaticCredentialsProvider("someone-else", token.password)
        async with Client.open_with_credentials_provider(front.url, wrong_user) as client:
            with pytest.raises(AuthenticationError):  # a valid token, but not this oid's
                await client.get_multiplexed_async_connection()
        group.cancel_scope.cancel()
    assert front.refused == 2
