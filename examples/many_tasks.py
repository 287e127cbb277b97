"""Many tasks share one connection; each gets its own reply, even when some are cancelled.

python examples/many_tasks.py --url redis://localhost:6379/0
"""

from __future__ import annotations

import anyio
from _common import parse_args

from anyredis_auth import Client, MultiplexedConnection


async def worker(con: MultiplexedConnection, index: int) -> bool:
    await con.set(f"example:task:{index}", index, ex=60)
    return await con.get(f"example:task:{index}") == str(index).encode()


async def main(url: str) -> None:
    results: list[bool] = []
    async with Client.from_url(url, command_timeout=5) as client:
        con = await client.get_multiplexed_async_connection()

        async def run(index: int) -> None:
            if index % 10 == 0:
                with anyio.move_on_after(0):  # cancelled at once: its reply is dropped safely
                    await worker(con, index)
                return
            results.append(await worker(con, index))

        async with anyio.create_task_group() as group:
            for index in range(500):
                group.start_soon(run, index)
    print(f"{sum(results)} of {len(results)} tasks got their own reply")


if __name__ == "__main__":
    args = parse_args(__doc__ or "")
    anyio.run(main, args.url, backend=args.backend)
