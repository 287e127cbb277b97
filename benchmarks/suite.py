"""The benchmarks of issues 7 and 16 in one command, against one local server started for the run.

    python -m benchmarks.suite            # full run (about 15 minutes on 2 cores)
    python -m benchmarks.suite --quick    # short run (about 4 minutes), same tables
    python -m benchmarks.suite --json     # the results as JSON on stdout (tables on stderr)
    python -m benchmarks.suite --json results.json   # tables on stdout, JSON to the file
    python -m benchmarks.suite --only throughput parser   # some sections only
    python -m benchmarks.suite --quick --only shapes      # the shapes of issue 16 alone

Sections:

* ``throughput``: GET and SET of 16-byte values at 1, 10, 100 and 1000 concurrent tasks, a
  pipeline of 100 GETs, LRANGE of 100 and 1000 elements, HGETALL of 100 fields; ours on asyncio
  and trio with the hiredis and the pure-Python parser, on one multiplexed connection; the
  peers (redis-py asyncio with hiredis and a pool of 100 connections, coredis with a pool of
  100, valkey-glide) on asyncio; the ceiling sketch (``../shared/bench/ceiling_sketch.py``)
  for GET. Each cell is the median of ``--repeat`` timed windows, the clients interleaved in
  each repetition; the ratios are ours[hiredis] on that row's event loop over each peer in the
  same run (peers are asyncio-only: trio rows compare with the same asyncio peers).
* ``shapes`` (issue 16): SET and GET of a 1 MiB value from 10 tasks, in MB/s (10^6 bytes of
  values moved per second); a pipeline of 1000 GETs from 1 task; GET from 1 and from 100
  tasks, in commands/s. The clients, repetitions and ratios are those of ``throughput``
  (ours on asyncio and trio with both parsers, the peers on asyncio, interleaved, medians).
  Then GET latency at 100 tasks: each task times each of its awaits with perf_counter, p50 and
  p99 over every command of a timed window, median over the windows, in microseconds. And the
  loop floor (``../shared/bench/loop_floor.py``: 100 tasks each awaiting its own reply, no
  socket), run once per repetition between the GET c=100 windows: ours' GET c=100 as a
  fraction of it on each loop. The targets of issue 16 are printed as a table of their own.
* ``parser``: parsing the reply bytes alone (no I/O): pure Python vs hiredis.
* ``rotation``: a mixed workload (GET, SET, INCR, HGET, LRANGE 0 9) on 4 connections x 25
  tasks, with the local token issuer rotating every ~2 s (tokens are ACL users deleted at
  expiry) vs. the same with a token that does not rotate; the cost in %.
* ``first``: time to the first command, the first token included.
* ``reauth``: N connections (default 1000) re-authenticating after one rotation.
* ``memory``: tracemalloc peak for 10,000 GETs in flight at once (the server is paused with
  ``CLIENT PAUSE`` so that they really are), minus the same 10,000 tasks waiting on nothing.

Peers are optional (``pip install -e '.[bench]'``); a missing one is skipped with a note, and
so are the ceiling sketch and the loop floor when their scripts are not found. The targets
tables only say whether each target holds: nothing here asserts on a figure.
"""

from __future__ import annotations

import argparse
import gc
import json
import math
import os
import platform
import re
import statistics
import subprocess
import sys
import time
import tracemalloc
from collections.abc import Awaitable, Callable
from functools import partial
from pathlib import Path
from typing import Any

import anyio

from anyredis_auth import Client
from anyredis_auth.protocol import NEED_DATA, Parser
from anyredis_auth.testing.servers import ServerProcess, find_binary
from anyredis_auth.testing.tokens import LocalTokenIssuer

from ._clients import PEERS, Ops, missing_peers, open_client

HOST = "127.0.0.1"
VALUE = b"v" * 16
BIG = b"b" * 2**20  # the 1 MiB value of the shapes section
MB = 1e6
ROOT = Path(__file__).resolve().parent.parent
DEFAULT_CEILING = ROOT.parent / "shared" / "bench" / "ceiling_sketch.py"
DEFAULT_FLOOR = ROOT.parent / "shared" / "bench" / "loop_floor.py"
OURS = ("ours[hiredis]", "ours[python]")
SECTIONS = ("throughput", "shapes", "parser", "rotation", "first", "reauth", "memory")


def log(*args: object) -> None:
    print(*args, file=sys.stderr, flush=True)


# == throughput ===============================================================================


class Workload:
    """`bind` gives, for a client, the call each task repeats: made once per window, with no
    argument, so the harness adds no Python frame of its own per command (``partial`` of the
    client's own method)."""

    def __init__(
        self,
        name: str,
        concurrency: int,
        bind: Callable[[Ops], Callable[[], Awaitable[object]]],
        per_call: int,
    ) -> None:
        self.name = name
        self.concurrency = concurrency
        self.bind = bind
        self.per_call = per_call  # commands per call (the pipeline counts 100)

    @property
    def label(self) -> str:
        return f"{self.name} c={self.concurrency}"


def workloads(concurrency: list[int]) -> list[Workload]:
    result = []
    for c in concurrency:
        result.append(Workload("GET", c, lambda ops: partial(ops.get, b"bench:k"), 1))
    for c in concurrency:
        result.append(Workload("SET", c, lambda ops: partial(ops.set, b"bench:k", VALUE), 1))
    result += [
        Workload("PIPELINE100", 1, lambda ops: partial(ops.pipeline_get, b"bench:k", 100), 100),
        Workload("PIPELINE100", 10, lambda ops: partial(ops.pipeline_get, b"bench:k", 100), 100),
        Workload("LRANGE100", 10, lambda ops: partial(ops.lrange, b"bench:l", 100), 1),
        Workload("LRANGE1000", 10, lambda ops: partial(ops.lrange, b"bench:l", 1000), 1),
        Workload("HGETALL100", 10, lambda ops: partial(ops.hgetall, b"bench:h"), 1),
    ]
    return result


def prepare_data(server: ServerProcess) -> None:
    server.command("FLUSHALL")
    server.command("SET", "bench:k", VALUE)
    server.command("SET", "k", VALUE)  # the ceiling sketch's key
    server.command("RPUSH", "bench:l", *[b"item-%011d" % i for i in range(1000)])  # 16 bytes
    fields: list[bytes] = []
    for i in range(100):
        fields += [b"field-%04d" % i, VALUE]
    server.command("HSET", "bench:h", *fields)


