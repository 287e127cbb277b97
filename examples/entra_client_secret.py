"""A service principal with a client secret (AZURE_TENANT_ID, AZURE_CLIENT_ID,
AZURE_CLIENT_SECRET), against Azure Cache for Redis or Azure Managed Redis.

    python examples/entra_client_secret.py --url rediss://mycache.redis.cache.windows.net:6380
"""

from __future__ import annotations

import os

import anyio
from _common import entra_options, parse_args

from anyredis_auth import Client, EntraIdCredentialsProvider


async def main(url: str, options: dict[str, object]) -> None:
    provider = EntraIdCredentialsProvider.new_client_secret_with_scopes(
        os.environ["AZURE_TENANT_ID"],
        os.environ["AZURE_CLIENT_ID"],
        os.environ["AZURE_CLIENT_SECRET"],
        ["https://redis.azure.com/.default"],
        options,
    )
    async with Client.open_with_credentials_provider(url, provider) as client:
        con = await client.get_multiplexed_async_connection()
        print(f"logged in as {(await con.execute('ACL', 'WHOAMI')).decode()}")


if __name__ == "__main__":
    args = parse_args(__doc__ or "")
    anyio.run(main, args.url, entra_options(args), backend=args.backend)
