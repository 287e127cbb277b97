"""`ClusterConnection`: one command interface over every node's shared connection.

Routing follows the server's own command table (`COMMAND`): the key specs give the keys, the
keys' CRC16 slot gives the node; a keyless command goes wherever its ``request_policy`` tip says
(``all_shards``, ``all_nodes``: every primary, every node, replies combined as its
``response_policy`` says) or to any primary. ``MGET``, ``MSET``, ``DEL``, ``UNLINK``, ``EXISTS``
and ``TOUCH`` across slots are split per slot, sent concurrently and merged in the caller's
order: that is not atomic (each slot's part is). Other commands across slots get the server's
``CROSSSLOT`` error.

Redirects: ``MOVED`` updates the slot map (a full refresh follows) and retries on the named
node; ``ASK`` sends ``ASKING`` and the command to the named node, in one write; ``TRYAGAIN`` and
``CLUSTERDOWN`` retry with back-off. ``max_redirects`` bounds the chain. A connection error on a
command already sent is the caller's (it may have run): the slot map is refreshed for the next
ones. A command that could not reach its node waits (bounded by ``failover_timeout``) for a
slot map that names another node, then goes there: the promoted replica after a failover.

The hot path: a one-key command (GET, SET, INCR...: the table says its only key is argument 1)
is routed by two cached lookups, whether its name takes that path and which connection serves
its slot (both dropped whenever the table, the slot map or the nodes change), and sent from
`execute`'s own frame. A pipeline encodes each command once while grouping, then queues every
node's batch on its live connection before awaiting any (no task per node).
"""

from __future__ import annotations

import logging
from binascii import crc_hqx
from collections.abc import Awaitable, Callable, Sequence
from types import TracebackType
from typing import Any

import anyio

from .._commands import Commands, ConnectionOnlyCommands, Queue
from .._connection._pipeline import check_pipelined, parse_results, raise_first_error
from .._errors import ExecAbortError, RedisConnectionError, RedisError, ResponseError
from ..protocol import CommandArg
from ..protocol._cluster_commands import (
    ALL_NODES,
    ALL_SHARDS,
    CrossSlotError,
    merge_replies,
    merge_split,
    slot_of,
    slot_of_command,
    split_by_slot,
)
from ..protocol._cluster_redirects import ASK, MOVED, parse_redirect
from ..protocol._cluster_slots import key_slot
from ..protocol._cluster_topology import ClusterNode
from ..protocol._encoder import Pieces, concat, encode_pieces
from ..protocol._routing import _ORDINARY as ORDINARY_NAMES
from ..protocol._routing import BLOCKING, classify, command_name
from ._router import NodeConnection, Router

__all__ = ["ClusterConnection", "ClusterPipeline"]

logger = logging.getLogger("anyredis_auth.cluster")

_RETRY_DELAY = 0.05
_RETRY_MAX_DELAY = 1.0


