"""The typed layer's cost on the hot path: ``con.get(k)`` against ``con.execute("GET", k)``.

Issue 15's target: the typed call within 5% of `execute` at 100 tasks. Both run in the same
process against one local server, interleaved (execute, typed, execute, typed, ...), counted
per second of the process's own CPU time (so a busy machine disturbs it less); the median of
each is printed with their ratio, per event loop::

    python -m benchmarks.typed                  # 100 tasks, 7 rounds, both loops
    python -m benchmarks.typed --tasks 1 --rounds 11
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Awaitable, Callable

import anyio

from anyredis_auth import Client
from anyredis_auth.testing.servers import ServerProcess, find_binary


async def _rate(call: Callable[[], Awaitable[object]], tasks: int, total: int) -> float:
    """Commands per second of this process's CPU time: on a machine shared with other work
    the wall clock measures the neighbours too, the process's own CPU time much less so."""
    per_task = max(1, total // tasks)

    async def worker() -> None:
        for _ in range(per_task):
            await call()

    start = time.process_time()
    async with anyio.create_task_group() as group:
        for _ in range(tasks):
            group.start_soon(worker)
    return per_task * tasks / (time.process_time() - start)


async def _measure(url: str, tasks: int, total: int, rounds: int) -> dict[str, list[float]]:
    rates: dict[str, list[float]] = {"execute": [], "typed": [], "set execute": [], "set typed": []}
    async with Client.from_url(url) as client:
        con = await client.get_multiplexed_async_connection()
        await con.execute("SET", "bench:typed", b"v" * 16)
        shapes: dict[str, Callable[[], Awaitable[object]]] = {
            "execute": lambda: con.execute("GET", "bench:typed"),
            "typed": lambda: con.get("bench:typed"),
            "set execute": lambda: con.execute("SET", "bench:typed", b"v" * 16),
            "set typed": lambda: con.set("bench:typed", b"v" * 16),
        }
        await _rate(shapes["typed"], tasks, total // 4)  # warm up
        for _ in range(rounds):
            for name, shape in shapes.items():
                rates[name].append(await _rate(shape, tasks, total))
    return rates


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", type=int, default=100)
    parser.add_argument("--total", type=int, default=50_000)
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--loops", nargs="+", default=["asyncio", "trio"])
    args = parser.parse_args()
    binary = find_binary("redis")
    if binary is None:
        raise SystemExit("redis-server is not installed")
    server = ServerProcess("redis", binary).start()
    try:
        print("commands per CPU-second of the client process (median of the rounds)")
        print(f"{'loop':8} {'command':4} {'execute':>12} {'typed':>12} {'typed / execute':>16}")
        for loop in args.loops:
            rates = anyio.run(
                _measure, server.url, args.tasks, args.total, args.rounds, backend=loop
            )
            for op, prefix in (("GET", ""), ("SET", "set ")):
                plain = statistics.median(rates[prefix + "execute"])
                typed = statistics.median(rates[prefix + "typed"])
                print(f"{loop:8} {op:4} {plain:12,.0f} {typed:12,.0f} {typed / plain:15.3f}x")
    finally:
        server.close()


if __name__ == "__main__":
    main()
