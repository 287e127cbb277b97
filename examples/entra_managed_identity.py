"""A managed identity: system-assigned, or user-assigned when AZURE_CLIENT_ID is set (as on an
Azure VM, App Service, Container Apps or AKS).

    python examples/entra_managed_identity.py --url rediss://mycache.redis.cache.windows.net:6380
"""

from __future__ import annotations

import os

import anyio
from _common import parse_args

from anyredis_auth import (
    Client,
    EntraIdCredentialsProvider,
    ManagedIdentityCredentialOptions,
    UserAssignedId,
)


async def main(url: str) -> None:
    client_id = os.environ.get("AZURE_CLIENT_ID")
    if client_id:
        provider = EntraIdCredentialsProvider.new_user_assigned_managed_identity_with_scopes(
            ["https://redis.azure.com/.default"],
            ManagedIdentityCredentialOptions(user_assigned_id=UserAssignedId.client_id(client_id)),
        )
    else:
        provider = EntraIdCredentialsProvider.new_system_assigned_managed_identity()
    async with Client.open_with_credentials_provider(url, provider) as client:
        con = await client.get_multiplexed_async_connection()
        print(f"logged in as {(await con.execute('ACL', 'WHOAMI')).decode()}")


if __name__ == "__main__":
    args = parse_args(__doc__ or "")
    anyio.run(main, args.url, backend=args.backend)