class ClusterConnection(ConnectionOnlyCommands, Commands):
    """A connection to the whole cluster, shared by any number of tasks.

    Get one with ``await cluster.get_async_connection()``. See the module documentation for
    routing, redirects and failovers; every node's session re-authenticates in line on every
    rotation, as a single server's does.
    """

    def __init__(self, router: Router, *, max_redirects: int, failover_timeout: float) -> None:
        self._router = router
        self._max_redirects = max_redirects
        self._failover_timeout = failover_timeout

    async def execute(self, *args: CommandArg) -> Any:
        """Run one command where the cluster serves it; an error reply raises `ResponseError`."""
        # The hot path: a one-key command (GET, SET...) on a connected primary, sent straight
        # from this frame: one cached lookup for the name, one for the slot's connection.
        router = self._router
        if len(args) > 1:
            name = args[0]
            if type(name) is str or type(name) is bytes:
                single = router.single_key.get(name)
                if single is None:
                    single = router.learn_single_key(name)
                if single:
                    key = args[1]
                    # key_slot's common case inlined: a bytes key without a hash tag.
                    if type(key) is bytes and b"{" not in key:
                        slot = crc_hqx(key, 0) & 0x3FFF
                    else:
                        slot = key_slot(key)
                    node = router.by_slot[slot] or router.primary_connection(slot)
                    connection = node.connection
                    if connection.is_connected:
                        generation = router.generation
                        try:
                            return await connection.execute(*args)
                        except ResponseError as error:
                            if parse_redirect(error) is None:
                                raise
                            reply = await self._run(slot, args, sent=(node, error, generation))
                        except RedisConnectionError:
                            # Sent, perhaps run: the caller's. The next commands get a new map.
                            await self._refresh_quietly(generation)
                            raise
                        if isinstance(reply, ResponseError):
                            raise reply
                        return reply
        return await self._execute(args)

    async def _execute(self, args: tuple[CommandArg, ...]) -> Any:
        """`execute` for any command: routed by the table, split, fanned out or sent."""
        if not args:
            raise TypeError("a command needs at least its name")
        kind = classify(args)
        if kind is not None and kind != BLOCKING:
            raise ValueError(
                f"{command_name(args[0])} is not allowed on a shared connection: {kind}"
            )
        router = self._router
        table = router.table
        info = table.lookup(args)
        try:
            slot = None if info is None else slot_of_command(info, args)
        except CrossSlotError:
            parts = split_by_slot(args)
            if parts is None:
                raise
            replies = await self._gather([(part.slot, part.args) for part in parts])
            merged = merge_split(args[0], parts, replies)
            if isinstance(merged, ResponseError):
                raise merged from None
            return merged
        if slot is None:
            policy = info.request_policy if info is not None else None
            if policy in (ALL_SHARDS, ALL_NODES):
                return await self._fan_out(args, all_nodes=policy == ALL_NODES)
            reply = await self._run(None, args)
        else:
            readonly = info is not None and info.readonly and kind is None
            reply = await self._run(slot, args, readonly=readonly)
        if isinstance(reply, ResponseError):
            raise reply
        return reply

    def _keyspace_parts(self) -> list[Callable[..., Awaitable[Any]]]:
        """`scan_iter` walks each primary's keys with a cursor of its own (SCAN itself goes to
        any primary: a cursor means nothing on another node)."""
        router = self._router
        return [
            router.connection_for_node(node).connection.execute
            for node in router.require_map().primaries()
        ]

    def pipeline(self, transaction: bool = False) -> ClusterPipeline:
        """Queue commands; ``await pipe.execute()`` sends them grouped per node (one write each)
        and returns the replies in the caller's order. A transaction must stay in one slot."""
        return ClusterPipeline(self, transaction)

    # -- routing -------------------------------------------------------------------------------

    async def _gather(
        self, calls: Sequence[tuple[int | None, Sequence[CommandArg]]]
    ) -> list[object]:
        """Run `calls` concurrently; their replies (errors as values) in order."""
        replies: list[object] = [None] * len(calls)

        async def one(index: int, slot: int | None, args: Sequence[CommandArg]) -> None:
            try:
                replies[index] = await self._run(slot, args)
            except RedisError as exc:  # typed, and raised once below (never as a group)
                replies[index] = exc

        if len(calls) == 1:
            await one(0, *calls[0])
            return replies
        async with anyio.create_task_group() as group:
            for index, (slot, args) in enumerate(calls):
                group.start_soon(one, index, slot, args)
        for reply in replies:
            if isinstance(reply, RedisError) and not isinstance(reply, ResponseError):
                raise reply
        return replies

    async def _fan_out(self, args: Sequence[CommandArg], *, all_nodes: bool) -> object:
        router = self._router
        slot_map = router.require_map()
        nodes = slot_map.nodes() if all_nodes else slot_map.primaries()
        replies: list[object] = [None] * len(nodes)

        async def one(index: int, node: ClusterNode) -> None:
            connection = router.connection_for_node(node, readonly=True)
            try:
                replies[index] = await _reply_of(connection, args)
            except RedisError as exc:  # typed, and raised once below (never as a group)
                replies[index] = exc

        async with anyio.create_task_group() as group:
            for index, node in enumerate(nodes):
                group.start_soon(one, index, node)
        for reply in replies:
            if isinstance(reply, RedisError) and not isinstance(reply, ResponseError):
                raise reply
        info = router.table.lookup(args)
        merged = merge_replies(info.response_policy if info is not None else None, replies)
        if isinstance(merged, ResponseError):
            raise merged
        return merged

    async def _run(
        self,
        slot: int | None,
        args: Sequence[CommandArg],
        *,
        readonly: bool = False,
        sent: tuple[NodeConnection, object, int] | None = None,
    ) -> object:
        """Send `args` to the node serving `slot` (any primary for None), following redirects.

        `sent`: the command was sent already (the hot path of `execute`): the connection, its
        reply and the map's generation then, to follow from. Returns the reply, an error reply
        as a value.
        """
        router = self._router
        redirects = 0
        asking: NodeConnection | None = None
        delay = _RETRY_DELAY
        deadline: float | None = None
        while True:
            if sent is not None:
                connection, reply, generation = sent
                sent = None
            elif asking is not None:
                generation = router.generation
                connection, asking = asking, None
                reply = await _asking_reply_of(connection, args)
            else:
                generation = router.generation
                node = (
                    router.any_primary()
                    if slot is None
                    else router.node_for_slot(slot, readonly=readonly)
                )
                connection = router.connection_for_node(node, readonly=readonly)
                reached = connection.connection.is_connected
                try:
                    reply = await _reply_of(connection, args)
                except RedisConnectionError:
                    if reached:
                        # Sent, perhaps run: the caller's. The next commands get a new map.
                        await self._refresh_quietly(generation)
                        raise
                    # Never reached the node (a failover?): wait for a map that names another.
                    if deadline is None:
                        deadline = anyio.current_time() + self._failover_timeout
                    await self._refresh_quietly(generation)
                    if router.moved_away(node, slot, readonly=readonly):
                        # The map names another node now (perhaps while this connect to the
                        # lost one was still failing): go there at once, whatever the deadline
                        # says; the deadline bounds the wait for such a map, not its use.
                        continue
                    if anyio.current_time() >= deadline:
                        raise
                    await anyio.sleep(delay)
                    delay = min(delay * 2, _RETRY_MAX_DELAY)
                    await self._refresh_quietly(generation)
                    continue
            redirect = parse_redirect(reply) if isinstance(reply, ResponseError) else None
            if redirect is None:
                return reply
            redirects += 1
            if redirects > self._max_redirects:
                return reply  # the server's own error, raised by the caller
            if redirect.kind in (MOVED, ASK):
                host, port = redirect.target(connection.address[0])
                if redirect.kind == MOVED:
                    if redirect.slot is not None:
                        router.moved(redirect.slot, host, port)
                    self._refresh_soon(generation)
                else:
                    asking = router.node_connection(host, port)
                continue
            # TRYAGAIN (a slot in migration, keys on both sides) or CLUSTERDOWN: wait and retry.
            await anyio.sleep(delay)
            delay = min(delay * 2, _RETRY_MAX_DELAY)
            if redirect.kind != "TRYAGAIN":
                await self._refresh_quietly(generation)

    def _refresh_soon(self, generation: int) -> None:
        self._router.refresh_soon(generation)

    async def _refresh_quietly(self, generation: int) -> None:
        try:
            await self._router.refresh(generation)
        except RedisError as exc:
            logger.warning("refreshing the cluster's slot map failed: %s", exc)


