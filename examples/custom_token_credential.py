"""Your own credential: anything with azure-core's `get_token` (sync: run in a worker thread;
async: awaited). Here a sync credential that wraps another one and counts its requests.

    python examples/custom_token_credential.py --url rediss://mycache.redis.cache.windows.net:6380
"""

from __future__ import annotations

import os
from typing import Any

import anyio
from _common import entra_options, parse_args
from azure.core.credentials import AccessToken
from azure.identity import ClientSecretCredential

from anyredis_auth import Client, EntraIdCredentialsProvider


class CountingCredential:
    """A `TokenCredential` of our own (a real one would call a token broker, a vault, ...)."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.requests = 0

    def get_token(self, *scopes: str, **kwargs: Any) -> AccessToken:
        self.requests += 1
        return self.inner.get_token(*scopes, **kwargs)  # type: ignore[no-any-return]


async def main(url: str, options: dict[str, Any]) -> None:
    if "connection_verify" in options:  # the sync credential trusts a private CA this way
        os.environ["REQUESTS_CA_BUNDLE"] = options.pop("connection_verify")
    credential = CountingCredential(
        ClientSecretCredential(
            os.environ["AZURE_TENANT_ID"],
            os.environ["AZURE_CLIENT_ID"],
            os.environ["AZURE_CLIENT_SECRET"],
            **options,
        )
    )
    provider = EntraIdCredentialsProvider.new_with_credential(credential)
    async with Client.open_with_credentials_provider(url, provider) as client:
        con = await client.get_multiplexed_async_connection()
        print(f"logged in as {(await con.execute('ACL', 'WHOAMI')).decode()}")
    print(f"the custom credential was asked {credential.requests} time(s)")


if __name__ == "__main__":
    args = parse_args(__doc__ or "")
    anyio.run(main, args.url, entra_options(args), backend=args.backend)
