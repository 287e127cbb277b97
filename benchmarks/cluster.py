"""The Redis Cluster benchmark of issue 13, against a local cluster started for the run.

    python -m benchmarks.cluster            # full run (about 5 minutes on 2 cores)
    python -m benchmarks.cluster --quick    # short run (about 1 minute), same tables
    python -m benchmarks.cluster --json results.json       # tables on stdout, JSON to the file
    python -m benchmarks.cluster --json                    # JSON on stdout, tables on stderr
    python -m benchmarks.cluster --quick --backends trio   # ours on trio only

The cluster is `anyredis_auth.testing.cluster.LocalCluster`: 3 primaries and 3 replicas, real
``redis-server`` (else ``valkey-server``) processes on loopback.

Sections:

* ``throughput``: GET and SET of 16-byte values at 100 and 1000 concurrent tasks, and
  non-transactional pipelines of 100 GETs from 1 and 10 tasks. The 1000 keys (``bench:0`` ..
  ``bench:999``) lie in about 970 slots, on every primary; each call takes the next key of one
  shared round robin, each pipeline the next of 10 fixed batches of 100 shuffled keys (so
  about 100 slots on the 3 primaries). Ours: one ``ClusterClient`` with the hiredis parser,
  one ``ClusterConnection`` shared by every task, on asyncio and trio. Peers, on asyncio:
  redis-py's ``redis.asyncio.cluster.RedisCluster`` (hiredis, up to 1000 connections per node:
  it raises rather than waits when its per-node limit is reached), coredis's ``RedisCluster``
  (100 connections per node) and valkey-glide's ``GlideClusterClient``. Each cell is the
  median of ``--repeat`` timed windows, the clients interleaved in each repetition, every
  client opened afresh for each window and checked after it (GET and pipeline replies must be
  the stored values). Ratios are ours on that row's event loop over each peer of the same run
  (peers are asyncio-only: trio rows compare with the same asyncio figures).
* ``reauth``: the time from one credentials rotation until every node session of ours has
  re-authenticated. The client reads from replicas (``read_from_replicas=True``) and has
  touched every node, so it holds one session per node (3 primaries, 3 replicas). Each
  rotation is a new ACL user, made on every node beforehand (``LocalCluster.add_user``); the
  new credentials are pushed with ``anyredis_auth.testing.ManualCredentialsProvider`` and the
  clock stops when every node session's ``stats.reauths`` went up. There is no public way to
  reach the node sessions: the benchmark reads them through the client's private ``_router``
  attribute (read only; no private module is imported). Measured idle and under a GET load of
  100 tasks; then checked from the servers' side: every node's ``CLIENT LIST`` shows our
  sessions logged in as the new user and none as the old one.

Peers are optional (``pip install -e '.[bench]'``); one that is missing or cannot connect is
skipped with a note. The targets table (issue 13: at 100 tasks, ours >= 5x redis-py and >= 2x
glide, on both loops) only says whether each target holds: nothing here asserts on a figure.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import platform
import random
import secrets
import statistics
import sys
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from pathlib import Path
from typing import Any, Protocol

import anyio
import anyio.lowlevel

from anyredis_auth import ClusterClient, Credentials
from anyredis_auth.testing import ManualCredentialsProvider
from anyredis_auth.testing.cluster import LocalCluster
from anyredis_auth.testing.servers import find_binary

from ._clients import missing_peers
from .suite import Workload, _drive, format_row, log, targets_table, throughput_table

VALUE = b"v" * 16
KEYS = [b"bench:%d" % i for i in range(1000)]
BATCH = 100
OURS = "ours[hiredis]"
PEERS = ("redis-py", "coredis", "glide")


# == the clients ==============================================================================


class ClusterOps(Protocol):
    """What a workload may ask of a cluster client."""

    async def get(self, key: bytes) -> Any: ...
    async def set(self, key: bytes, value: bytes) -> Any: ...
    async def pipeline_get(self, keys: list[bytes]) -> list[Any]: ...


class _Ours:
    def __init__(self, con: Any) -> None:
        self._con = con
        self._execute = con.execute

    async def get(self, key: bytes) -> Any:
        return await self._execute("GET", key)

    async def set(self, key: bytes, value: bytes) -> Any:
        return await self._execute("SET", key, value)

    async def pipeline_get(self, keys: list[bytes]) -> list[Any]:
        pipe = self._con.pipeline()
        for key in keys:
            pipe.execute_command("GET", key)
        return await pipe.execute()  # type: ignore[no-any-return]


@asynccontextmanager
async def _ours(url: str) -> AsyncIterator[ClusterOps]:
    async with ClusterClient.from_url(url, parser="hiredis") as cluster:
        yield _Ours(await cluster.get_async_connection())


class _RedisPy:
    def __init__(self, client: Any) -> None:
        self._client = client

    async def get(self, key: bytes) -> Any:
        return await self._client.get(key)

    async def set(self, key: bytes, value: bytes) -> Any:
        return await self._client.set(key, value)

    async def pipeline_get(self, keys: list[bytes]) -> list[Any]:
        async with self._client.pipeline() as pipe:
            for key in keys:
                pipe.get(key)
            return await pipe.execute()  # type: ignore[no-any-return]


@asynccontextmanager
async def _redis_py(host: str, port: int) -> AsyncIterator[ClusterOps]:
    from redis.asyncio.cluster import RedisCluster

    # Its per-node limit raises MaxConnectionsError when reached (no waiting): room for 1000
    # tasks, all of which may wait on one node.
    client = RedisCluster(host=host, port=port, max_connections=1000)
    try:
        await client.initialize()
        yield _RedisPy(client)
    finally:
        await client.aclose()


class _Coredis:
    def __init__(self, client: Any) -> None:
        self._client = client

    async def get(self, key: bytes) -> Any:
        return await self._client.get(key)

    async def set(self, key: bytes, value: bytes) -> Any:
        return await self._client.set(key, value)

    async def pipeline_get(self, keys: list[bytes]) -> list[Any]:
        async with self._client.pipeline(transaction=False) as pipe:
            for key in keys:
                pipe.get(key)
        return list(pipe.results)


@asynccontextmanager
async def _coredis(host: str, port: int) -> AsyncIterator[ClusterOps]:
    import coredis

    client = coredis.RedisCluster(host, port, max_connections=100, max_connections_per_node=True)
    async with client:
        yield _Coredis(client)


class _Glide:
    def __init__(self, client: Any) -> None:
        self._client = client

    async def get(self, key: bytes) -> Any:
        return await self._client.get(key)

    async def set(self, key: bytes, value: bytes) -> Any:
        return await self._client.set(key, value)

    async def pipeline_get(self, keys: list[bytes]) -> list[Any]:
        from glide import ClusterBatch

        batch = ClusterBatch(is_atomic=False)
        for key in keys:
            batch.get(key)
        return await self._client.exec(batch, raise_on_error=True)  # type: ignore[no-any-return]


@asynccontextmanager
async def _glide(host: str, port: int) -> AsyncIterator[ClusterOps]:
    from glide import GlideClusterClient, GlideClusterClientConfiguration, Logger, NodeAddress
    from glide.logger import Level

    Logger.set_logger_config(Level.ERROR)  # its warnings go to stdout, into --json output
    # Its default 250 ms request timeout is short for 1000 tasks on a loaded machine.
    config = GlideClusterClientConfiguration(
        [NodeAddress(host, port)], inflight_requests_limit=20_000, request_timeout=30_000
    )
    client = await GlideClusterClient.create(config)
    try:
        yield _Glide(client)
    finally:
        await client.close()


def open_cluster_client(name: str, host: str, port: int) -> AbstractAsyncContextManager[ClusterOps]:
    """``ours[hiredis]`` or a peer name -> an async context manager of ClusterOps."""
    factories: dict[str, Callable[[], AbstractAsyncContextManager[ClusterOps]]] = {
        OURS: lambda: _ours(f"redis://{host}:{port}"),
        "redis-py": lambda: _redis_py(host, port),
        "coredis": lambda: _coredis(host, port),
        "glide": lambda: _glide(host, port),
    }
    return factories[name]()


# == throughput ===============================================================================


def _round_robin() -> Iterator[bytes]:
    return itertools.cycle(KEYS)


def _batches() -> Iterator[list[bytes]]:
    keys = list(KEYS)
    random.Random(13).shuffle(keys)  # fixed: every client gets the same batches
    return itertools.cycle([keys[i : i + BATCH] for i in range(0, len(keys), BATCH)])


# The call of each workload takes the next key (batch) of an iterator shared by its tasks; each
# measurement makes a fresh one, so every client sees the same sequence.


def _get_call() -> Callable[[Any], Callable[[], Awaitable[object]]]:
    keys = _round_robin()
    return lambda ops: lambda: ops.get(next(keys))


def _set_call() -> Callable[[Any], Callable[[], Awaitable[object]]]:
    keys = _round_robin()
    return lambda ops: lambda: ops.set(next(keys), VALUE)


def _pipeline_call() -> Callable[[Any], Callable[[], Awaitable[object]]]:
    batches = _batches()
    return lambda ops: lambda: ops.pipeline_get(next(batches))


class ClusterWorkload:
    """A workload: `make_call()` returns the per-measurement binder (see `suite.Workload`)."""

    def __init__(
        self,
        name: str,
        concurrency: int,
        make_call: Callable[[], Callable[[Any], Callable[[], Awaitable[object]]]],
        per_call: int = 1,
    ) -> None:
        self.name = name
        self.concurrency = concurrency
        self.make_call = make_call
        self.per_call = per_call

    def bind(self) -> Workload:
        return Workload(self.name, self.concurrency, self.make_call(), self.per_call)


def workloads() -> list[ClusterWorkload]:
    return [
        ClusterWorkload("GET", 100, _get_call),
        ClusterWorkload("GET", 1000, _get_call),
        ClusterWorkload("SET", 100, _set_call),
        ClusterWorkload("SET", 1000, _set_call),
        ClusterWorkload("PIPELINE100", 1, _pipeline_call, BATCH),
        ClusterWorkload("PIPELINE100", 10, _pipeline_call, BATCH),
    ]


async def _check(name: str, ops: ClusterOps) -> None:
    """A client that returned the wrong thing posts no figure."""
    for key in KEYS[:: len(KEYS) // 10]:
        got = await ops.get(key)
        if got != VALUE:
            raise RuntimeError(f"{name}: GET {key!r} returned {got!r}, not {VALUE!r}")
    batch = next(_batches())
    got_all = await ops.pipeline_get(batch)
    if list(got_all) != [VALUE] * len(batch):
        raise RuntimeError(f"{name}: a pipeline of {len(batch)} GETs returned wrong replies")


async def _measure(
    name: str, host: str, port: int, workload: ClusterWorkload, duration: float, warmup: float
) -> float:
    async with open_cluster_client(name, host, port) as ops:
        rate = await _drive(ops, workload.bind(), duration, warmup)  # type: ignore[arg-type]
        await _check(name, ops)
    return rate


def run_throughput(
    args: argparse.Namespace, host: str, port: int, peers: list[str]
) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    for workload in workloads():
        samples: dict[tuple[str, str], list[float]] = {}
        for _ in range(args.repeat):
            for backend in args.backends:
                rate = anyio.run(
                    _measure, OURS, host, port, workload, args.duration, args.warmup,
                    backend=backend,
                )  # fmt: skip
                samples.setdefault((OURS, backend), []).append(rate)
            for name in peers:
                rate = anyio.run(_measure, name, host, port, workload, args.duration, args.warmup)
                samples.setdefault((name, "asyncio"), []).append(rate)
        medians = {key: statistics.median(values) for key, values in samples.items()}
        for backend in args.backends:
            row: dict[str, Any] = {
                "workload": workload.name,
                "concurrency": workload.concurrency,
                "backend": backend,
                "ops_per_s": {OURS: medians[OURS, backend]},
                "ratios": {},
            }
            for name in peers:
                row["ops_per_s"][name] = medians[name, "asyncio"]
                if medians[name, "asyncio"] > 0:  # no ratio to a client that did nothing
                    row["ratios"][f"vs {name}"] = medians[OURS, backend] / medians[name, "asyncio"]
            rows.append(row)
            log(format_row(row))
    return rows


async def _probe(name: str, host: str, port: int) -> None:
    async with open_cluster_client(name, host, port) as ops:
        await ops.set(KEYS[0], VALUE)


def usable_peers(names: list[str], host: str, port: int, notes: list[str]) -> list[str]:
    """The peers that connect and answer; the others get a note."""
    usable = []
    for name in names:
        try:
            anyio.run(_probe, name, host, port)
        except Exception as exc:
            notes.append(f"{name}: skipped, it failed to connect: {type(exc).__name__}: {exc}")
            log(notes[-1])
        else:
            usable.append(name)
    return usable


def prepare_data(cluster: LocalCluster) -> None:
    """Every key holds VALUE, written node by node with plain commands (no client under test)."""
    owners = [(node, cluster.slot_ranges(node)) for node in cluster.primaries()]
    for node, _ in owners:
        node.command("FLUSHALL")
    for key in KEYS:
        slot = _keyslot(key)
        node = next(n for n, ranges in owners if any(lo <= slot <= hi for lo, hi in ranges))
        # A wrong slot here would be a MOVED error: the computation checks itself.
        node.command("SET", key, VALUE)


def _keyslot(key: bytes) -> int:
    """The Redis Cluster slot of `key`: CRC16 (XMODEM) of its hash tag or whole key, mod 16384."""
    start = key.find(b"{")
    if start >= 0:
        end = key.find(b"}", start + 1)
        if end > start + 1:
            key = key[start + 1 : end]
    crc = 0
    for byte in key:
        crc ^= byte << 8
        for _ in range(8):
            crc = ((crc << 1) ^ 0x1021 if crc & 0x8000 else crc << 1) & 0xFFFF
    return crc % 16384


# == re-authentication of every node session ==================================================


#: How long a rotation may take before the benchmark says the sessions did not re-authenticate.
REAUTH_LIMIT_S = 10.0


async def _reauth(
    cluster: LocalCluster, rotations: int, load_tasks: int, start_sessions: bool = False
) -> dict[str, Any]:
    """`rotations` rotations; with `start_sessions`, each node connection's public ``connect()``
    is called first (the work-around of the cluster bug described in `run_reauth`)."""
    users: list[str] = []

    def new_user(index: int) -> Credentials:
        """A new ACL user on every node (the password goes to the servers and nowhere else)."""
        user, password = f"bench-rot-{index}-{secrets.token_hex(4)}", secrets.token_urlsafe(24)
        cluster.add_user(user, password)
        users.append(user)
        return Credentials(user, password)

    provider = ManualCredentialsProvider(await anyio.to_thread.run_sync(new_user, 0))
    times: list[float] = []
    checks: list[str] = []
    done = 0
    async with ClusterClient.open_with_credentials_provider(
        cluster.url, provider, parser="hiredis", read_from_replicas=True
    ) as client:
        con = await client.get_async_connection()
        # Touch every node: a write to each primary, a read from each replica.
        for key in KEYS[:50]:
            await con.execute("SET", key, VALUE)
            await con.execute("GET", key)
        # No public way to the node sessions: read them (only) through the private router.
        router = client._router
        assert router is not None
        sessions = [node.connection for node in router.connections()]
        if start_sessions:
            for session in sessions:
                await session.connect()
        stop = anyio.Event()
        stuck = ""

        async def load(offset: int) -> None:
            nonlocal done
            keys = itertools.cycle(KEYS[offset:] + KEYS[:offset])
            while not stop.is_set():
                await con.execute("GET", next(keys))
                done += 1

        async with anyio.create_task_group() as group:
            for index in range(load_tasks):
                group.start_soon(load, index * 7)
            await anyio.sleep(0.2 if load_tasks else 0.0)
            for index in range(1, rotations + 1):
                credentials = await anyio.to_thread.run_sync(new_user, index)
                before = [session.stats.reauths for session in sessions]
                start = time.perf_counter()
                provider.set_credentials(credentials)
                # Yield to the loop until every session counted one more re-auth: a busy
                # wait, so the clock stops within one loop turn of the last one.
                while True:
                    pairs = zip(sessions, before, strict=True)
                    if all(s.stats.reauths > b for s, b in pairs):
                        break
                    if time.perf_counter() - start > REAUTH_LIMIT_S:
                        pairs = zip(sessions, before, strict=True)
                        count = sum(s.stats.reauths > b for s, b in pairs)
                        stuck = (
                            f"{count} of {len(sessions)} re-authenticated in {REAUTH_LIMIT_S:g} s"
                        )
                        break
                    await anyio.lowlevel.checkpoint()
                if stuck:
                    break
                times.append(time.perf_counter() - start)
                checks.append(
                    await anyio.to_thread.run_sync(_logged_in_as, cluster, users[-2], users[-1])
                )
            stop.set()
        failures = sum(session.stats.reauth_failures for session in sessions)
        replacements = sum(session.stats.replacements for session in sessions)
    for user in users:
        await anyio.to_thread.run_sync(cluster.delete_user, user)
    return {
        "sessions": len(sessions),
        "rotations": len(times),
        "load_tasks": load_tasks,
        "sessions_started_explicitly": start_sessions,
        "did_not_reauthenticate": stuck or None,
        "times_ms": [t * 1e3 for t in times],
        "median_ms": statistics.median(times) * 1e3 if times else None,
        "max_ms": max(times) * 1e3 if times else None,
        "server_check": ("ok" if all(c == "ok" for c in checks) else "; ".join(checks))
        if times
        else "-",
        "reauth_failures": failures,
        "replacements": replacements,
        "load_commands": done,
    }


def _logged_in_as(cluster: LocalCluster, old: str, new: str) -> str:
    """``ok`` when no node has a client logged in as `old` and every node has one as `new`."""
    problems = []
    for node in cluster.nodes:
        if not node.alive:
            continue
        reply = node.command("CLIENT", "LIST")
        assert isinstance(reply, bytes)
        users = [
            field.split(b"=", 1)[1].decode()
            for line in reply.splitlines()
            for field in line.split()
            if field.startswith(b"user=")
        ]
        if old in users or new not in users:
            problems.append(f"node {node.port}: {users.count(old)} old, {users.count(new)} new")
    return "ok" if not problems else ", ".join(problems)


def run_reauth(args: argparse.Namespace, cluster: LocalCluster) -> list[dict[str, Any]]:
    """Idle and under load, on each loop. Should the node sessions not re-authenticate at all
    (as at commit f64c8cc: a node connection made on first use connected its session without
    ``Session.start``, so it never followed the provider), the same is measured again with
    every node connection's public ``connect()`` called first, and the table says so."""
    rotations = 5 if args.quick else 15
    rows = []
    for load_tasks in (0, 100):
        for backend in args.backends:
            r = anyio.run(_reauth, cluster, rotations, load_tasks, backend=backend)
            r["backend"] = backend
            rows.append(r)
            log(f"reauth {backend:7} load={load_tasks:3} {r}")
            if r["did_not_reauthenticate"]:
                r = anyio.run(_reauth, cluster, rotations, load_tasks, True, backend=backend)
                r["backend"] = backend
                rows.append(r)
                log(f"reauth {backend:7} load={load_tasks:3} connect() first {r}")
    return rows


