"""Optional live tests against a real Azure cache: skipped unless the environment names one.

- ``ANYREDIS_AUTH_LIVE_URL``: e.g. ``rediss://name.redis.cache.windows.net:6380`` (the
  identity must be an Entra ID user of the cache's data access configuration);
- ``ANYREDIS_AUTH_LIVE_FLOW``: ``default`` (the default), ``developer_tools``,
  ``managed_identity`` (system-assigned) or ``client_secret`` (with ``AZURE_TENANT_ID``,
  ``AZURE_CLIENT_ID``, ``AZURE_CLIENT_SECRET``).
"""

from __future__ import annotations

import os

import pytest

from anyredis_auth import Client
from anyredis_auth._entra import EntraIdCredentialsProvider

LIVE_URL = os.environ.get("ANYREDIS_AUTH_LIVE_URL", "")
LIVE_FLOW = os.environ.get("ANYREDIS_AUTH_LIVE_FLOW", "default")

pytestmark = [
    pytest.mark.anyio,
    pytest.mark.skipif(not LIVE_URL, reason="set ANYREDIS_AUTH_LIVE_URL to run live tests"),
]


def live_provider() -> EntraIdCredentialsProvider:
    if LIVE_FLOW == "developer_tools":
        return EntraIdCredentialsProvider.new_developer_tools()
    if LIVE_FLOW == "managed_identity":
        return EntraIdCredentialsProvider.new_system_assigned_managed_identity()
    if LIVE_FLOW == "client_secret":
        return EntraIdCredentialsProvider.new_client_secret(
            os.environ["AZURE_TENANT_ID"],
            os.environ["AZURE_CLIENT_ID"],
            os.environ["AZURE_CLIENT_SECRET"],
        )
    return EntraIdCredentialsProvider.new_default_azure_credential()


async def test_live_ping_and_whoami() -> None:
    provider = live_provider()
    async with Client.open_with_credentials_provider(LIVE_URL, provider) as client:
        con = await client.get_multiplexed_async_connection()
        assert await con.execute("PING") in (b"PONG", "PONG")
        credentials = await provider.current_credentials()
        assert await con.execute("ACL", "WHOAMI") == (credentials.username or "").encode()
