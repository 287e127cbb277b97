"""Graceful shutdown: leaving `async with client` ends every task the client started.

Workers run until a deadline (a signal handler would cancel the same scope); callers still
waiting when the client closes get `ConnectionClosedError`, never a hang.

    python examples/graceful_shutdown.py --url redis://localhost:6379/0
"""

from __future__ import annotations

import anyio
from _common import parse_args

from anyredis_auth import Client, ConnectionClosedError


async def main(url: str) -> None:
    done = 0
    async with Client.from_url(url) as client:
        con = await client.get_multiplexed_async_connection()

        async def worker() -> None:
            nonlocal done
            while True:
                await con.incr("example:shutdown")
                done += 1

        with anyio.move_on_after(0.5):  # the "stop" signal
            async with anyio.create_task_group() as group:
                for _ in range(20):
                    group.start_soon(worker)
    print(f"stopped cleanly after {done} commands")
    try:
        await con.ping()
    except ConnectionClosedError:
        print("the connection is closed with the client")


if __name__ == "__main__":
    args = parse_args(__doc__ or "")
    anyio.run(main, args.url, backend=args.backend)
