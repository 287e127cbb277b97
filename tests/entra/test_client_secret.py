"""Client secret flow end to end: azure.identity.aio on our httpx transport, the rig, Redis."""

from __future__ import annotations

import logging
from collections.abc import Callable

import anyio
import pytest

from anyredis_auth import Credentials, TokenRefreshConfig, TokenRefreshError
from anyredis_auth._entra import EntraIdCredentialsProvider
from anyredis_auth.testing.entra import IdentityRig
from tests._servers import ServerProcess
from tests._waiting import wait_until
from tests.entra._helpers import connect_and_rotate
from tests.entra.conftest import FAST, SHORT_LIFETIME, secret

pytestmark = pytest.mark.anyio

SECRET = secret("s3cr3t-Value~of.a_client")


def secret_provider(
    rig: IdentityRig, client_id: str, secret: str = SECRET
) -> EntraIdCredentialsProvider:
    return EntraIdCredentialsProvider.new_client_secret(
        rig.tenant_id, client_id, secret, refresh_config=FAST, **rig.authority_options()
    )


async def test_client_secret_connects_and_rotates(
    rig: IdentityRig, server: ServerProcess, acl: Callable[[str, str], None], key_prefix: str
) -> None:
    rig.token_lifetime = SHORT_LIFETIME
    app = rig.add_app(secret=SECRET)
    provider = secret_provider(rig, app.client_id)
    await connect_and_rotate(provider, server, rig, app.oid, key_prefix + "n")
    # The form post azure-identity built reached the rig as a form post.
    _, path, headers, body = next(r for r in rig.requests if r[0] == "POST")
    assert path == f"/{rig.tenant_id}/oauth2/v2.0/token"
    assert headers["Content-Type"] == "application/x-www-form-urlencoded"
    assert b"grant_type=client_credentials" in body
    assert b"scope=https%3A%2F%2Fredis.azure.com%2F.default" in body


async def test_each_refresh_is_a_request_to_the_authority(rig: IdentityRig) -> None:
    """azure-identity's own token cache does not second-guess the refresher's schedule."""
    app = rig.add_app(secret=SECRET)
    provider = secret_provider(rig, app.client_id)
    async with provider:
        first = await provider.current_credentials()
        provider.request_refresh()
        await wait_until(lambda: provider.stats.refreshes >= 2)
        assert (await provider.current_credentials()) != first
    assert len(rig.issued) == 2


async def test_wrong_secret_reaches_subscribers_without_the_secret(
    rig: IdentityRig, caplog: pytest.LogCaptureFixture
) -> None:
    app = rig.add_app(secret=SECRET)
    wrong = secret("WRONG-" + SECRET)
    provider = secret_provider(rig, app.client_id, wrong)
    caplog.set_level(logging.DEBUG)
    async with provider, provider.subscribe() as stream:
        with anyio.fail_after(5):
            item = await stream.receive()
        assert isinstance(item, TokenRefreshError)
        with pytest.raises(TokenRefreshError) as caught:
            await provider.current_credentials()
    message = str(item)
    assert "AADSTS7000215" in message and "Invalid client secret" in message
    for text in (message, str(caught.value), repr(provider), caplog.text):
        assert wrong not in text and SECRET not in text
    assert provider.stats.last_error is not None and wrong not in provider.stats.last_error


@pytest.mark.parametrize("kind", ["garbage", "no_token"])
async def test_failures_are_retried_until_a_token_comes(
    rig: IdentityRig, kind: str, caplog: pytest.LogCaptureFixture
) -> None:
    app = rig.add_app(secret=SECRET)
    rig.fail("token", kind, times=2)
    provider = secret_provider(rig, app.client_id)
    caplog.set_level(logging.WARNING, "anyredis_auth")
    async with provider, provider.subscribe() as stream:
        with anyio.fail_after(10):
            error = await stream.receive()  # both attempts of the first round failed
            assert isinstance(error, TokenRefreshError)
            credentials = await stream.receive()  # then the authority answers again
    assert isinstance(credentials, Credentials) and credentials.username == app.oid
    assert provider.stats.failures == 2
    assert "token request failed" in caplog.text


