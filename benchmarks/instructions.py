"""Instructions per command on the hot paths, counted by valgrind (callgrind): a noise-free
figure for a shared, loaded machine, where timings of one change are not to be trusted.

    python -m benchmarks.instructions                      # every shape, both loops
    python -m benchmarks.instructions --shapes get100 --backends asyncio --parser python

Each shape runs twice under ``valgrind --tool=callgrind`` against one local server, with N and
3N commands; the difference over 2N is the client's instructions per command (start-up,
imports and connecting cancel out). Shapes: ``get1`` (GET of 16 bytes from one task),
``get100`` (from 100 tasks), ``set1m`` and ``get1m`` (a 1 MiB value from 10 tasks). The count
is of the client process alone (the server and the kernel are not counted), so a change that
saves system calls or loop iterations shows only through the Python code they run.
"""

from __future__ import annotations

import argparse
import re
import shutil
import subprocess
import sys
import tempfile
import time

import anyio

from anyredis_auth import Client
from anyredis_auth.testing.servers import ServerProcess, find_binary

SHAPES = {
    # name: (tasks, command, N)
    "get1": (1, ("GET", b"bench:k"), 3000),
    "get100": (100, ("GET", b"bench:k"), 10000),
    "set1m": (10, ("SET", b"bench:bigset", b"b" * 2**20), 200),
    "get1m": (10, ("GET", b"bench:big"), 200),
}


async def _child(shape: str, port: int, count: int, parser: str) -> None:
    tasks, command, _ = SHAPES[shape]
    async with Client.from_url(f"redis://127.0.0.1:{port}", parser=parser) as client:
        con = await client.get_multiplexed_async_connection()
        execute = con.execute
        per = count // tasks

        async def worker() -> None:
            for _ in range(per):
                await execute(*command)

        async with anyio.create_task_group() as group:
            for _ in range(tasks):
                group.start_soon(worker)


def _count(shape: str, backend: str, port: int, count: int, parser: str) -> int:
    with tempfile.TemporaryDirectory() as folder:
        out = subprocess.run(
            [
                "valgrind", "--tool=callgrind", f"--callgrind-out-file={folder}/out",
                sys.executable, "-m", "benchmarks.instructions", "--child", shape, backend,
                str(port), str(count), parser,
            ],
            capture_output=True, text=True, check=True,
        ).stderr  # fmt: skip
    found = re.search(r"Collected : (\d+)", out)
    if found is None:
        raise RuntimeError(f"no instruction count in valgrind's output: {out[-500:]}")
    return int(found.group(1))


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "--child":
        shape, backend, port, count, back_end = sys.argv[2:7]
        anyio.run(_child, shape, int(port), int(count), back_end, backend=backend)
        return
    options = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    options.add_argument("--shapes", nargs="+", default=list(SHAPES), choices=list(SHAPES))
    options.add_argument("--backends", nargs="+", default=["asyncio", "trio"])
    options.add_argument("--parser", default="hiredis", choices=["hiredis", "python"])
    args = options.parse_args()
    if shutil.which("valgrind") is None:
        raise SystemExit("valgrind is not installed")
    binary = find_binary("redis")
    if binary is None:
        raise SystemExit("redis-server is not installed")
    server = ServerProcess("redis", binary).start()
    try:
        server.command("SET", "bench:k", b"v" * 16)
        server.command("SET", "bench:big", b"b" * 2**20)
        for shape in args.shapes:
            for backend in args.backends:
                base = SHAPES[shape][2]
                started = time.perf_counter()
                low = _count(shape, backend, server.port, base, args.parser)
                high = _count(shape, backend, server.port, 3 * base, args.parser)
                per = (high - low) / (2 * base)
                print(
                    f"{shape:7} {backend:7} {args.parser:7} {per:>12,.0f} instructions/command"
                    f"  ({time.perf_counter() - started:.0f} s)",
                    flush=True,
                )
    finally:
        server.close()


if __name__ == "__main__":
    main()
