"""The quick start: one shared connection, a SET and a GET, on asyncio or trio.

python examples/quickstart.py --url redis://localhost:6379/0 --backend trio
"""

from __future__ import annotations

import anyio
from _common import parse_args

from anyredis_auth import Client


async def main(url: str) -> None:
    async with Client.from_url(url) as client:
        con = await client.get_multiplexed_async_connection()
        await con.set("my_key", 42)  # typed, as in redis-py; con.execute("SET", ...) also works
        value = await con.get("my_key")
        print(f"GET my_key -> {value!r}")


if __name__ == "__main__":
    args = parse_args(__doc__ or "")
    anyio.run(main, args.url, backend=args.backend)