def reauth_table(rows: list[dict[str, Any]]) -> str:
    lines = [
        "Re-authentication of every node session after one rotation (credentials pushed -> "
        "every session's re-auth done), ms",
        "| loop    | load            | sessions           | rotations | median |    max | "
        "server check | failures |",
        "|---------|-----------------|--------------------|----------:|-------:|-------:|"
        "--------------|---------:|",
    ]
    notes = []
    for r in rows:
        load = f"GET x {r['load_tasks']} tasks" if r["load_tasks"] else "idle"
        how = (
            f"{r['sessions']}, connect() first"
            if r["sessions_started_explicitly"]
            else (f"{r['sessions']}, as made")
        )
        if r["did_not_reauthenticate"]:
            median = peak = "NONE"
            notes.append(f"{r['backend']} {load}: {r['did_not_reauthenticate']}")
        else:
            median, peak = f"{r['median_ms']:6.2f}", f"{r['max_ms']:6.2f}"
        lines.append(
            f"| {r['backend']:7} | {load:15} | {how:18} | {r['rotations']:9} | {median:>6} | "
            f"{peak:>6} | {r['server_check']:12} | {r['reauth_failures']:8} |"
        )
    if notes:
        lines.append(
            "NONE: the node sessions did not re-authenticate (" + "; ".join(notes) + "); "
            "'connect() first': each node connection's public connect() was called before "
            "the rotations (see run_reauth)"
        )
    return "\n".join(lines)


