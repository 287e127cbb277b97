"""DefaultAzureCredential: environment variables (AZURE_TENANT_ID, AZURE_CLIENT_ID,
AZURE_CLIENT_SECRET or a certificate), workload identity, managed identity, then the Azure CLI
and Azure Developer CLI - the same code on a laptop and in Azure.

    python examples/entra_default_credential.py --url rediss://mycache.redis.cache.windows.net:6380
"""

from __future__ import annotations

import anyio
from _common import parse_args

from anyredis_auth import Client, EntraIdCredentialsProvider


async def main(url: str, ca_file: str | None) -> None:
    options = {"connection_verify": ca_file} if ca_file else {}  # a private authority's CA only
    provider = EntraIdCredentialsProvider.new_default_azure_credential(**options)
    async with Client.open_with_credentials_provider(url, provider) as client:
        con = await client.get_multiplexed_async_connection()
        print(f"logged in as {(await con.execute('ACL', 'WHOAMI')).decode()}")


if __name__ == "__main__":
    args = parse_args(__doc__ or "")
    anyio.run(main, args.url, args.ca_file, backend=args.backend)
