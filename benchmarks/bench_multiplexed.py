"""GET/SET throughput on one multiplexed connection, against the ceiling sketch and redis-py.

(The whole benchmark of issue 7, with every workload and peer, is ``python -m benchmarks.suite``;
this script is the quick GET/SET check.)

Runs everything against one local server started for the run (or --url), several repetitions,
and prints the median operations per second with ratios computed in the same run:

    python benchmarks/bench_multiplexed.py                      # full table
    python benchmarks/bench_multiplexed.py --concurrency 100 --repeat 5

Peers are optional: redis-py (`pip install 'redis[hiredis]'`) and the ceiling sketch
(`../shared/bench/ceiling_sketch.py`, or --ceiling PATH) are skipped when absent.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

import anyio

from anyredis_auth import Client
from anyredis_auth.testing.servers import ServerProcess, find_binary

VALUE = b"v" * 16
ROOT = Path(__file__).resolve().parent.parent
DEFAULT_CEILING = ROOT.parent / "shared" / "bench" / "ceiling_sketch.py"


async def _drive(call: Callable[[], Awaitable[object]], concurrency: int, total: int) -> float:
    per_task = max(1, total // concurrency)

    async def worker() -> None:
        for _ in range(per_task):
            await call()

    start = time.perf_counter()
    async with anyio.create_task_group() as group:
        for _ in range(concurrency):
            group.start_soon(worker)
    return per_task * concurrency / (time.perf_counter() - start)


async def ours(port: int, op: str, concurrency: int, total: int, parser: str) -> float:
    async with Client.from_url(f"redis://127.0.0.1:{port}", parser=parser) as client:
        con = await client.get_multiplexed_async_connection()
        await con.execute("SET", "bench:k", VALUE)
        execute = con.execute
        if op == "GET":
            return await _drive(lambda: execute("GET", "bench:k"), concurrency, total)
        return await _drive(lambda: execute("SET", "bench:k", VALUE), concurrency, total)


async def redis_py(port: int, op: str, concurrency: int, total: int) -> float:
    import redis.asyncio as aioredis

    pool = aioredis.BlockingConnectionPool(host="127.0.0.1", port=port, max_connections=100)
    client = aioredis.Redis(connection_pool=pool)
    try:
        await client.set("bench:k", VALUE)
        if op == "GET":
            return await _drive(lambda: client.get("bench:k"), concurrency, total)
        return await _drive(lambda: client.set("bench:k", VALUE), concurrency, total)
    finally:
        await client.aclose()


def ceiling(path: Path, port: int, backend: str, concurrency: int, total: int) -> float | None:
    if not path.exists():
        return None
    out = subprocess.run(
        [sys.executable, str(path), "--port", str(port), "--backend", backend,
         "--concurrency", str(concurrency), "--total", str(total)],
        capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    return float(out.rsplit("ops/s=", 1)[1].replace(",", ""))


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--concurrency", type=int, nargs="*", default=[1, 10, 100, 1000])
    parser.add_argument("--ops", nargs="*", default=["GET", "SET"])
    parser.add_argument("--backends", nargs="*", default=["asyncio", "trio"])
    parser.add_argument("--parsers", nargs="*", default=["hiredis"])
    parser.add_argument("--total", type=int, default=50_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--ceiling", type=Path, default=DEFAULT_CEILING)
    parser.add_argument("--port", type=int, help="use a running server instead of starting one")
    parser.add_argument("--json", action="store_true", help="print the results as JSON")
    args = parser.parse_args()

    server = None
    if args.port is None:
        binary = find_binary("redis") or find_binary("valkey")
        assert binary, "no redis-server or valkey-server found"
        server = ServerProcess("redis" if "redis" in binary else "valkey", binary).start()
    port = args.port or server.port  # type: ignore[union-attr]
    try:
        import redis  # noqa: F401

        have_redis_py = True
    except ImportError:
        have_redis_py = False

    rows = []
    try:
        for op in args.ops:
            for backend in args.backends:
                for concurrency in args.concurrency:
                    total = args.total if concurrency > 1 else args.total // 5
                    results: dict[str, list[float]] = {}
                    for _ in range(args.repeat):
                        for name in args.parsers:
                            rate = anyio.run(
                                ours, port, op, concurrency, total, name, backend=backend
                            )
                            results.setdefault(f"ours[{name}]", []).append(rate)
                        if op == "GET":
                            sketch = ceiling(args.ceiling, port, backend, concurrency, total)
                            if sketch is not None:
                                results.setdefault("ceiling", []).append(sketch)
                        if have_redis_py and backend == "asyncio":
                            rate = anyio.run(redis_py, port, op, concurrency, total)
                            results.setdefault("redis-py", []).append(rate)
                    medians = {name: statistics.median(values) for name, values in results.items()}
                    rows.append(
                        {"op": op, "backend": backend, "concurrency": concurrency, **medians}
                    )
                    if not args.json:
                        _print_row(rows[-1], args.parsers[0])
    finally:
        if server is not None:
            server.close()
    if args.json:
        print(json.dumps(rows, indent=2))


def _print_row(row: dict[str, object], parser: str) -> None:
    ours_rate = float(row[f"ours[{parser}]"])  # type: ignore[arg-type]
    parts = [f"{row['op']:3} {row['backend']:7} c={row['concurrency']:<5}"]
    for name, value in row.items():
        if name in ("op", "backend", "concurrency"):
            continue
        rate = float(value)  # type: ignore[arg-type]
        ratio = "" if name == f"ours[{parser}]" else f" (ours {ours_rate / rate:4.2f}x)"
        parts.append(f"{name} {rate:>9,.0f}/s{ratio}")
    print("  ".join(parts), flush=True)


if __name__ == "__main__":
    main()
