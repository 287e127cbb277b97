"""Developer tools: fake az / azd on PATH, run by azure-identity's sync credentials in a thread."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import anyio
import pytest

from anyredis_auth import TokenRefreshError
from anyredis_auth._entra import EntraIdCredentialsProvider
from anyredis_auth.testing.entra import IdentityRig
from tests._servers import ServerProcess
from tests._waiting import wait_until
from tests.entra._helpers import connect_and_rotate
from tests.entra.conftest import FAST, SHORT_LIFETIME

pytestmark = pytest.mark.anyio


async def test_azure_cli_connects_and_rotates(
    rig: IdentityRig,
    fake_cli: Path,
    server: ServerProcess,
    acl: Callable[[str, str], None],
    key_prefix: str,
) -> None:
    rig.token_lifetime = SHORT_LIFETIME
    provider = EntraIdCredentialsProvider.new_developer_tools(refresh_config=FAST)
    await connect_and_rotate(provider, server, rig, rig.cli_oid, key_prefix + "n")
    assert provider.source_name == "developer tools: Azure CLI"


async def test_azure_developer_cli_when_az_is_not_logged_in(
    rig: IdentityRig,
    fake_cli: Path,
    server: ServerProcess,
    acl: Callable[[str, str], None],
    key_prefix: str,
) -> None:
    rig.token_lifetime = SHORT_LIFETIME
    rig.cli_logged_in["az"] = False
    provider = EntraIdCredentialsProvider.new_developer_tools(refresh_config=FAST)
    await connect_and_rotate(provider, server, rig, rig.cli_oid, key_prefix + "n")
    assert provider.source_name == "developer tools: Azure Developer CLI"


async def test_azd_expiry_is_read_right_in_utc(rig: IdentityRig, fake_cli: Path) -> None:
    rig.cli_logged_in["az"] = False
    rig.token_lifetime = 600
    provider = EntraIdCredentialsProvider.new_developer_tools_with_scopes(
        ["https://redis.azure.com/.default"], refresh_config=FAST
    )
    async with provider:
        with anyio.fail_after(10):
            await provider.current_credentials()
    expires_at = provider.stats.expires_at
    assert expires_at is not None and provider.stats.last_refresh_at is not None
    assert abs(expires_at - provider.stats.last_refresh_at - 600) < 5


async def test_not_logged_in_anywhere_is_a_clear_error(rig: IdentityRig, fake_cli: Path) -> None:
    rig.cli_logged_in.update(az=False, azd=False)
    # "Please log in" is permanent: retried every permanent_error_retry_interval.
    config = replace(FAST, permanent_error_retry_interval=0.2)
    provider = EntraIdCredentialsProvider.new_developer_tools(refresh_config=config)
    async with provider:
        with anyio.fail_after(10), pytest.raises(TokenRefreshError) as caught:
            await provider.current_credentials()
        message = str(caught.value)
        assert "Azure CLI: Please run 'az login'" in message
        assert "Azure Developer CLI: Please run 'azd auth login'" in message
        # Logging in later is picked up by the next attempt.
        rig.cli_logged_in["azd"] = True
        with anyio.fail_after(10):
            while True:
                try:
                    credentials = await provider.current_credentials()
                    break
                except TokenRefreshError:
                    await anyio.sleep(0.05)
    assert credentials.username == rig.cli_oid


async def test_no_cli_installed(rig: IdentityRig, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", "/nonexistent")
    provider = EntraIdCredentialsProvider.new_developer_tools(refresh_config=FAST)
    async with provider:
        with anyio.fail_after(5), pytest.raises(TokenRefreshError, match="not found on path"):
            await provider.current_credentials()


async def test_the_first_tool_that_answered_is_kept(rig: IdentityRig, fake_cli: Path) -> None:
    provider = EntraIdCredentialsProvider.new_developer_tools(refresh_config=FAST)
    async with provider:
        with anyio.fail_after(10):
            await provider.current_credentials()
        assert provider.source_name == "developer tools: Azure CLI"
        rig.cli_logged_in["az"] = False  # azd still is: the provider does not switch identity
        failures = provider.stats.failures
        provider.request_refresh()
        await wait_until(lambda: provider.stats.failures > failures, limit=10)
    assert "Please run 'az login'" in (provider.stats.last_error or "")
    assert provider.source_name == "developer tools: Azure CLI"


def test_developer_tools_options() -> None:
    provider = EntraIdCredentialsProvider.new_developer_tools(
        subscription="00000000-0000-0000-0000-000000000000", process_timeout=5
    )
    assert "developer tools" in repr(provider)
    with pytest.raises(TypeError, match="no_such_option"):
        EntraIdCredentialsProvider.new_developer_tools(no_such_option=1)


@pytest.mark.parametrize("zone", ["Asia/Kolkata", "America/Los_Angeles"])
async def test_cli_expiry_is_right_away_from_utc(
    rig: IdentityRig, fake_cli: Path, monkeypatch: pytest.MonkeyPatch, zone: str
) -> None:
    """azure-identity reads azd's UTC time as local time; the token's exp claim wins."""
    monkeypatch.setenv("TZ", zone)
    time.tzset()
    rig.cli_logged_in["az"] = False
    rig.token_lifetime = 600
    provider = EntraIdCredentialsProvider.new_developer_tools(refresh_config=FAST)
    async with provider:
        with anyio.fail_after(10):
            await provider.current_credentials()
    expires_at = provider.stats.expires_at
    assert expires_at is not None and provider.stats.last_refresh_at is not None
    assert abs(expires_at - provider.stats.last_refresh_at - 600) < 5
