"""Managed identity: IMDS and App Service endpoints of the rig, system- and user-assigned."""

from __future__ import annotations

from collections.abc import Callable

import anyio
import pytest

from anyredis_auth import TokenRefreshError
from anyredis_auth._entra import (
    EntraIdCredentialsProvider,
    ManagedIdentityCredentialOptions,
    UserAssignedId,
)
from anyredis_auth.testing.entra import IdentityRig
from tests._servers import ServerProcess
from tests.entra._helpers import connect_and_rotate
from tests.entra.conftest import FAST, SHORT_LIFETIME

pytestmark = pytest.mark.anyio

SCOPES = ["https://redis.azure.com/.default"]


@pytest.fixture(params=["imds", "appservice"])
def endpoint(
    request: pytest.FixtureRequest, rig: IdentityRig, monkeypatch: pytest.MonkeyPatch
) -> str:
    kind = str(request.param)
    env = rig.imds_environment() if kind == "imds" else rig.app_service_environment()
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    return kind


async def test_system_assigned_connects_and_rotates(
    rig: IdentityRig,
    endpoint: str,
    server: ServerProcess,
    acl: Callable[[str, str], None],
    key_prefix: str,
) -> None:
    rig.token_lifetime = SHORT_LIFETIME
    identity = rig.add_managed_identity(system=True)
    rig.add_managed_identity()  # a user-assigned one beside it is not chosen
    provider = EntraIdCredentialsProvider.new_system_assigned_managed_identity(refresh_config=FAST)
    await connect_and_rotate(provider, server, rig, identity.oid, key_prefix + "n")
    _, path, headers, _ = rig.requests[0]
    if endpoint == "imds":
        assert path == "/metadata/identity/oauth2/token" and headers["Metadata"] == "true"
    else:
        assert path == "/msi/token" and headers["X-IDENTITY-HEADER"] == rig.identity_header


async def test_user_assigned_connects_and_rotates(
    rig: IdentityRig,
    endpoint: str,
    server: ServerProcess,
    acl: Callable[[str, str], None],
    key_prefix: str,
) -> None:
    rig.token_lifetime = SHORT_LIFETIME
    rig.add_managed_identity(system=True)
    wanted = rig.add_managed_identity()
    options = ManagedIdentityCredentialOptions(
        user_assigned_id=UserAssignedId.resource_id(wanted.resource_id)
    )
    provider = EntraIdCredentialsProvider.new_user_assigned_managed_identity_with_scopes(
        SCOPES, options, refresh_config=FAST
    )
    await connect_and_rotate(provider, server, rig, wanted.oid, key_prefix + "n")


@pytest.mark.parametrize("kind", ["client_id", "object_id", "resource_id"])
async def test_user_assigned_by_each_id(rig: IdentityRig, endpoint: str, kind: str) -> None:
    rig.add_managed_identity(system=True)
    wanted = rig.add_managed_identity()
    rig.add_managed_identity()
    value = {
        "client_id": wanted.client_id,
        "object_id": wanted.oid,
        "resource_id": wanted.resource_id,
    }
    options = ManagedIdentityCredentialOptions(
        user_assigned_id=getattr(UserAssignedId, kind)(value[kind])
    )
    provider = EntraIdCredentialsProvider.new_user_assigned_managed_identity_with_scopes(
        SCOPES, options, refresh_config=FAST
    )
    async with provider:
        with anyio.fail_after(5):
            credentials = await provider.current_credentials()
    assert credentials.username == wanted.oid


async def test_user_assigned_from_azure_client_id(
    rig: IdentityRig, endpoint: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    wanted = rig.add_managed_identity()
    monkeypatch.setenv("AZURE_CLIENT_ID", wanted.client_id)
    provider = EntraIdCredentialsProvider.new_user_assigned_managed_identity(refresh_config=FAST)
    async with provider:
        with anyio.fail_after(5):
            assert (await provider.current_credentials()).username == wanted.oid


def test_user_assigned_without_an_id_is_refused() -> None:
    with pytest.raises(ValueError, match="AZURE_CLIENT_ID"):
        EntraIdCredentialsProvider.new_user_assigned_managed_identity()
    with pytest.raises(ValueError, match="needs an id"):
        EntraIdCredentialsProvider.new_user_assigned_managed_identity_with_scopes(SCOPES)


async def test_unknown_identity_is_a_clear_error(rig: IdentityRig, endpoint: str) -> None:
    rig.add_managed_identity(system=True)
    options = ManagedIdentityCredentialOptions(user_assigned_id=UserAssignedId.client_id("nope"))
    provider = EntraIdCredentialsProvider.new_user_assigned_managed_identity_with_scopes(
        SCOPES, options, refresh_config=FAST
    )
    async with provider:
        with anyio.fail_after(5), pytest.raises(TokenRefreshError) as caught:
            await provider.current_credentials()
    assert "Identity not found" in str(caught.value)


async def test_endpoint_errors_are_retried(rig: IdentityRig, endpoint: str) -> None:
    identity = rig.add_managed_identity(system=True)
    rig.fail(endpoint, "http500", times=1)
    provider = EntraIdCredentialsProvider.new_system_assigned_managed_identity(refresh_config=FAST)
    async with provider:
        with anyio.fail_after(5):
            assert (await provider.current_credentials()).username == identity.oid
    assert provider.stats.failures == 0  # retried by azure-identity's own policy


def test_options_validation() -> None:
    with pytest.raises(ValueError):
        UserAssignedId.client_id(" ")
    with pytest.raises(ValueError):
        UserAssignedId("name", "x")
    with pytest.raises(ValueError, match="not both"):
        ManagedIdentityCredentialOptions(
            user_assigned_id=UserAssignedId.object_id("o"), credential_options={"client_id": "c"}
        )
    with pytest.raises(ValueError, match="exactly one scope"):
        EntraIdCredentialsProvider.new_system_assigned_managed_identity_with_scopes(["a", "b"])
