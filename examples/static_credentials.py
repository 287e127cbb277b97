"""A credentials provider with fixed credentials (an ACL user); token providers work the same.

REDIS_USERNAME=app REDIS_PASSWORD=... python examples/static_credentials.py --url redis://localhost:6379
"""

from __future__ import annotations

import os

import anyio
from _common import parse_args

from anyredis_auth import Client, StaticCredentialsProvider


async def main(url: str) -> None:
    provider = StaticCredentialsProvider(os.environ["REDIS_USERNAME"], os.environ["REDIS_PASSWORD"])
    async with Client.open_with_credentials_provider(url, provider) as client:
        con = await client.get_multiplexed_async_connection()
        print(f"logged in as {await con.execute('ACL', 'WHOAMI')!r}")


if __name__ == "__main__":
    args = parse_args(__doc__ or "")
    anyio.run(main, args.url, backend=args.backend)
