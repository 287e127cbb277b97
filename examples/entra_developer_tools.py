"""On a developer's machine: the identity `az login` (or `azd auth login`) signed in with.

python examples/entra_developer_tools.py --url rediss://mycache.redis.cache.windows.net:6380
"""

from __future__ import annotations

import anyio
from _common import parse_args

from anyredis_auth import Client, EntraIdCredentialsProvider, RetryConfig


async def main(url: str) -> None:
    provider = EntraIdCredentialsProvider.new_developer_tools()
    provider.start(RetryConfig(max_attempts=5))  # optional: arms the retry policy
    async with Client.open_with_credentials_provider(url, provider) as client:
        con = await client.get_multiplexed_async_connection()
        print(f"logged in as {(await con.execute('ACL', 'WHOAMI')).decode()}")


if __name__ == "__main__":
    args = parse_args(__doc__ or "")
    anyio.run(main, args.url, backend=args.backend)