# == targets ==================================================================================


def targets(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Issue 13: at 100 tasks, ours >= 5x redis-py and >= 2x glide, on both loops."""
    checks = []
    for r in rows:
        if r["concurrency"] != 100:
            continue
        for peer, goal in (("redis-py", 5.0), ("glide", 2.0)):
            value = r["ratios"].get(f"vs {peer}")
            checks.append(
                {
                    "target": f"{r['workload']} c=100 {r['backend']}: ours / {peer} >= {goal:g}",
                    "value": value,
                    "goal": goal,
                    "holds": None if value is None else value >= goal,
                }
            )
    return checks


def start_cluster(kind: str, attempts: int = 3) -> LocalCluster:
    """A started 3+3 cluster; on a shared machine a free port may be taken before a node binds
    it, so a start that fails is tried again on other ports."""
    for attempt in range(1, attempts + 1):
        try:
            return LocalCluster(kind, primaries=3, replicas_per_primary=1).start()
        except (RuntimeError, TimeoutError) as exc:
            if attempt == attempts:
                raise
            log(f"the cluster did not start ({type(exc).__name__}), trying again")
    raise AssertionError("unreachable")


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
    parser.add_argument("--only", nargs="*", choices=("throughput", "reauth"),
                        default=["throughput", "reauth"])  # fmt: skip
    parser.add_argument("--backends", nargs="*", default=["asyncio", "trio"])
    parser.add_argument("--peers", nargs="*", default=list(PEERS), choices=PEERS)
    parser.add_argument("--repeat", type=int, help="repetitions (default 5; --quick 3)")
    parser.add_argument("--duration", type=float, help="seconds per window (1.0; --quick 0.3)")
    args = parser.parse_args()
    args.repeat = args.repeat or (3 if args.quick else 5)
    args.duration = args.duration or (0.3 if args.quick else 1.0)
    # Longer than the suite's quarter: the peers open up to hundreds of connections per node
    # at 1000 tasks, which the timed window should not include.
    args.warmup = args.duration / 2

    missing = missing_peers()
    notes = [f"{name}: skipped, {why}" for name, why in missing.items() if name in args.peers]
    for note in notes:
        log(note)
    wanted = [name for name in args.peers if name not in missing]

    kind = "redis" if find_binary("redis") else "valkey"
    if find_binary(kind) is None:
        raise SystemExit("no redis-server or valkey-server found (set REDIS_SERVER)")
    log(f"starting a local {kind} cluster (3 primaries, 3 replicas)")
    results: dict[str, Any] = {
        "command": " ".join(["python -m benchmarks.cluster", *sys.argv[1:]]),
        "settings": {"repeat": args.repeat, "duration_s": args.duration},
    }
    tables: list[str] = []
    cluster = start_cluster(kind)
    try:
        seed = cluster.primaries()[0]
        results["machine"] = {
            "python": platform.python_version(),
            "platform": platform.platform(),
            "cpus": os.cpu_count(),
            "server": f"{kind} {'.'.join(map(str, seed.version))} cluster 3+3",
        }
        prepare_data(cluster)
        peers = (
            usable_peers(wanted, seed.host, seed.port, notes) if "throughput" in args.only else []
        )
        results["settings"]["peers"] = peers
        if "throughput" in args.only:
            results["throughput"] = run_throughput(args, seed.host, seed.port, peers)
            tables.append(throughput_table(results["throughput"]))
            results["targets"] = targets(results["throughput"])
            tables.append(targets_table(results["targets"], "Targets (issue 13)"))
        if "reauth" in args.only:
            results["reauth"] = run_reauth(args, cluster)
            tables.append(reauth_table(results["reauth"]))
    finally:
        cluster.close()
    results["notes"] = notes
    header = (
        f"{results['command']}\n{results['machine']['platform']}, {results['machine']['cpus']} "
        f"CPUs, Python {results['machine']['python']}, {results['machine']['server']}; "
        f"peers: {', '.join(results['settings']['peers']) or 'none'}"
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
