"""A trio application: plain `trio.run`, a nursery of workers sharing one connection.

python examples/trio_app.py --url redis://localhost:6379/0
"""

from __future__ import annotations

import trio
from _common import parse_args

from anyredis_auth import Client


async def main(url: str) -> None:
    async with Client.from_url(url) as client:
        con = await client.get_multiplexed_async_connection()

        async def worker(index: int) -> None:
            await con.set(f"example:trio:{index}", index, ex=60)

        async with trio.open_nursery() as nursery:
            for index in range(100):
                nursery.start_soon(worker, index)
        values = await con.mget(*(f"example:trio:{index}" for index in range(100)))
        print(f"trio: {sum(int(value) for value in values)}")


if __name__ == "__main__":
    trio.run(main, parse_args(__doc__ or "").url)
