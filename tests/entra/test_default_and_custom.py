"""DefaultAzureCredential (our chain) and users' own sync / async credentials."""

from __future__ import annotations

import json
import threading
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

import anyio
import anyio.lowlevel
import pytest
from azure.core.credentials import AccessToken, AccessTokenInfo

from anyredis_auth._entra import EntraIdCredentialsProvider
from anyredis_auth.testing.entra import IdentityRig
from tests._servers import ServerProcess
from tests.entra._helpers import connect_and_rotate
from tests.entra.conftest import FAST, SHORT_LIFETIME, secret

pytestmark = pytest.mark.anyio

SECRET = secret("default-credential-secret")
NO_NETWORK: dict[str, Any] = {
    "exclude_managed_identity_credential": True,
    "exclude_shared_token_cache_credential": True,
    "exclude_visual_studio_code_credential": True,
    "exclude_workload_identity_credential": True,
}


async def test_default_credential_from_environment(
    rig: IdentityRig,
    server: ServerProcess,
    acl: Callable[[str, str], None],
    key_prefix: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    rig.token_lifetime = SHORT_LIFETIME
    app = rig.add_app(secret=SECRET)
    monkeypatch.setenv("AZURE_TENANT_ID", rig.tenant_id)
    monkeypatch.setenv("AZURE_CLIENT_ID", app.client_id)
    monkeypatch.setenv("AZURE_CLIENT_SECRET", SECRET)
    monkeypatch.setenv("AZURE_AUTHORITY_HOST", rig.authority)
    provider = EntraIdCredentialsProvider.new_default_azure_credential(
        refresh_config=FAST, connection_verify=rig.ca_file, **NO_NETWORK
    )
    await connect_and_rotate(provider, server, rig, app.oid, key_prefix + "n")
    assert provider.source_name == "DefaultAzureCredential"


async def test_default_credential_falls_through_to_the_cli(
    rig: IdentityRig, fake_cli: Path
) -> None:
    rig.cli_logged_in["az"] = False
    provider = EntraIdCredentialsProvider.new_default_azure_credential_with_scopes(
        ["https://redis.azure.com/.default"], NO_NETWORK, refresh_config=FAST
    )
    async with provider:
        with anyio.fail_after(10):
            credentials = await provider.current_credentials()
    assert credentials.username == rig.cli_oid
    assert provider.source_name == "DefaultAzureCredential"


class SyncRigCredential:
    """A user's sync credential (SupportsTokenInfo): blocks, so it must run in a thread."""

    def __init__(self, rig: IdentityRig) -> None:
        self.url = f"{rig.mi_endpoint}/cli/token?tool=az&resource=https://redis.azure.com"
        self.threads: list[str] = []

    def get_token_info(self, *scopes: str, options: Any = None) -> AccessTokenInfo:
        self.threads.append(threading.current_thread().name)
        with urllib.request.urlopen(self.url, timeout=5) as reply:
            answer = json.load(reply)
        return AccessTokenInfo(answer["token"], answer["exp"], refresh_on=None)


class AsyncRigCredential:
    """A user's async credential with get_token only (AsyncTokenCredential)."""

    def __init__(self, rig: IdentityRig) -> None:
        self.rig = rig
        self.calls = 0
        self.closed = False

    async def get_token(self, *scopes: str, **kwargs: Any) -> AccessToken:
        self.calls += 1
        await anyio.lowlevel.checkpoint()
        token, exp = self.rig._issue(self.rig.cli_oid, self.rig.tenant_id, "aud", None)
        return AccessToken(token, exp)

    async def close(self) -> None:
        self.closed = True


async def test_custom_sync_credential_runs_in_a_worker_thread(
    rig: IdentityRig, server: ServerProcess, acl: Callable[[str, str], None], key_prefix: str
) -> None:
    rig.token_lifetime = SHORT_LIFETIME
    credential = SyncRigCredential(rig)
    provider = EntraIdCredentialsProvider.new_with_credential(credential, refresh_config=FAST)
    await connect_and_rotate(provider, server, rig, rig.cli_oid, key_prefix + "n")
    assert credential.threads and threading.main_thread().name not in credential.threads


async def test_custom_async_credential_is_awaited(
    rig: IdentityRig, server: ServerProcess, acl: Callable[[str, str], None], key_prefix: str
) -> None:
    rig.token_lifetime = SHORT_LIFETIME
    credential = AsyncRigCredential(rig)
    provider = EntraIdCredentialsProvider.new_with_credential(
        credential, ["https://redis.azure.com/.default"], refresh_config=FAST
    )
    await connect_and_rotate(provider, server, rig, rig.cli_oid, key_prefix + "n")
    assert credential.calls >= 2
    assert not credential.closed  # the user's credential stays the user's


async def test_azure_sync_client_secret_credential(
    rig: IdentityRig, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A real sync azure-identity credential (MSAL + requests) trusts the rig by
    REQUESTS_CA_BUNDLE and runs in a worker thread."""
    from azure.identity import ClientSecretCredential

    monkeypatch.setenv("REQUESTS_CA_BUNDLE", rig.ca_file)
    app = rig.add_app(secret=SECRET)
    credential = ClientSecretCredential(
        rig.tenant_id,
        app.client_id,
        SECRET,
        authority=rig.authority,
        disable_instance_discovery=True,
    )
    provider = EntraIdCredentialsProvider.new_with_credential(credential, refresh_config=FAST)
    async with provider:
        with anyio.fail_after(10):
            credentials = await provider.current_credentials()
    assert credentials.username == app.oid
    credential.close()


async def test_default_credential_with_workload_identity(
    rig: IdentityRig, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    federated = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJzeXN0ZW06c2VydmljZWFjY291bnQifQ.c2ln"
    token_file = tmp_path / "token"
    token_file.write_text(federated)
    app = rig.add_app(federated_token=federated)
    monkeypatch.setenv("AZURE_TENANT_ID", rig.tenant_id)
    monkeypatch.setenv("AZURE_CLIENT_ID", app.client_id)
    monkeypatch.setenv("AZURE_FEDERATED_TOKEN_FILE", str(token_file))
    monkeypatch.setenv("AZURE_AUTHORITY_HOST", rig.authority)
    options = dict(NO_NETWORK, exclude_workload_identity_credential=False)
    provider = EntraIdCredentialsProvider.new_default_azure_credential(
        refresh_config=FAST, connection_verify=rig.ca_file, **options
    )
    async with provider:
        with anyio.fail_after(10):
            credentials = await provider.current_credentials()
    assert credentials.username == app.oid
    body = next(r[3] for r in rig.requests if r[0] == "POST")
    assert b"client_assertion=" + federated.encode() in body
