"""A pipeline (one write, replies in order) and a MULTI/EXEC transaction.

python examples/pipeline_and_transaction.py --url redis://localhost:6379/0
"""

from __future__ import annotations

import anyio
from _common import parse_args

from anyredis_auth import Client, ExecAbortError


async def main(url: str) -> None:
    async with Client.from_url(url) as client:
        con = await client.get_multiplexed_async_connection()

        pipe = con.pipeline()
        for index in range(5):
            pipe.set(f"example:pipe:{index}", index)  # typed methods queue and chain
        pipe.mget([f"example:pipe:{index}" for index in range(5)])
        replies = await pipe.execute()
        print(f"pipeline: {replies[-1]!r}")

        tx = con.pipeline(transaction=True)
        tx.incr("example:counter").incr("example:counter")
        print(f"transaction: {await tx.execute()!r}")

        tx.execute_command("SET", "example:bad")  # any command; wrong arity: EXEC aborts
        try:
            await tx.execute()
        except ExecAbortError as exc:
            print(f"aborted as expected: {exc}")


if __name__ == "__main__":
    args = parse_args(__doc__ or "")
    anyio.run(main, args.url, backend=args.backend)