@pytest.mark.parametrize("kind", ["http500", "drop"])
async def test_transient_http_failures_are_retried_by_azure_identity(
    rig: IdentityRig, kind: str
) -> None:
    """azure-identity's own retry policy stays on: a 500 or a dropped connection is retried
    inside the request, as azure-identity alone does, and the refresher sees no failure."""
    app = rig.add_app(secret=SECRET)
    rig.fail("token", kind, times=2)
    # azure-identity's back-off between its own attempts takes seconds; on a loaded machine the
    # whole request must not meet our request_timeout (FAST's 5 s), which would count a failure.
    patient = TokenRefreshConfig(
        min_refresh_interval=FAST.min_refresh_interval,
        request_timeout=60.0,
        retry_config=FAST.retry_config,
    )
    provider = EntraIdCredentialsProvider.new_client_secret(
        rig.tenant_id, app.client_id, SECRET, refresh_config=patient, **rig.authority_options()
    )
    async with provider:
        with anyio.fail_after(90):
            credentials = await provider.current_credentials()
    assert credentials.username == app.oid
    assert provider.stats.failures == 0
    assert sum(1 for r in rig.requests if r[0] == "POST") == 3


async def test_malformed_token_response_is_a_clear_error(rig: IdentityRig) -> None:
    app = rig.add_app(secret=SECRET)
    rig.fail("token", "no_token", times=10)
    provider = secret_provider(rig, app.client_id)
    async with provider:
        with anyio.fail_after(5), pytest.raises(TokenRefreshError) as caught:
            await provider.current_credentials()
    assert "token response is malformed (missing field 'access_token')" in str(caught.value)


async def test_garbage_token_response_is_a_clear_error(rig: IdentityRig) -> None:
    app = rig.add_app(secret=SECRET)
    rig.fail("token", "garbage", times=10)
    provider = secret_provider(rig, app.client_id)
    async with provider:
        with anyio.fail_after(5), pytest.raises(TokenRefreshError) as caught:
            await provider.current_credentials()
    assert "DecodeError" in str(caught.value) or "JSON" in str(caught.value), str(caught.value)


async def test_authority_down_then_back(rig: IdentityRig) -> None:
    app = rig.add_app(secret=SECRET)
    rig.stop_authority()
    # retry_total=0 (azure-core's option) turns azure-identity's own retries off: fail fast.
    provider = EntraIdCredentialsProvider.new_client_secret(
        rig.tenant_id,
        app.client_id,
        SECRET,
        refresh_config=FAST,
        retry_total=0,
        **rig.authority_options(),
    )
    async with provider:
        with anyio.fail_after(5), pytest.raises(TokenRefreshError) as caught:
            await provider.current_credentials()
        assert "ServiceRequestError" in str(caught.value)
        assert "ConnectionRefusedError" in str(caught.value)  # the reason, on both loops
        rig.start_authority()
        with anyio.fail_after(10):
            while True:
                try:
                    credentials = await provider.current_credentials()
                    break
                except TokenRefreshError:
                    await anyio.sleep(0.05)
    assert credentials.username == app.oid


async def test_a_hanging_authority_times_out(rig: IdentityRig) -> None:
    app = rig.add_app(secret=SECRET)
    rig.fail("token", "hang", times=1)
    provider = EntraIdCredentialsProvider.new_client_secret(
        rig.tenant_id,
        app.client_id,
        SECRET,
        refresh_config=FAST.__class__(
            request_timeout=0.3,
            min_refresh_interval=0.5,
            retry_config=FAST.retry_config,
        ),
        **rig.authority_options(),
    )
    async with provider:
        with anyio.fail_after(5):
            credentials = await provider.current_credentials()
    assert credentials.username == app.oid
    assert provider.stats.failures == 1
    assert "timed out" in (provider.stats.last_error or "")
