"""An asyncio application: plain `asyncio.run`, workers gathered over one shared connection.

python examples/asyncio_app.py --url redis://localhost:6379/0
"""

from __future__ import annotations

import asyncio

from _common import parse_args

from anyredis_auth import Client


async def main(url: str) -> None:
    async with Client.from_url(url) as client:
        con = await client.get_multiplexed_async_connection()

        async def worker(index: int) -> None:
            await con.set(f"example:asyncio:{index}", index, ex=60)

        await asyncio.gather(*(worker(index) for index in range(100)))
        values = await con.mget(*(f"example:asyncio:{index}" for index in range(100)))
        print(f"asyncio: {sum(int(value) for value in values)}")


if __name__ == "__main__":
    asyncio.run(main(parse_args(__doc__ or "").url))