async def _reply_of(node: NodeConnection, args: Sequence[CommandArg]) -> object:
    """The node's reply to `args`, an error reply as a value."""
    try:
        return await node.connection.execute(*args)
    except ResponseError as error:
        return error


async def _asking_reply_of(node: NodeConnection, args: Sequence[CommandArg]) -> object:
    """``ASKING`` and the command in one write (the target serves it once, during a migration)."""
    pipe = node.connection.pipeline()
    pipe.execute_command("ASKING")
    pipe.execute_command(*args)
    replies = await pipe.execute(raise_on_error=False)
    return replies[1]


class ClusterPipeline(Queue, Commands):
    """Commands queued with `execute_command`, sent by ``await pipe.execute()``.

    Without a transaction the commands are grouped per node, one write each, concurrently; the
    replies come back in the caller's order, and members that were redirected are retried one
    by one. With ``transaction=True`` every key must be in one slot (else `ValueError` before
    anything is sent); MULTI/EXEC then runs on that slot's owner.
    """

    def __init__(self, connection: ClusterConnection, transaction: bool = False) -> None:
        self._connection = connection
        self.transaction = transaction
        self._commands: list[tuple[CommandArg, ...]] = []
        self._parsers: list[Callable[[Any], Any] | None] = []  # of the typed commands

    def execute_command(self, *args: CommandArg) -> ClusterPipeline:
        """Queue one command; returns the pipeline for chaining."""
        # `check_pipelined`'s common case inlined: a name already known to be ordinary.
        name = args[0] if args else None
        if not ((type(name) is str or type(name) is bytes) and name in ORDINARY_NAMES):
            check_pipelined(args)
        self._commands.append(args)
        self._parsers.append(None)
        return self

    command = execute_command

    def _queue(
        self, args: tuple[CommandArg, ...], parse: Callable[[Any], Any] | None
    ) -> ClusterPipeline:
        self.execute_command(*args)
        self._parsers[-1] = parse
        return self

    def __len__(self) -> int:
        return len(self._commands)

    def reset(self) -> None:
        """Drop the queued commands without sending them."""
        self._commands.clear()
        self._parsers.clear()

    async def __aenter__(self) -> ClusterPipeline:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.reset()

    async def execute(self, *, raise_on_error: bool = True) -> list[object]:
        """Send the queued commands and return their replies in order."""
        commands, self._commands = self._commands, []
        parsers, self._parsers = self._parsers, []
        if not commands:
            return []
        if self.transaction:
            results = await self._transaction(commands, self._slots(commands))
        else:
            results = await self._grouped(commands)
        if raise_on_error and any(isinstance(reply, ResponseError) for reply in results):
            raise_first_error(results, [command_name(args[0]) for args in commands])
        # Only typed commands have parsers: a pipeline of execute_command calls skips the walk.
        return results if parsers.count(None) == len(parsers) else parse_results(results, parsers)

    def _slots(self, commands: list[tuple[CommandArg, ...]]) -> list[int | None]:
        """The slot of each command (None: keyless); `ValueError` for one across slots."""
        table = self._connection._router.table
        slots: list[int | None] = []
        for args in commands:
            try:
                slots.append(slot_of(table, args))
            except CrossSlotError:
                raise ValueError(
                    f"a transaction must stay in one slot: {command_name(args[0])} has keys in "
                    "several"
                ) from None
        return slots

    async def _grouped(self, commands: list[tuple[CommandArg, ...]]) -> list[object]:
        connection = self._connection
        router = connection._router
        table = router.table
        single_key = router.single_key
        by_slot = router.by_slot
        slots: list[int | None] = []
        # Per node: the indexes of its commands and their encodings (encoded here, once: the
        # node's batch is written as it is, without a node pipeline re-checking each command).
        groups: dict[NodeConnection, tuple[list[int], list[bytes | Pieces]]] = {}
        # Whether every encoding is bytes (joined as they are, no `concat` check per batch).
        flat = True
        for index, args in enumerate(commands):
            # One-key commands (the common case) by their cached name: no table walk.
            name = args[0]
            single = single_key.get(name) if type(name) is str or type(name) is bytes else False
            if single is None:
                single = router.learn_single_key(name)  # type: ignore[arg-type]
            if single and len(args) > 1:
                key = args[1]
                # key_slot's common case inlined: a bytes key without a hash tag.
                if type(key) is bytes and b"{" not in key:
                    slot: int | None = crc_hqx(key, 0) & 0x3FFF
                else:
                    slot = key_slot(key)
            else:
                slot = slot_of(table, args)  # CrossSlotError: the server's error, raised
            if slot is None:
                target = router.connection_for_node(router.any_primary())
            else:
                target = by_slot[slot] or router.primary_connection(slot)
            slots.append(slot)
            command = encode_pieces(*args)
            if type(command) is not bytes:
                flat = False
            group = groups.get(target)
            if group is None:
                group = groups[target] = ([], [])
            group[0].append(index)
            group[1].append(command)
        results: list[object] = [None] * len(commands)

        def deliver(indexes: list[int], replies: list[object]) -> None:
            for index, reply in zip(indexes, replies, strict=True):
                results[index] = reply

        async def send(
            target: NodeConnection, indexes: list[int], encoded: list[bytes | Pieces]
        ) -> None:
            try:
                replies = await target.connection._execute_batch(concat(*encoded), len(encoded))
            except RedisError as exc:  # typed, and raised once below (never as a group)
                replies = [exc] * len(indexes)
            deliver(indexes, replies)

        # Every batch bound for a live connection (without a command timeout to apply) is
        # queued on it before any is awaited: the writes go out together, with no task started
        # and no frame per node. A reply slot left behind by a cancelled caller is filled and
        # dropped by its connection, as any abandoned slot is. The others (a node to connect
        # first, a timeout to apply) go through their connection's batch call, in tasks.
        queued: list[tuple[list[int], Any]] = []
        others: list[tuple[NodeConnection, list[int], list[bytes | Pieces]]] = []
        for target, (indexes, encoded) in groups.items():
            multiplexed = target.connection
            link = multiplexed._session.link
            if link is None or link.closed or multiplexed._timeout is not None:
                others.append((target, indexes, encoded))
                continue
            try:
                blob = b"".join(encoded) if flat else concat(*encoded)  # type: ignore[arg-type]
                queued.append((indexes, link.submit_batch(blob, len(encoded))))
            except RedisError as exc:  # the link failed meanwhile: typed, raised once below
                deliver(indexes, [exc] * len(indexes))

        async def collect() -> None:
            for indexes, waiter in queued:
                try:
                    replies = await waiter.wait()
                except RedisError as exc:  # typed, and raised once below (never as a group)
                    replies = [exc] * len(indexes)
                deliver(indexes, replies)

        if others:
            async with anyio.create_task_group() as task_group:
                for other in others:
                    task_group.start_soon(send, *other)
                await collect()
        else:
            await collect()
        # Members the cluster redirected (a slot moved meanwhile) are retried one by one.
        for index, reply in enumerate(results):
            if isinstance(reply, RedisError):
                if not isinstance(reply, ResponseError):
                    raise reply
                if parse_redirect(reply) is not None:
                    results[index] = await connection._run(slots[index], commands[index])
        return results

    async def _transaction(
        self, commands: list[tuple[CommandArg, ...]], slots: list[int | None]
    ) -> list[object]:
        known = {slot for slot in slots if slot is not None}
        if len(known) > 1:
            raise ValueError(
                "a transaction must stay in one slot: its keys are in slots "
                + ", ".join(str(slot) for slot in sorted(known))
            )
        connection = self._connection
        router = connection._router
        slot = known.pop() if known else None
        for _ in range(connection._max_redirects + 1):
            generation = router.generation
            node = router.any_primary() if slot is None else router.node_for_slot(slot)
            target = router.connection_for_node(node)
            pipe = target.connection.pipeline(transaction=True)
            for args in commands:
                pipe.execute_command(*args)
            try:
                return await pipe.execute(raise_on_error=False)
            except ExecAbortError as exc:
                if "MOVED" not in str(exc) and "ASK" not in str(exc):
                    raise
                # The slot moved before MULTI ran anything: follow it.
                await connection._refresh_quietly(generation)
        raise ExecAbortError("transaction aborted: its slot kept moving")
