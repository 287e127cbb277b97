"""A service principal with a certificate: a PKCS12 file (AZURE_CLIENT_CERTIFICATE_PATH, its
password in AZURE_CLIENT_CERTIFICATE_PASSWORD if it has one), AZURE_TENANT_ID, AZURE_CLIENT_ID.

    python examples/entra_certificate.py --url rediss://mycache.redis.cache.windows.net:6380
"""

from __future__ import annotations

import base64
import os

import anyio
from _common import entra_options, parse_args

from anyredis_auth import Client, ClientCertificate, EntraIdCredentialsProvider


async def main(url: str, options: dict[str, object]) -> None:
    pkcs12 = await anyio.Path(os.environ["AZURE_CLIENT_CERTIFICATE_PATH"]).read_bytes()
    certificate = ClientCertificate(
        base64.b64encode(pkcs12).decode(), os.environ.get("AZURE_CLIENT_CERTIFICATE_PASSWORD")
    )  # checked here: a wrong password fails now, not at the first refresh
    provider = EntraIdCredentialsProvider.new_client_certificate_with_scopes(
        os.environ["AZURE_TENANT_ID"],
        os.environ["AZURE_CLIENT_ID"],
        certificate,
        ["https://redis.azure.com/.default"],
        options,
    )
    async with Client.open_with_credentials_provider(url, provider) as client:
        con = await client.get_multiplexed_async_connection()
        print(f"logged in as {(await con.execute('ACL', 'WHOAMI')).decode()}")


if __name__ == "__main__":
    args = parse_args(__doc__ or "")
    anyio.run(main, args.url, entra_options(args), backend=args.backend)
