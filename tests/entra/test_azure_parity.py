"""Issue 14: the provider behaves as azure-identity does in production, on public API only.

Each test runs on asyncio and trio against the offline rig (local authority, local managed
identity endpoints, fake ``az`` / ``azd``).
"""

from __future__ import annotations

import threading
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

import anyio
import anyio.to_thread
import pytest

import anyredis_auth
from anyredis_auth import RetryConfig, TokenRefreshConfig, TokenRefreshError
from anyredis_auth._entra import EntraIdCredentialsProvider, _sources, is_permanent_error
from anyredis_auth.testing.entra import IdentityRig
from tests._waiting import wait_until
from tests.entra.conftest import FAST, secret

pytestmark = pytest.mark.anyio

SECRET = secret("parity-client-secret-value")
NO_NETWORK: dict[str, Any] = {
    "exclude_managed_identity_credential": True,
    "exclude_shared_token_cache_credential": True,
    "exclude_visual_studio_code_credential": True,
    "exclude_workload_identity_credential": True,
    "exclude_powershell_credential": True,
}


def environment_app(rig: IdentityRig, monkeypatch: pytest.MonkeyPatch) -> Any:
    app = rig.add_app(secret=SECRET)
    monkeypatch.setenv("AZURE_TENANT_ID", rig.tenant_id)
    monkeypatch.setenv("AZURE_CLIENT_ID", app.client_id)
    monkeypatch.setenv("AZURE_CLIENT_SECRET", SECRET)
    monkeypatch.setenv("AZURE_AUTHORITY_HOST", rig.authority)
    return app


async def first_credentials(provider: EntraIdCredentialsProvider, seconds: float = 10) -> Any:
    async with provider:
        with anyio.fail_after(seconds):
            return await provider.current_credentials()


# ---------------------------------------------------------------- 1, 2: DefaultAzureCredential


async def test_default_credential_without_either_cli(
    rig: IdentityRig, monkeypatch: pytest.MonkeyPatch, fake_cli: Path
) -> None:
    app = environment_app(rig, monkeypatch)
    provider = EntraIdCredentialsProvider.new_default_azure_credential(
        refresh_config=FAST,
        connection_verify=rig.ca_file,
        exclude_cli_credential=True,
        exclude_developer_cli_credential=True,
        **NO_NETWORK,
    )
    assert (await first_credentials(provider)).username == app.oid


async def test_default_credential_everything_excluded_is_azure_identitys_error(
    rig: IdentityRig,
) -> None:
    from azure.identity.aio import DefaultAzureCredential

    every = dict(NO_NETWORK, exclude_cli_credential=True, exclude_developer_cli_credential=True,
                 exclude_environment_credential=True)  # fmt: skip
    with pytest.raises(ValueError) as theirs:
        DefaultAzureCredential(**every)
    with pytest.raises(ValueError) as ours:
        EntraIdCredentialsProvider.new_default_azure_credential(refresh_config=FAST, **every)
    assert str(ours.value) == str(theirs.value)


