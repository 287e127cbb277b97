"""The provider's own rules: scopes, username, secrets, resources, the optional extra."""

from __future__ import annotations

import logging
import subprocess
import sys
import time
from typing import Any

import anyio
import pytest
from azure.core.credentials import AccessTokenInfo

from anyredis_auth import AuthenticationError, RetryConfig, TokenRefreshConfig, TokenRefreshError
from anyredis_auth._entra import EntraIdCredentialsProvider
from anyredis_auth._entra._transport import HttpxTransport
from anyredis_auth.testing.entra import IdentityRig
from tests._waiting import wait_until
from tests.entra.conftest import FAST, secret

SECRET = secret("provider-test-secret-value")


@pytest.mark.parametrize("scopes", [[], (), [""], ["  "], ["https://redis.azure.com/.default", ""]])
def test_empty_or_blank_scopes_are_refused(scopes: list[str]) -> None:
    with pytest.raises(ValueError, match="scope"):
        EntraIdCredentialsProvider.new_client_secret_with_scopes("t", "c", "s", scopes)
    with pytest.raises(ValueError, match="scope"):
        EntraIdCredentialsProvider.new_developer_tools_with_scopes(scopes)


class Fixed:
    def __init__(self, token: str) -> None:
        self.token = token

    def get_token_info(self, *scopes: str, options: Any = None) -> AccessTokenInfo:
        return AccessTokenInfo(self.token, int(time.time()) + 3600)


def test_default_scope_and_a_single_string_scope() -> None:
    provider = EntraIdCredentialsProvider.new_with_credential(Fixed("x"))
    assert provider.scopes == ("https://redis.azure.com/.default",)
    provider = EntraIdCredentialsProvider.new_with_credential(Fixed("x"), "api://x/.default")
    assert provider.scopes == ("api://x/.default",)


def test_not_a_credential() -> None:
    with pytest.raises(TypeError, match="not a credential"):
        EntraIdCredentialsProvider.new_with_credential(object())


@pytest.mark.anyio
async def test_username_rule_can_be_replaced(rig: IdentityRig) -> None:
    provider = EntraIdCredentialsProvider.new_with_credential(
        Fixed("opaque-token"), username_from_token=lambda token: "fixed-user", refresh_config=FAST
    )
    async with provider:
        credentials = await provider.current_credentials()
    assert (credentials.username, credentials.password) == ("fixed-user", "opaque-token")

    class Subclass(EntraIdCredentialsProvider):
        def username_for_token(self, token: str) -> str:
            return "from-subclass"

    sub = Subclass.new_with_credential(Fixed("opaque-token"), refresh_config=FAST)
    async with sub:
        assert (await sub.current_credentials()).username == "from-subclass"


@pytest.mark.anyio
async def test_a_token_without_oid_is_a_clear_error_without_the_token() -> None:
    token = "not-a-jwt-SECRET-TOKEN-TEXT"
    provider = EntraIdCredentialsProvider.new_with_credential(Fixed(token), refresh_config=FAST)
    async with provider:
        with anyio.fail_after(5), pytest.raises(TokenRefreshError) as caught:
            await provider.current_credentials()
    assert "AuthenticationError: the access token is not a JWT" in str(caught.value)
    assert isinstance(caught.value.__cause__, AuthenticationError)
    assert token not in str(caught.value) and token not in repr(provider)


@pytest.mark.anyio
async def test_no_secret_or_token_in_logs_or_reprs(
    rig: IdentityRig, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    app = rig.add_app(secret=SECRET)
    provider = EntraIdCredentialsProvider.new_client_secret(
        rig.tenant_id, app.client_id, SECRET, refresh_config=FAST, **rig.authority_options()
    )
    async with provider:
        credentials = await provider.current_credentials()
        provider.request_refresh()
        await wait_until(lambda: len(rig.issued) >= 2)
        texts = [caplog.text, repr(provider), str(provider), repr(credentials), str(credentials)]
        texts.append(repr(provider._source))
    assert "token refreshed" in caplog.text
    for text in texts:
        assert SECRET not in text
        for _, token in rig.issued:
            assert token not in text


@pytest.mark.anyio
async def test_resources_are_closed_when_the_task_group_ends(rig: IdentityRig) -> None:
    app = rig.add_app(secret=SECRET)
    transport = HttpxTransport(connection_verify=rig.ca_file)
    options = dict(rig.authority_options(), transport=transport)
    provider = EntraIdCredentialsProvider.new_client_secret_with_scopes(
        rig.tenant_id, app.client_id, SECRET, None, options, refresh_config=FAST
    )
    async with provider:
        await provider.current_credentials()
        assert transport._clients  # an open httpx client
    assert not transport._clients  # closed with the task group
    async with provider:  # and reopened when the provider runs again
        provider.request_refresh()
        await wait_until(lambda: len(rig.issued) >= 2)
    assert not transport._clients


class Slow:
    """A sync credential whose first call blocks for a long time."""

    def __init__(self) -> None:
        self.calls = 0

    def get_token(self, *scopes: str, **kwargs: Any) -> Any:
        from azure.core.credentials import AccessToken

        self.calls += 1
        if self.calls == 1:
            time.sleep(3)
        return AccessToken("opaque", int(time.time()) + 3600)


@pytest.mark.anyio
async def test_a_blocked_sync_credential_is_abandoned_at_the_timeout() -> None:
    config = TokenRefreshConfig(
        request_timeout=0.2, retry_config=RetryConfig(max_attempts=3, initial_delay=0.01)
    )
    provider = EntraIdCredentialsProvider.new_with_credential(
        Slow(), username_from_token=lambda token: "u", refresh_config=config
    )
    started = time.monotonic()
    async with provider:
        with anyio.fail_after(2):
            await provider.current_credentials()
    assert time.monotonic() - started < 2
    assert "timed out" in (provider.stats.last_error or "")


def test_import_without_the_entra_extra() -> None:
    code = """
import sys
class Block:
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in ("azure", "httpx", "msal"):
            raise ImportError(f"blocked {name}")
        return None
sys.meta_path.insert(0, Block())
import anyredis_auth
from anyredis_auth._entra import EntraIdCredentialsProvider, ClientCertificate
try:
    EntraIdCredentialsProvider.new_client_secret("t", "c", "s")
except ImportError as exc:
    print("ERROR:", exc)
"""
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True
    )
    assert "pip install 'anyredis-auth[entra]'" in result.stdout, result.stderr