async def _drive(ops: Ops, workload: Workload, duration: float, warmup: float) -> float:
    """Run `workload` for `warmup` then `duration` seconds; commands per second of the latter."""
    call = workload.bind(ops)
    done = 0

    async def worker(deadline: float) -> None:
        nonlocal done
        clock = time.perf_counter
        count = 0
        while clock() < deadline:
            await call()
            count += 1
        done += count

    for window, measured in ((warmup, False), (duration, True)):
        done = 0
        start = time.perf_counter()
        async with anyio.create_task_group() as group:
            for _ in range(workload.concurrency):
                group.start_soon(worker, start + window)
        elapsed = time.perf_counter() - start
        if measured:
            return done * workload.per_call / elapsed
    raise AssertionError("unreachable")


async def _measure(
    name: str, port: int, workload: Workload, duration: float, warmup: float
) -> float:
    async with open_client(name, HOST, port) as ops:
        return await _drive(ops, workload, duration, warmup)


def ceiling(path: Path, port: int, backend: str, concurrency: int, total: int) -> float:
    out = subprocess.run(
        [sys.executable, str(path), "--port", str(port), "--backend", backend,
         "--concurrency", str(concurrency), "--total", str(total)],
        capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    return float(out.rsplit("ops/s=", 1)[1].replace(",", ""))


def run_throughput(args: argparse.Namespace, port: int, peers: list[str]) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    have_ceiling = args.ceiling.exists()
    for workload in workloads(args.concurrency):
        samples: dict[tuple[str, str], list[float]] = {}
        # One task is latency-bound and the noisiest (scheduling on a shared machine): twice
        # the repetitions.
        for _ in range(args.repeat * (2 if workload.concurrency == 1 else 1)):
            for backend in args.backends:
                for name in args.parsers:
                    rate = anyio.run(
                        _measure, name, port, workload, args.duration, args.warmup,
                        backend=backend,
                    )  # fmt: skip
                    samples.setdefault((name, backend), []).append(rate)
                if workload.name == "GET" and have_ceiling:
                    # The sketch runs a fixed number of GETs: about `duration` seconds' worth.
                    guess = 20_000 if workload.concurrency == 1 else 60_000
                    total = max(workload.concurrency, int(guess * args.duration))
                    rate = ceiling(args.ceiling, port, backend, workload.concurrency, total)
                    samples.setdefault(("ceiling", backend), []).append(rate)
            for name in peers:
                rate = anyio.run(_measure, name, port, workload, args.duration, args.warmup)
                samples.setdefault((name, "asyncio"), []).append(rate)
        medians = {key: statistics.median(values) for key, values in samples.items()}
        for backend in args.backends:
            row: dict[str, Any] = {
                "workload": workload.name,
                "concurrency": workload.concurrency,
                "backend": backend,
                "ops_per_s": {},
                "ratios": {},
            }
            for name in (*args.parsers, "ceiling"):
                if (name, backend) in medians:
                    row["ops_per_s"][name] = medians[name, backend]
            for name in peers:
                row["ops_per_s"][name] = medians[name, "asyncio"]
            ours = row["ops_per_s"].get("ours[hiredis]")
            if ours:
                for name, rate in row["ops_per_s"].items():
                    if name != "ours[hiredis]":
                        row["ratios"][f"vs {name}"] = ours / rate
            rows.append(row)
            log(format_row(row))
    return rows


def format_row(row: dict[str, Any]) -> str:
    label = f"{row['workload']} c={row['concurrency']}"
    parts = [f"{label:16} {row['backend']:7}"]
    for name, rate in row["ops_per_s"].items():
        parts.append(f"{name} {rate:>9,.0f}")
    ratios = "  ".join(f"{name} {value:5.2f}x" for name, value in row["ratios"].items())
    return "  ".join(parts) + ("  | ours[hiredis] " + ratios if ratios else "")


def throughput_table(rows: list[dict[str, Any]]) -> str:
    names: list[str] = []
    ratio_names: list[str] = []
    for row in rows:
        for name in row["ops_per_s"]:
            if name not in names:
                names.append(name)
        for name in row["ratios"]:
            if name not in ratio_names:
                ratio_names.append(name)
    head = f"| {'workload':16} | {'loop':7} | " + " | ".join(f"{n:>13}" for n in names)
    head += " | " + " | ".join(f"{n:>13}" for n in ratio_names) + " |"
    lines = [
        "Operations (commands) per second, median; ratios = ours[hiredis] / column",
        head,
        "|" + "|".join("-" * len(cell) for cell in head.split("|")[1:-1]) + "|",
    ]
    for row in rows:
        cells = [f"{row['workload']} c={row['concurrency']}", row["backend"]]
        line = f"| {cells[0]:16} | {cells[1]:7} | "
        line += " | ".join(
            f"{row['ops_per_s'][n]:>13,.0f}" if n in row["ops_per_s"] else f"{'-':>13}"
            for n in names
        )
        line += " | " + " | ".join(
            f"{row['ratios'][n]:>12.2f}x" if n in row["ratios"] else f"{'-':>13}"
            for n in ratio_names
        )
        lines.append(line + " |")
    return "\n".join(lines)


# == shapes (issue 16) ========================================================================


class Shape(Workload):
    """A workload of the shapes section.

    `payload` (bytes moved per call) turns its figure into MB/s; `verify` runs once after the
    timed window, so that a client returning the wrong thing cannot post a figure.
    """

    def __init__(
        self,
        name: str,
        concurrency: int,
        bind: Callable[[Ops], Callable[[], Awaitable[object]]],
        per_call: int = 1,
        *,
        payload: int = 0,
        verify: Callable[[Ops], Awaitable[None]] | None = None,
    ) -> None:
        super().__init__(name, concurrency, bind, per_call)
        self.payload = payload
        self.verify = verify

    @property
    def unit(self) -> str:
        return "MB/s" if self.payload else "ops/s"


async def _expect_big(ops: Ops, key: bytes) -> None:
    got = await ops.get(key)
    if not isinstance(got, bytes) or len(got) != len(BIG):
        size = len(got) if isinstance(got, (bytes, str)) else got
        raise RuntimeError(f"{key!r}: expected {len(BIG)} bytes back, got {size!r}")


async def _expect_pipeline(ops: Ops) -> None:
    got = await ops.pipeline_get(b"bench:k", 1000)
    if len(got) != 1000 or any(value != VALUE for value in got):
        raise RuntimeError(f"PIPELINE1000: {len(got)} replies, not 1000 x {VALUE!r}")


def shape_workloads() -> list[Shape]:
    return [
        Shape(
            "SET 1MiB", 10, lambda ops: partial(ops.set, b"bench:bigset", BIG),
            payload=len(BIG), verify=lambda ops: _expect_big(ops, b"bench:bigset"),
        ),
        Shape(
            "GET 1MiB", 10, lambda ops: partial(ops.get, b"bench:big"),
            payload=len(BIG), verify=lambda ops: _expect_big(ops, b"bench:big"),
        ),
        Shape(
            "PIPELINE1000", 1, lambda ops: partial(ops.pipeline_get, b"bench:k", 1000), 1000,
            verify=_expect_pipeline,
        ),
        Shape("GET", 1, lambda ops: partial(ops.get, b"bench:k")),
        Shape("GET", 100, lambda ops: partial(ops.get, b"bench:k")),
    ]  # fmt: skip


async def _measure_shape(
    name: str, port: int, shape: Shape, duration: float, warmup: float
) -> float:
    async with open_client(name, HOST, port) as ops:
        rate = await _drive(ops, shape, duration, warmup)
        if shape.verify is not None:
            await shape.verify(ops)
    return rate * shape.payload / MB if shape.payload else rate


async def _drive_latency(
    ops: Ops, concurrency: int, duration: float, warmup: float
) -> tuple[float, list[float]]:
    """GET from `concurrency` tasks; (ops/s, every command's latency in s) of the timed window.

    Each task times each of its own awaits with perf_counter; a command counts when it started
    inside the window.
    """
    get = ops.get
    for window, measured in ((warmup, False), (duration, True)):
        per_task: list[list[float]] = []

        async def worker(deadline: float, per_task: list[list[float]]) -> None:
            clock = time.perf_counter
            own: list[float] = []
            append = own.append
            while True:
                before = clock()
                if before >= deadline:
                    break
                await get(b"bench:k")
                append(clock() - before)
            per_task.append(own)

        start = time.perf_counter()
        async with anyio.create_task_group() as group:
            for _ in range(concurrency):
                group.start_soon(worker, start + window, per_task)
        elapsed = time.perf_counter() - start
        if measured:
            samples = [s for own in per_task for s in own]
            return len(samples) / elapsed, samples
    raise AssertionError("unreachable")


def _percentile(ordered: list[float], fraction: float) -> float:
    """Nearest-rank percentile of sorted values."""
    return ordered[max(0, math.ceil(fraction * len(ordered)) - 1)]


async def _measure_latency(
    name: str, port: int, concurrency: int, duration: float, warmup: float
) -> dict[str, float]:
    async with open_client(name, HOST, port) as ops:
        rate, samples = await _drive_latency(ops, concurrency, duration, warmup)
    samples.sort()
    return {
        "ops_per_s": rate,
        "p50_us": _percentile(samples, 0.50) * 1e6,
        "p99_us": _percentile(samples, 0.99) * 1e6,
        "samples": float(len(samples)),
    }


def loop_floor(path: Path, backends: list[str], tasks: int, total: int) -> dict[str, float]:
    """Run the loop-floor script; its last line is ``floor asyncio=N ops/s trio=N ops/s``."""
    which = backends[0] if len(backends) == 1 else "both"
    out = subprocess.run(
        [sys.executable, str(path), which, str(tasks), str(total)],
        capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    last = out.strip().splitlines()[-1]
    found = re.findall(r"(\w+)=([\d,.]+) ops/s", last)
    if not last.startswith("floor") or not found:
        raise RuntimeError(f"loop floor: unexpected last line {last!r}")
    return {loop: float(value.replace(",", "")) for loop, value in found}


def run_shapes(args: argparse.Namespace, server: ServerProcess, peers: list[str]) -> dict[str, Any]:
    server.command("SET", "bench:big", BIG)
    server.command("DEL", "bench:bigset")
    port = server.port
    have_floor = args.floor.exists()
    floor_tasks = 100
    floor_total = 100_000 if args.quick else 300_000
    clients = [(name, backend) for backend in args.backends for name in args.parsers]
    clients += [(name, "asyncio") for name in peers]  # peers are asyncio-only

    rows: list[dict[str, Any]] = []
    floors: list[dict[str, float]] = []
    for shape in shape_workloads():
        samples: dict[tuple[str, str], list[float]] = {}
        # One task is latency-bound and the noisiest: twice the repetitions (as in throughput).
        for _ in range(args.repeat * (2 if shape.concurrency == 1 else 1)):
            for name, backend in clients:
                value = anyio.run(
                    _measure_shape, name, port, shape, args.duration, args.warmup,
                    backend=backend,
                )  # fmt: skip
                samples.setdefault((name, backend), []).append(value)
            if (shape.name, shape.concurrency) == ("GET", 100) and have_floor:
                # Interleaved with the GET c=100 windows it is compared with.
                floors.append(loop_floor(args.floor, args.backends, floor_tasks, floor_total))
        medians = {key: statistics.median(values) for key, values in samples.items()}
        for backend in args.backends:
            row: dict[str, Any] = {
                "workload": shape.name,
                "concurrency": shape.concurrency,
                "backend": backend,
                "unit": shape.unit,
                "values": {},
                "ratios": {},
            }
            for name in args.parsers:
                row["values"][name] = medians[name, backend]
            for name in peers:
                row["values"][name] = medians[name, "asyncio"]
            ours = row["values"].get("ours[hiredis]")
            if ours:
                for name, value in row["values"].items():
                    if name != "ours[hiredis]":
                        row["ratios"][f"vs {name}"] = ours / value
            rows.append(row)
            log(format_shape_row(row))

    latency_samples: dict[tuple[str, str], list[dict[str, float]]] = {}
    for _ in range(args.repeat):
        for name, backend in clients:
            result = anyio.run(
                _measure_latency, name, port, 100, args.duration, args.warmup, backend=backend
            )
            latency_samples.setdefault((name, backend), []).append(result)
    latency: list[dict[str, Any]] = []
    for (name, backend), runs in latency_samples.items():
        entry: dict[str, Any] = {"client": name, "backend": backend, "concurrency": 100}
        for key in ("p50_us", "p99_us", "ops_per_s"):
            entry[key] = statistics.median(run[key] for run in runs)
        entry["samples_per_window"] = statistics.median(run["samples"] for run in runs)
        latency.append(entry)
    redis_p99 = next((e["p99_us"] for e in latency if e["client"] == "redis-py"), None)
    for entry in latency:
        if redis_p99 and entry["client"] in OURS:
            entry["p99_vs_redis-py"] = entry["p99_us"] / redis_p99
        log(
            f"latency GET c=100 {entry['client']:14} {entry['backend']:7} "
            f"p50 {entry['p50_us']:8.1f} us  p99 {entry['p99_us']:8.1f} us  "
            f"{entry['ops_per_s']:>9,.0f} ops/s"
        )

    floor: dict[str, Any] = {}
    if floors:
        for backend in args.backends:
            values = [f[backend] for f in floors if backend in f]
            if not values:
                continue
            ops_floor = statistics.median(values)
            get100 = next(
                r for r in rows
                if (r["workload"], r["concurrency"], r["backend"]) == ("GET", 100, backend)
            )  # fmt: skip
            floor[backend] = {
                "floor_ops_per_s": ops_floor,
                "ops_per_s": {name: get100["values"][name] for name in args.parsers},
                "fraction": {name: get100["values"][name] / ops_floor for name in args.parsers},
            }
            log(f"loop floor {backend:7} {floor[backend]}")
    return {
        "rows": rows,
        "latency": latency,
        "floor": floor,
        "floor_settings": {"tasks": floor_tasks, "total": floor_total, "runs": len(floors)},
    }


def format_shape_row(row: dict[str, Any]) -> str:
    label = f"{row['workload']} c={row['concurrency']}"
    parts = [f"{label:16} {row['backend']:7} {row['unit']:5}"]
    for name, value in row["values"].items():
        parts.append(f"{name} {value:>9,.0f}")
    ratios = "  ".join(f"{name} {value:5.2f}x" for name, value in row["ratios"].items())
    return "  ".join(parts) + ("  | ours[hiredis] " + ratios if ratios else "")


def _markdown(title: str, head: list[str], body: list[list[str]], right: int) -> str:
    """A markdown table; columns from index `right` on are right-aligned."""
    widths = [max(len(head[i]), *(len(r[i]) for r in body)) for i in range(len(head))]

    def line(cells: list[str]) -> str:
        padded = [
            cell.rjust(width) if i >= right else cell.ljust(width)
            for i, (cell, width) in enumerate(zip(cells, widths, strict=True))
        ]
        return "| " + " | ".join(padded) + " |"

    rule = "|" + "|".join(
        "-" * (w + 1) + ":" if i >= right else "-" * (w + 2) for i, w in enumerate(widths)
    ) + "|"  # fmt: skip
    return "\n".join([title, line(head), rule, *(line(r) for r in body)])


def shapes_table(result: dict[str, Any]) -> str:
    rows = result["rows"]
    tables = []
    if rows:
        names = list(rows[0]["values"])
        ratio_names = list(rows[0]["ratios"])
        body = [
            [f"{r['workload']} c={r['concurrency']}", r["backend"], r["unit"]]
            + [f"{r['values'][n]:,.0f}" if n in r["values"] else "-" for n in names]
            + [f"{r['ratios'][n]:.2f}x" if n in r["ratios"] else "-" for n in ratio_names]
            for r in rows
        ]
        tables.append(
            _markdown(
                "Workload shapes, median of the windows: 1 MiB rows in MB/s (10^6 bytes of "
                "values moved), the others in commands/s; ratios = ours[hiredis] / column",
                ["shape", "loop", "unit", *names, *ratio_names],
                body,
                3,
            )
        )
    if result["latency"]:
        body = [
            [
                e["client"], e["backend"], f"{e['p50_us']:.1f}", f"{e['p99_us']:.1f}",
                f"{e['ops_per_s']:,.0f}",
                f"{e['p99_vs_redis-py']:.2f}x" if "p99_vs_redis-py" in e else "-",
            ]
            for e in result["latency"]
        ]  # fmt: skip
        tables.append(
            _markdown(
                "GET latency at 100 tasks (each task times each of its awaits with perf_counter; "
                "every command of the timed window), median over windows, microseconds",
                ["client", "loop", "p50 us", "p99 us", "ops/s", "p99 / redis-py p99"],
                body,
                2,
            )
        )
    if result["floor"]:
        names = list(next(iter(result["floor"].values()))["fraction"])
        body = [
            [backend, f"{f['floor_ops_per_s']:,.0f}"]
            + [f"{f['ops_per_s'][n]:,.0f}" for n in names]
            + [f"{100 * f['fraction'][n]:.1f}%" for n in names]
            for backend, f in result["floor"].items()
        ]
        settings = result["floor_settings"]
        tables.append(
            _markdown(
                f"GET c=100 against the loop floor (loop_floor.py: {settings['tasks']} tasks "
                "each awaiting its own reply, no socket; the median over "
                f"{settings['runs']} run(s) of the script, each the best of 3)",
                ["loop", "floor ops/s"]
                + [f"{n} ops/s" for n in names]
                + [f"{n} / floor" for n in names],
                body,
                1,
            )
        )
    return "\n\n".join(tables)


# == parser alone =============================================================================


def _lrange_reply(count: int) -> bytes:
    items = [b"item-%011d" % i for i in range(count)]
    return b"*%d\r\n" % count + b"".join(b"$%d\r\n%s\r\n" % (len(i), i) for i in items)


def _parse_seconds(backend: str, data: bytes, reps: int, chunk: int = 65536) -> float:
    parser = Parser(3, backend)
    best = float("inf")
    for _ in range(5):
        start = time.perf_counter()
        for _ in range(reps):
            for offset in range(0, len(data), chunk):
                parser.feed(data[offset : offset + chunk])
            while parser.next_reply() is not NEED_DATA:
                pass
        best = min(best, (time.perf_counter() - start) / reps)
    return best


def run_parser(args: argparse.Namespace) -> list[dict[str, Any]]:
    hgetall = b"%100\r\n" + b"".join(
        b"$10\r\nfield-%04d\r\n$16\r\n%s\r\n" % (i, VALUE) for i in range(100)
    )
    get = b"$16\r\n" + VALUE + b"\r\n"
    cases = [
        ("LRANGE1000 reply", _lrange_reply(1000), 300),
        ("LRANGE100 reply", _lrange_reply(100), 3000),
        ("HGETALL100 reply (RESP3 map)", hgetall, 3000),
        ("100 GET replies in one read", get * 100, 3000),
        ("1 GET reply", get, 30000),
    ]
    rows = []
    for name, data, reps in cases:
        reps = max(1, reps // 5) if args.quick else reps
        hiredis_s = _parse_seconds("hiredis", data, reps)
        python_s = _parse_seconds("python", data, reps)
        rows.append(
            {
                "case": name,
                "hiredis_us": hiredis_s * 1e6,
                "python_us": python_s * 1e6,
                "python_over_hiredis": python_s / hiredis_s,
            }
        )
        log(f"parser {name:30} hiredis {hiredis_s * 1e6:8.1f} us  python {python_s * 1e6:8.1f} us")
    return rows


def parser_table(rows: list[dict[str, Any]]) -> str:
    lines = [
        "Parsing alone (best of 5), microseconds per reply batch",
        "| case                          | hiredis us | python us | python / hiredis |",
        "|-------------------------------|-----------:|----------:|-----------------:|",
    ]
    for row in rows:
        lines.append(
            f"| {row['case']:29} | {row['hiredis_us']:10.1f} | {row['python_us']:9.1f} "
            f"| {row['python_over_hiredis']:15.2f}x |"
        )
    return "\n".join(lines)


# == rotation =================================================================================


class TimedIssuer(LocalTokenIssuer):
    """The local issuer, noting when each token arrived (perf_counter) and its ACL user."""

    def __init__(self, server: ServerProcess, lifetime: float) -> None:
        super().__init__(server, lifetime)
        self.fetched_at: list[float] = []
        self.oids: list[str] = []

    async def _fetch_token(self) -> Any:
        token = await super()._fetch_token()
        self.fetched_at.append(time.perf_counter())
        self.oids.append(self._users[token.token][0])
        return token


async def _rotation(
    server: ServerProcess, windows: int, window_s: float, connections: int, tasks: int
) -> dict[str, Any]:
    """Alternating windows without and with one rotation, under one continuous mixed load.

    The load never stops; a controller samples the operation count at each window boundary.
    In a rotation window the provider gets a new token at its start (``request_refresh``: the
    real refresher, broadcast and in-line AUTH of every connection) and the previous token's
    ACL user is deleted 1 s later, as the issuer does at expiry (the server would drop any
    connection still logged in with it). So rotation windows rotate every `window_s` seconds.
    Each rotation window is compared with the mean of the windows on either side of it, which
    cancels the slow drift of a shared machine.
    """
    issuer = TimedIssuer(server, 3600.0)  # no scheduled rotation: the controller rotates
    url = f"redis://{HOST}:{server.port}"
    count = 0
    errors = 0
    rates: list[tuple[str, float, float]] = []  # kind, ops/s, CPU seconds per op
    async with Client.open_with_credentials_provider(url, issuer) as client:
        cons = [await client.get_multiplexed_async_connection() for _ in range(connections)]
        stop = anyio.Event()

        async def worker(con: Any, index: int) -> None:
            nonlocal count, errors
            key = b"mixed:%d" % index
            execute = con.execute
            while not stop.is_set():
                try:
                    await execute("SET", key, VALUE)
                    await execute("GET", key)
                    await execute("INCR", b"mixed:counter")
                    await execute("HGET", b"bench:h", b"field-0001")
                    await execute("LRANGE", b"bench:l", 0, 9)
                    count += 5
                except Exception:
                    errors += 1

        async with anyio.create_task_group() as group:
            for i, con in enumerate(cons):
                for j in range(tasks):
                    group.start_soon(worker, con, i * tasks + j)
            await anyio.sleep(1.0)  # warm-up, and min_refresh_interval (1 s) since the token
            for index in range(windows):
                rotate = index % 2 == 1
                start, before, cpu = time.perf_counter(), count, time.process_time()
                if rotate:
                    issuer.request_refresh()
                    await anyio.sleep(1.0)
                    old = issuer.oids[-2]
                    await anyio.to_thread.run_sync(server.delete_user, old)
                await anyio.sleep(max(0.0, start + window_s - time.perf_counter()))
                done = count - before
                rates.append(
                    (
                        "rotation" if rotate else "none",
                        done / (time.perf_counter() - start),
                        (time.process_time() - cpu) / max(done, 1),
                    )
                )
            stop.set()
        reauths = [con.stats.reauths for con in cons]
        replacements = sum(con.stats.replacements for con in cons)
    for oid in issuer.oids:
        await anyio.to_thread.run_sync(server.delete_user, oid)
    costs = []
    cpu_costs = []
    for index in range(1, len(rates) - 1, 2):
        neighbours = (rates[index - 1][1] + rates[index + 1][1]) / 2
        costs.append(100.0 * (1.0 - rates[index][1] / neighbours))
        cpu_neighbours = (rates[index - 1][2] + rates[index + 1][2]) / 2
        cpu_costs.append(100.0 * (rates[index][2] / cpu_neighbours - 1.0))
    return {
        "rates": rates,
        "costs_percent": costs,
        "cpu_costs_percent": cpu_costs,
        "rotations": issuer.stats.refreshes - 1,
        "reauths_per_connection": reauths,
        "replacements": replacements,
        "errors": errors,
    }


def run_rotation(args: argparse.Namespace, server: ServerProcess) -> dict[str, Any]:
    windows = 11 if args.quick else 31
    window_s = 2.0
    summary: dict[str, Any] = {"windows": windows, "window_s": window_s, "backends": {}}
    for backend in args.backends:
        r = anyio.run(_rotation, server, windows, window_s, 4, 25, backend=backend)
        still = [rate for kind, rate, _ in r["rates"] if kind == "none"]
        rotating = [rate for kind, rate, _ in r["rates"] if kind == "rotation"]
        summary["backends"][backend] = {
            "no_rotation_ops_per_s": statistics.median(still),
            "rotation_ops_per_s": statistics.median(rotating),
            "cost_percent": statistics.median(r["costs_percent"]),
            "cost_percent_each": r["costs_percent"],
            "cpu_cost_percent": statistics.median(r["cpu_costs_percent"]),
            "cpu_cost_percent_each": r["cpu_costs_percent"],
            "rotations": r["rotations"],
            "reauths_per_connection": r["reauths_per_connection"],
            "replacements": r["replacements"],
            "errors": r["errors"],
        }
        log(f"rotation {backend:7} {summary['backends'][backend]}")
    return summary


def rotation_table(summary: dict[str, Any]) -> str:
    lines = [
        f"Mixed workload (SET, GET, INCR, HGET, LRANGE 0 9), 4 connections x 25 tasks; "
        f"{summary['windows']} alternating {summary['window_s']:g} s windows without / with a "
        "token rotation (so: rotation every 2 s); cost = median over rotation windows of "
        "1 - rate / mean of the two neighbouring windows; CPU cost = the same for the client "
        "process' CPU time per operation (less sensitive to other load on the machine)",
        "| loop    | no rotation ops/s | rotation every 2 s ops/s |  cost | CPU cost | rotations "
        "| re-auths per connection | errors |",
        "|---------|------------------:|-------------------------:|------:|---------:|----------:"
        "|------------------------:|-------:|",
    ]
    for backend, s in summary["backends"].items():
        lines.append(
            f"| {backend:7} | {s['no_rotation_ops_per_s']:17,.0f} | "
            f"{s['rotation_ops_per_s']:24,.0f} | {s['cost_percent']:+4.1f}% | "
            f"{s['cpu_cost_percent']:+7.1f}% | "
            f"{s['rotations']:9} | {'/'.join(map(str, s['reauths_per_connection'])):>23} | "
            f"{s['errors']:>6} |"
        )
    return "\n".join(lines)


# == time to first command ====================================================================


async def _first_ours(server: ServerProcess, with_token: bool) -> float:
    url = f"redis://{HOST}:{server.port}"
    start = time.perf_counter()
    if with_token:
        issuer = LocalTokenIssuer(server, 3600.0)
        client = Client.open_with_credentials_provider(url, issuer)
    else:
        client = Client.from_url(url)
    async with client:
        con = await client.get_multiplexed_async_connection()
        await con.execute("GET", "bench:k")
        elapsed = time.perf_counter() - start
    return elapsed


async def _first_peer(name: str, port: int) -> float:
    start = time.perf_counter()
    async with open_client(name, HOST, port) as ops:
        await ops.get(b"bench:k")
        return time.perf_counter() - start


def run_first(args: argparse.Namespace, server: ServerProcess, peers: list[str]) -> dict[str, Any]:
    repeat = 5 if args.quick else 15
    samples: dict[str, list[float]] = {}
    for _ in range(repeat):
        for backend in args.backends:
            for with_token in (True, False):
                label = f"ours {backend} {'with first token' if with_token else 'no auth'}"
                samples.setdefault(label, []).append(
                    anyio.run(_first_ours, server, with_token, backend=backend)
                )
        for name in peers:
            samples.setdefault(f"{name} asyncio no auth", []).append(
                anyio.run(_first_peer, name, server.port)
            )
    # Drop the ACL users the token runs created.
    for user in server.command("ACL", "USERS"):  # type: ignore[union-attr]
        if user.startswith(b"demo-oid-"):
            server.delete_user(user.decode())
    result = {label: statistics.median(values) * 1e3 for label, values in samples.items()}
    for label, value in result.items():
        log(f"first command {label:40} {value:7.2f} ms")
    return result


def first_table(result: dict[str, float]) -> str:
    lines = [
        "Time to first command (client created -> first GET reply), median, ms",
        "| client                                   |     ms |",
        "|------------------------------------------|-------:|",
    ]
    for label, value in result.items():
        lines.append(f"| {label:40} | {value:6.2f} |")
    return "\n".join(lines)


# == re-authentication of N connections =======================================================


async def _reauth(server: ServerProcess, connections: int) -> dict[str, float]:
    issuer = TimedIssuer(server, 600.0)
    url = f"redis://{HOST}:{server.port}"
    async with Client.open_with_credentials_provider(url, issuer) as client:
        cons: list[Any] = []
        start = time.perf_counter()

        async def connect() -> None:
            cons.append(await client.get_multiplexed_async_connection())

        async with anyio.create_task_group() as group:
            for _ in range(connections):
                group.start_soon(connect)
        connect_s = time.perf_counter() - start
        # min_refresh_interval is 1 s for this issuer: wait it out, then rotate once.
        await anyio.sleep(max(0.0, issuer.fetched_at[-1] + 1.05 - time.perf_counter()))
        start = time.perf_counter()
        issuer.request_refresh()
        while True:
            if all(con.stats.reauths for con in cons):
                break
            await anyio.sleep(0.0005)
        end = time.perf_counter()
        token_at = issuer.fetched_at[-1]
        result = {
            "connections": connections,
            "connect_all_ms": connect_s * 1e3,
            "total_ms": (end - start) * 1e3,
            "token_fetch_ms": (token_at - start) * 1e3,
            "reauth_all_ms": (end - token_at) * 1e3,
            "per_connection_us": (end - token_at) / connections * 1e6,
            "failures": sum(con.stats.reauth_failures for con in cons),
        }
        for con in cons:
            await con.aclose()
    for user in server.command("ACL", "USERS"):  # type: ignore[union-attr]
        if user.startswith(b"demo-oid-"):
            server.delete_user(user.decode())
    return result


def run_reauth(args: argparse.Namespace, server: ServerProcess) -> dict[str, Any]:
    repeat = 1 if args.quick else 3
    result: dict[str, Any] = {}
    for backend in args.backends:
        runs = [
            anyio.run(_reauth, server, args.connections, backend=backend) for _ in range(repeat)
        ]
        runs.sort(key=lambda r: r["total_ms"])
        result[backend] = runs[len(runs) // 2]
        log(f"reauth {backend:7} {result[backend]}")
    return result


def reauth_table(result: dict[str, Any]) -> str:
    lines = [
        "Re-authentication after one rotation (median run), ms",
        "| loop    | connections | token fetch | all re-authenticated after the token | "
        "per connection | total |",
        "|---------|------------:|------------:|-------------------------------------:|"
        "---------------:|------:|",
    ]
    for backend, r in result.items():
        lines.append(
            f"| {backend:7} | {r['connections']:11} | {r['token_fetch_ms']:11.2f} | "
            f"{r['reauth_all_ms']:36.2f} | {r['per_connection_us']:11.1f} us | "
            f"{r['total_ms']:5.1f} |"
        )
    return "\n".join(lines)


# == memory ===================================================================================


async def _memory(name: str, server: ServerProcess, inflight: int) -> dict[str, Any]:
    pause_ms = 6000
    release = anyio.Event()
    last_start = 0.0

    async def measure(call: Callable[[], Awaitable[object]], pause: bool) -> float:
        nonlocal last_start

        async def one() -> None:
            nonlocal last_start
            last_start = time.perf_counter()
            await call()

        gc.collect()
        tracemalloc.start()
        base = tracemalloc.get_traced_memory()[0]
        tracemalloc.reset_peak()
        if pause:
            # Replies are held back for pause_ms: all `inflight` commands are pending at once
            # (checked: the last one started before the pause ended).
            await anyio.to_thread.run_sync(server.command, "CLIENT", "PAUSE", pause_ms, "ALL")
        start = time.perf_counter()
        async with anyio.create_task_group() as group:
            for _ in range(inflight):
                group.start_soon(one)
            if not pause:
                await anyio.sleep(1.0)
                release.set()
        peak = tracemalloc.get_traced_memory()[1] - base
        tracemalloc.stop()
        if pause and last_start - start > pause_ms / 1e3:
            raise RuntimeError(f"{name}: starting {inflight} tasks outlasted the server pause")
        return float(peak)

    baseline = await measure(release.wait, False)
    async with open_client(name, HOST, server.port) as ops:
        await ops.get(b"bench:k")
        peak = await measure(lambda: ops.get(b"bench:k"), True)
    return {"peak_bytes": peak, "tasks_only_bytes": baseline, "net_bytes": peak - baseline}


def run_memory(args: argparse.Namespace, server: ServerProcess, peers: list[str]) -> dict[str, Any]:
    inflight = 10_000
    result: dict[str, Any] = {"inflight": inflight}
    for backend in args.backends:
        for name in args.parsers:
            result[f"{name} {backend}"] = anyio.run(
                _memory, name, server, inflight, backend=backend
            )
    for name in peers:
        result[f"{name} asyncio"] = anyio.run(_memory, name, server, inflight)
    for label, value in result.items():
        if label != "inflight":
            log(f"memory {label:24} {value}")
    return result


def memory_table(result: dict[str, Any]) -> str:
    lines = [
        f"Peak traced memory with {result['inflight']:,} GETs in flight (tracemalloc), MiB",
        "| client                  | peak | the same tasks doing nothing | client's share |",
        "|-------------------------|-----:|-----------------------------:|---------------:|",
    ]
    for label, r in result.items():
        if label == "inflight":
            continue
        lines.append(
            f"| {label:23} | {r['peak_bytes'] / 2**20:4.1f} | "
            f"{r['tasks_only_bytes'] / 2**20:28.1f} | {r['net_bytes'] / 2**20:14.1f} |"
        )
    if "glide asyncio" in result:
        lines.append("(glide: its Rust core's memory is not seen by tracemalloc)")
    return "\n".join(lines)


# == targets ==================================================================================


def targets(results: dict[str, Any]) -> list[dict[str, Any]]:
    checks: list[dict[str, Any]] = []

    def check(name: str, value: float | None, goal: float, higher: bool = True) -> None:
        if value is None:
            checks.append({"target": name, "value": None, "goal": goal, "holds": None})
            return
        holds = value >= goal if higher else value < goal
        checks.append({"target": name, "value": value, "goal": goal, "holds": holds})

    rows = results.get("throughput", [])

    def row(workload: str, concurrency: int, backend: str) -> dict[str, Any] | None:
        for r in rows:
            if (r["workload"], r["concurrency"], r["backend"]) == (workload, concurrency, backend):
                return r
        return None

    goals = {"redis-py": 5.0, "glide": 2.0, "coredis": 5.0, "ceiling": 0.7}
    for backend in ("asyncio", "trio"):
        r = row("GET", 100, backend)
        if r is None:
            continue
        for peer, goal in goals.items():
            check(
                f"GET c=100 {backend}: ours / {peer} >= {goal:g}",
                r["ratios"].get(f"vs {peer}"),
                goal,
            )
    for backend in ("asyncio", "trio"):
        for op in ("GET", "SET"):
            r = row(op, 1, backend)
            if r is not None:
                check(
                    f"{op} c=1 {backend}: ours / redis-py >= 1", r["ratios"].get("vs redis-py"), 1.0
                )
    for backend in ("asyncio", "trio"):
        r = row("LRANGE1000", 10, backend)
        if r is not None and "ours[python]" in r["ops_per_s"]:
            check(
                f"LRANGE1000 {backend}: hiredis / python parser (end to end) <= 4",
                r["ops_per_s"]["ours[hiredis]"] / r["ops_per_s"]["ours[python]"],
                4.0,
                higher=False,
            )
    for p in results.get("parser", []):
        if p["case"] == "LRANGE1000 reply":
            check("LRANGE1000 parse alone: python / hiredis <= 4", p["python_over_hiredis"], 4.0,
                  higher=False)  # fmt: skip
    for backend, s in results.get("rotation", {}).get("backends", {}).items():
        check(f"rotation every 2 s {backend}: cost % < 2", s["cost_percent"], 2.0, higher=False)
        check(
            f"rotation every 2 s {backend}: CPU cost per op % < 2",
            s["cpu_cost_percent"],
            2.0,
            higher=False,
        )
    return checks


def shapes_targets(results: dict[str, Any]) -> list[dict[str, Any]]:
    """The targets of issue 16, from the shapes section (ours = ours[hiredis])."""
    checks: list[dict[str, Any]] = []

    def check(name: str, value: float | None, goal: float, higher: bool = True) -> None:
        # "No worse than" (higher=False here) holds at equality.
        holds = None if value is None else (value >= goal if higher else value <= goal)
        checks.append({"target": name, "value": value, "goal": goal, "holds": holds})

    shapes = results.get("shapes", {})
    rows = shapes.get("rows", [])
    backends = list(dict.fromkeys(r["backend"] for r in rows))

    def ratio(workload: str, concurrency: int, backend: str) -> float | None:
        for r in rows:
            if (r["workload"], r["concurrency"], r["backend"]) == (workload, concurrency, backend):
                return r["ratios"].get("vs redis-py")  # type: ignore[no-any-return]
        return None

    for backend in backends:
        for workload in ("SET 1MiB", "GET 1MiB"):
            check(
                f"{workload} c=10 {backend}: ours / redis-py >= 1.2",
                ratio(workload, 10, backend),
                1.2,
            )
    for backend in backends:
        check(f"GET c=1 {backend}: ours / redis-py >= 1.15", ratio("GET", 1, backend), 1.15)
    floor_goals = {"asyncio": 0.35, "trio": 0.40}
    for backend in backends:
        goal = floor_goals.get(backend)
        floor = shapes.get("floor", {}).get(backend)  # absent without loop_floor.py: n/a
        if goal is not None:
            check(
                f"GET c=100 {backend}: ours / loop floor >= {goal:.0%}",
                floor["fraction"].get("ours[hiredis]") if floor else None,
                goal,
            )
    latency = {e["backend"]: e for e in shapes.get("latency", []) if e["client"] == "ours[hiredis]"}
    for backend in backends:
        check(
            f"GET c=100 {backend}: ours p99 / redis-py p99 <= 1",
            latency.get(backend, {}).get("p99_vs_redis-py"),
            1.0,
            higher=False,
        )
    return checks


def targets_table(checks: list[dict[str, Any]], title: str = "Targets (issue 7)") -> str:
    lines = [title, "| target | measured | holds |", "|---|---:|:---:|"]
    for c in checks:
        value = "-" if c["value"] is None else f"{c['value']:.2f}"
        holds = "n/a" if c["holds"] is None else ("yes" if c["holds"] else "NO")
        lines.append(f"| {c['target']} | {value} | {holds} |")
    return "\n".join(lines)


# == main =====================================================================================


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="a short run (same tables)")
    parser.add_argument(
        "--json",
        nargs="?",
        const="-",
        metavar="FILE",
        help="write the results as JSON to FILE (default: stdout; the tables go to stderr)",
    )
    parser.add_argument("--only", nargs="*", choices=SECTIONS, default=list(SECTIONS))
    parser.add_argument("--concurrency", type=int, nargs="*", default=[1, 10, 100, 1000])
    parser.add_argument("--backends", nargs="*", default=["asyncio", "trio"])
    parser.add_argument("--parsers", nargs="*", default=list(OURS), choices=OURS)
    parser.add_argument("--peers", nargs="*", default=list(PEERS), choices=list(PEERS))
    parser.add_argument("--repeat", type=int, help="repetitions (default 5; --quick 3)")
    parser.add_argument("--duration", type=float, help="seconds per window (1.0; --quick 0.3)")
    parser.add_argument("--connections", type=int, default=1000, help="for the re-auth cost")
    parser.add_argument("--ceiling", type=Path, default=DEFAULT_CEILING)
    parser.add_argument("--floor", type=Path, default=DEFAULT_FLOOR, help="loop_floor.py")
    args = parser.parse_args()
    args.repeat = args.repeat or (3 if args.quick else 5)
    args.duration = args.duration or (0.3 if args.quick else 1.0)
    args.warmup = args.duration / 4

    missing = missing_peers()
    peers = [name for name in args.peers if name not in missing]
    notes = [f"{name}: skipped, {why}" for name, why in missing.items() if name in args.peers]
    if not args.ceiling.exists():
        notes.append(f"ceiling sketch: skipped, {args.ceiling} not found")
    if "shapes" in args.only and not args.floor.exists():
        notes.append(f"loop floor: skipped, {args.floor} not found")
    for note in notes:
        log(note)

    binary = find_binary("redis") or find_binary("valkey")
    if binary is None:
        raise SystemExit("no redis-server or valkey-server found (set REDIS_SERVER)")
    kind = "redis" if "redis" in Path(binary).name else "valkey"
    server = ServerProcess(kind, binary, extra_args=("--maxclients", "4000")).start()
    results: dict[str, Any] = {
        "command": " ".join(["python -m benchmarks.suite", *sys.argv[1:]]),
        "machine": {
            "python": platform.python_version(),
            "platform": platform.platform(),
            "cpus": os.cpu_count(),
            "server": f"{kind} {'.'.join(map(str, server.version))}",
        },
        "settings": {
            "repeat": args.repeat,
            "duration_s": args.duration,
            "peers": peers,
        },
        "notes": notes,
    }
    tables: list[str] = []
    try:
        prepare_data(server)
        if "throughput" in args.only:
            results["throughput"] = run_throughput(args, server.port, peers)
            tables.append(throughput_table(results["throughput"]))
        if "shapes" in args.only:
            results["shapes"] = run_shapes(args, server, peers)
            tables.append(shapes_table(results["shapes"]))
        if "parser" in args.only:
            results["parser"] = run_parser(args)
            tables.append(parser_table(results["parser"]))
        if "rotation" in args.only:
            results["rotation"] = run_rotation(args, server)
            tables.append(rotation_table(results["rotation"]))
        if "first" in args.only:
            results["first_command_ms"] = run_first(args, server, peers)
            tables.append(first_table(results["first_command_ms"]))
        if "reauth" in args.only:
            results["reauth"] = run_reauth(args, server)
            tables.append(reauth_table(results["reauth"]))
        if "memory" in args.only:
            results["memory"] = run_memory(args, server, peers)
            tables.append(memory_table(results["memory"]))
    finally:
        server.close()
    results["targets"] = targets(results)
    # Only "shapes" feeds no issue-7 target: its run alone shows the issue-16 table alone.
    if results["targets"] or args.only != ["shapes"]:
        tables.append(targets_table(results["targets"]))
    if "shapes" in args.only:
        results["targets_issue16"] = shapes_targets(results)
        tables.append(targets_table(results["targets_issue16"], "Targets (issue 16)"))
    header = (
        f"{results['command']}\n{results['machine']['platform']}, {results['machine']['cpus']} "
        f"CPUs, Python {results['machine']['python']}, {results['machine']['server']}; "
        f"peers: {', '.join(peers) or 'none'}"
    )
    text = "\n\n".join([header, *notes, *tables])
    if args.json is None:
        print(text)
    elif args.json == "-":
        log(text)
        print(json.dumps(results, indent=2))
    else:
        print(text)
        Path(args.json).write_text(json.dumps(results, indent=2) + "\n")


if __name__ == "__main__":
    main()