async def test_azure_token_credentials_prod_refuses_the_developer_login(
    rig: IdentityRig, fake_cli: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AZURE_TOKEN_CREDENTIALS", "prod")
    provider = EntraIdCredentialsProvider.new_default_azure_credential(
        refresh_config=FAST, exclude_managed_identity_credential=True
    )
    async with provider:
        with anyio.fail_after(10), pytest.raises(TokenRefreshError):
            await provider.current_credentials()
    assert not any(oid == rig.cli_oid for oid, _ in rig.issued)  # az was never asked


@pytest.mark.parametrize(
    ("value", "tool"), [("azureclicredential", "az"), ("AzureDeveloperCliCredential", "azd")]
)
async def test_azure_token_credentials_names_one_credential(
    rig: IdentityRig, fake_cli: Path, monkeypatch: pytest.MonkeyPatch, value: str, tool: str
) -> None:
    monkeypatch.setenv("AZURE_TOKEN_CREDENTIALS", value)
    provider = EntraIdCredentialsProvider.new_default_azure_credential(refresh_config=FAST)
    assert (await first_credentials(provider)).username == rig.cli_oid
    assert any(r[1] == "/cli/token" for r in rig.requests)  # the fake CLI asked the rig
    # Only the named credential is in the chain: with it logged out, the other tool (still
    # logged in) is not asked.
    rig.cli_logged_in[tool] = False
    rig.issued.clear()
    provider = EntraIdCredentialsProvider.new_default_azure_credential(
        refresh_config=replace(FAST, permanent_error_retry_interval=60)
    )
    async with provider:
        with anyio.fail_after(10), pytest.raises(TokenRefreshError):
            await provider.current_credentials()
    assert not rig.issued


async def test_azure_token_credentials_dev_uses_the_developer_login(
    rig: IdentityRig, fake_cli: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    environment_app(rig, monkeypatch)  # configured, but "dev" excludes it
    monkeypatch.setenv("AZURE_TOKEN_CREDENTIALS", "dev")
    provider = EntraIdCredentialsProvider.new_default_azure_credential(
        refresh_config=FAST, exclude_visual_studio_code_credential=True,
        exclude_shared_token_cache_credential=True, exclude_powershell_credential=True,
    )  # fmt: skip
    assert (await first_credentials(provider)).username == rig.cli_oid


@pytest.mark.parametrize(
    ("env", "options"),
    [(None, {"require_envvar": True}), ("", {"require_envvar": True}), ("nonsense", {})],
)
async def test_construction_errors_are_azure_identitys(
    monkeypatch: pytest.MonkeyPatch, env: str | None, options: dict[str, Any]
) -> None:
    from azure.identity.aio import DefaultAzureCredential

    if env is None:
        monkeypatch.delenv("AZURE_TOKEN_CREDENTIALS", raising=False)
    else:
        monkeypatch.setenv("AZURE_TOKEN_CREDENTIALS", env)
    with pytest.raises(ValueError) as theirs:
        DefaultAzureCredential(**options)
    with pytest.raises(ValueError) as ours:
        EntraIdCredentialsProvider.new_default_azure_credential(**options)
    assert str(ours.value) == str(theirs.value)


async def test_require_envvar_with_the_variable_set(
    rig: IdentityRig, fake_cli: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AZURE_TOKEN_CREDENTIALS", "AzureCliCredential")
    provider = EntraIdCredentialsProvider.new_default_azure_credential(
        refresh_config=FAST, require_envvar=True
    )
    assert (await first_credentials(provider)).username == rig.cli_oid


# ---------------------------------------------------------------- 3: Service Fabric


async def test_service_fabric_endpoint_is_not_verified_as_azure_identity_does(
    rig: IdentityRig, monkeypatch: pytest.MonkeyPatch
) -> None:
    identity = rig.add_managed_identity(system=True)
    for name, value in rig.service_fabric_environment().items():
        monkeypatch.setenv(name, value)
    # No connection_verify: the rig's certificate is not trusted, as a cluster's is not.
    provider = EntraIdCredentialsProvider.new_system_assigned_managed_identity(refresh_config=FAST)
    assert (await first_credentials(provider)).username == identity.oid
    _, path, headers, _ = rig.requests[-1]
    assert path == "/servicefabric/token" and headers["Secret"] == rig.identity_header


async def test_tls_is_still_verified_for_everything_else(
    rig: IdentityRig, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name, value in rig.service_fabric_environment().items():
        monkeypatch.setenv(name, value)
    app = rig.add_app(secret=SECRET)
    provider = EntraIdCredentialsProvider.new_client_secret(
        rig.tenant_id, app.client_id, SECRET, refresh_config=FAST, retry_total=0,
        authority=rig.authority,
    )  # fmt: skip
    async with provider:
        with anyio.fail_after(5), pytest.raises(TokenRefreshError) as caught:
            await provider.current_credentials()
    assert "CERTIFICATE_VERIFY_FAILED" in str(caught.value)


# ---------------------------------------------------------------- 4: IMDS retry policy

SLOW_ENOUGH = replace(FAST, request_timeout=20.0)


@pytest.fixture
def imds(rig: IdentityRig, monkeypatch: pytest.MonkeyPatch) -> Any:
    for name, value in rig.imds_environment().items():
        monkeypatch.setenv(name, value)
    return rig.add_managed_identity(system=True)


async def test_imds_recovers_after_a_few_errors_within_seconds(rig: IdentityRig, imds: Any) -> None:
    rig.fail("imds", "http500", times=3)
    provider = EntraIdCredentialsProvider.new_system_assigned_managed_identity(
        refresh_config=SLOW_ENOUGH
    )
    started = time.monotonic()
    assert (await first_credentials(provider, 15)).username == imds.oid
    assert time.monotonic() - started < 10
    assert provider.stats.failures == 0  # azure-identity's IMDS policy retried them


@pytest.mark.parametrize("status", [500, 503, 410, 429, 404])
async def test_transient_imds_answers_are_retried_promptly(
    rig: IdentityRig, imds: Any, status: int
) -> None:
    rig.fail("imds", "status", status=status)
    provider = EntraIdCredentialsProvider.new_system_assigned_managed_identity(
        refresh_config=SLOW_ENOUGH
    )
    started = time.monotonic()
    assert (await first_credentials(provider)).username == imds.oid
    assert time.monotonic() - started < 3
    assert len([r for r in rig.requests if r[1] == "/metadata/identity/oauth2/token"]) == 2


# ---------------------------------------------------------------- 5: the TLS reason on both loops


async def test_tls_failure_names_its_reason(rig: IdentityRig) -> None:
    app = rig.add_app(secret=SECRET)
    provider = EntraIdCredentialsProvider.new_client_secret(
        rig.tenant_id, app.client_id, SECRET, refresh_config=FAST, retry_total=0,
        authority=rig.authority, disable_instance_discovery=True,
    )  # fmt: skip
    async with provider:
        with anyio.fail_after(5), pytest.raises(TokenRefreshError) as caught:
            await provider.current_credentials()
    message = str(caught.value)
    assert "ServiceRequestError" in message
    assert "CERTIFICATE_VERIFY_FAILED" in message, message


# ---------------------------------------------------------------- 6: public transport, workload


async def test_user_built_aio_credential_on_the_public_transport(rig: IdentityRig) -> None:
    from azure.identity.aio import ClientSecretCredential

    app = rig.add_app(secret=SECRET)
    transport = anyredis_auth.new_entra_transport(connection_verify=rig.ca_file)
    credential = ClientSecretCredential(
        rig.tenant_id, app.client_id, SECRET, authority=rig.authority, transport=transport
    )
    provider = EntraIdCredentialsProvider.new_with_credential(credential, refresh_config=FAST)
    assert (await first_credentials(provider)).username == app.oid
    await credential.close()


async def test_workload_identity(
    rig: IdentityRig, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    federated = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJzeXN0ZW06c2VydmljZWFjY291bnQ6d2kifQ.c2ln"
    token_file = tmp_path / "token"
    token_file.write_text(federated)
    app = rig.add_app(federated_token=federated)
    monkeypatch.setenv("AZURE_TENANT_ID", rig.tenant_id)
    monkeypatch.setenv("AZURE_CLIENT_ID", app.client_id)
    monkeypatch.setenv("AZURE_FEDERATED_TOKEN_FILE", str(token_file))
    provider = EntraIdCredentialsProvider.new_workload_identity(
        refresh_config=FAST, **rig.authority_options()
    )
    assert (await first_credentials(provider)).username == app.oid
    provider = EntraIdCredentialsProvider.new_workload_identity_with_scopes(
        ["https://redis.azure.com/.default"], rig.authority_options(), refresh_config=FAST
    )
    assert (await first_credentials(provider)).username == app.oid
    body = next(r[3] for r in rig.requests if r[0] == "POST")
    assert b"client_assertion=" + federated.encode() in body


# ---------------------------------------------------------------- 7: permanent vs transient

PERMANENT = replace(FAST, permanent_error_retry_interval=60.0)


@pytest.mark.parametrize("case", ["wrong secret", "unknown client", "unknown tenant"])
async def test_permanent_errors_are_reported_at_once_and_retried_slowly(
    rig: IdentityRig, case: str
) -> None:
    app = rig.add_app(secret=SECRET)
    tenant, client, value = rig.tenant_id, app.client_id, SECRET
    if case == "wrong secret":
        value = secret("not-the-" + SECRET)
    elif case == "unknown client":
        client = "00000000-0000-0000-0000-000000000001"
    else:
        rig.fail("token", "aadsts")  # AADSTS90002: tenant not found
    provider = EntraIdCredentialsProvider.new_client_secret(
        tenant, client, value, refresh_config=PERMANENT, **rig.authority_options()
    )
    async with provider, provider.subscribe() as stream:
        with anyio.fail_after(5):
            item = await stream.receive()
        assert isinstance(item, TokenRefreshError)
        assert "permanent" in str(item)
        assert is_permanent_error(item.__cause__)  # type: ignore[arg-type]
        await anyio.sleep(0.5)  # FAST's back-off would have retried several times by now
        assert sum(1 for r in rig.requests if r[0] == "POST") == 1
        next_at = provider.stats.next_refresh_at
        assert next_at is not None and next_at - time.time() > 25  # 60 s +/- 50 %


async def test_a_token_without_oid_is_permanent() -> None:
    from azure.core.credentials import AccessTokenInfo

    class Opaque:
        calls = 0

        def get_token_info(self, *scopes: str, options: Any = None) -> AccessTokenInfo:
            Opaque.calls += 1
            return AccessTokenInfo("opaque-not-a-jwt", int(time.time()) + 3600)

    provider = EntraIdCredentialsProvider.new_with_credential(Opaque(), refresh_config=PERMANENT)
    async with provider, provider.subscribe() as stream:
        with anyio.fail_after(5):
            item = await stream.receive()
        await anyio.sleep(0.3)
    assert isinstance(item, TokenRefreshError) and "permanent" in str(item)
    assert Opaque.calls == 1


async def test_the_slow_cadence_is_configurable(rig: IdentityRig) -> None:
    app = rig.add_app(secret=SECRET)
    config = replace(FAST, permanent_error_retry_interval=0.3)
    provider = EntraIdCredentialsProvider.new_client_secret(
        rig.tenant_id, app.client_id, secret("wrong-" + SECRET), refresh_config=config,
        **rig.authority_options(),
    )  # fmt: skip
    async with provider:
        await wait_until(lambda: provider.stats.failures >= 3, 5)
    with pytest.raises(ValueError, match="permanent_error_retry_interval"):
        TokenRefreshConfig(permanent_error_retry_interval=0)


async def test_transient_errors_stay_on_the_back_off(rig: IdentityRig) -> None:
    app = rig.add_app(secret=SECRET)
    rig.fail("token", "garbage", times=3)
    config = replace(FAST, retry_config=RetryConfig(max_attempts=5, initial_delay=0.05,
                                                   max_delay=0.2))  # fmt: skip
    provider = EntraIdCredentialsProvider.new_client_secret(
        rig.tenant_id, app.client_id, SECRET, refresh_config=config, **rig.authority_options()
    )
    assert (await first_credentials(provider)).username == app.oid
    assert provider.stats.failures == 3


def test_classification() -> None:
    from azure.core.exceptions import ClientAuthenticationError, ServiceRequestError

    from anyredis_auth import AuthenticationError

    assert is_permanent_error(ClientAuthenticationError("AADSTS7000215: Invalid client secret"))
    assert is_permanent_error(ClientAuthenticationError("AADSTS700016: Application not found"))
    assert is_permanent_error(AuthenticationError("the access token has no oid claim"))
    assert not is_permanent_error(ClientAuthenticationError("AADSTS700024: not in time range"))
    assert not is_permanent_error(ServiceRequestError("Connection refused"))
    assert not is_permanent_error(TimeoutError("token request timed out"))


# ---------------------------------------------------------------- 9: public API only


async def test_each_scheduled_refresh_is_one_token_request(rig: IdentityRig) -> None:
    rig.token_lifetime = 2.0
    app = rig.add_app(secret=SECRET)
    provider = EntraIdCredentialsProvider.new_client_secret(
        rig.tenant_id, app.client_id, SECRET, refresh_config=FAST, **rig.authority_options()
    )
    async with provider:
        await wait_until(lambda: provider.stats.refreshes >= 4, 10)
        refreshes = provider.stats.refreshes
        posts = [r for r in rig.requests if r[0] == "POST"]
    assert len(posts) in (refreshes, refreshes + 1)  # one may be in flight at the exit
    assert not [r for r in rig.requests if r[0] == "GET"]  # no discovery request
    assert len({token for _, token in rig.issued}) == len(rig.issued)


async def test_each_scheduled_managed_identity_refresh_is_one_request(
    rig: IdentityRig, imds: Any
) -> None:
    rig.token_lifetime = 2.0
    provider = EntraIdCredentialsProvider.new_system_assigned_managed_identity(refresh_config=FAST)
    async with provider:
        await wait_until(lambda: provider.stats.refreshes >= 3, 10)
        refreshes = provider.stats.refreshes
        requests = len(rig.requests)
    assert requests in (refreshes, refreshes + 1)


async def test_request_refresh_forces_a_new_token_from_a_cached_user_credential(
    rig: IdentityRig,
) -> None:
    from azure.identity.aio import ClientSecretCredential

    app = rig.add_app(secret=SECRET)
    credential = ClientSecretCredential(
        rig.tenant_id, app.client_id, SECRET, authority=rig.authority,
        transport=anyredis_auth.new_entra_transport(connection_verify=rig.ca_file),
    )  # fmt: skip
    # Nothing of azure-identity is replaced on the user's credential.
    assert "_acquire_token_silently" not in vars(credential)
    provider = EntraIdCredentialsProvider.new_with_credential(credential, refresh_config=FAST)
    async with provider:
        with anyio.fail_after(5):
            first = await provider.current_credentials()
        # The credential's cache is trusted: refresh when it renews (expiry - 4..5 min).
        next_at = provider.stats.next_refresh_at
        expires = provider.stats.expires_at
        assert next_at is not None and expires is not None
        assert 240 <= expires - next_at <= 300
        provider.request_refresh()
        await wait_until(lambda: provider.stats.refreshes >= 2, 5)
        assert (await provider.current_credentials()).password != first.password
    assert len(rig.issued) == 2
    post = [r[3] for r in rig.requests if r[0] == "POST"][-1]
    assert b"claims=" in post  # the forced request carried a claims challenge
    await credential.close()


def test_no_private_azure_identity_name_is_used() -> None:
    root = Path(anyredis_auth.__file__).parent / "_entra"
    for path in root.glob("*.py"):
        text = path.read_text()
        assert "_acquire_token_silently" not in text, path
        assert "azure.identity._" not in text, path


# ---------------------------------------------------------------- also: sync calls' own limiter


async def test_hung_sync_calls_do_not_exhaust_anyios_thread_limiter() -> None:
    release = threading.Event()

    class Hangs:
        def get_token(self, *scopes: str, **kwargs: Any) -> Any:
            release.wait(20)
            raise RuntimeError("released")

    config = TokenRefreshConfig(
        request_timeout=0.05,
        retry_config=RetryConfig(max_attempts=50, initial_delay=0.01, max_delay=0.01),
    )
    provider = EntraIdCredentialsProvider.new_with_credential(Hangs(), refresh_config=config)
    default = anyio.to_thread.current_default_thread_limiter()
    try:
        async with provider:
            await wait_until(lambda: provider.stats.failures >= 20, 10)
            assert default.borrowed_tokens == 0  # abandoned calls hold none of anyio's tokens
            # ...and they are bounded: past the limit, calls fail at once and clearly.
            assert _sources._slots.running <= _sources.SYNC_CALL_LIMIT
            assert "SyncCredentialBusyError" in (provider.stats.last_error or "")
    finally:
        release.set()
    await wait_until(lambda: _sources._slots.running == 0, 10)
