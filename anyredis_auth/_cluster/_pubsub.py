"""`ClusterPubSub`: subscriptions on a cluster, each on the node that serves it.

- ``subscribe`` / ``psubscribe``: classic pub/sub reaches every node of a cluster, so these live
  on one subscriber connection to one primary.
- ``ssubscribe``: a shard channel is served by the owner of its slot, so each owner gets a
  subscriber connection of its own. When the slot moves (the server ends the subscription by
  itself with ``sunsubscribe``) or the owner is lost (a failover), the channel is subscribed
  again on the slot's new owner and a ``gap`` message says that messages published meanwhile
  may be lost; nothing is delivered twice.

Every node subscriber is a `PubSub` on a `Session` of its own, so it stays authenticated across
rotations exactly as on one server (in-band AUTH on RESP3, the switch-over on RESP2). Messages
of every node arrive on one stream: ``async for message in pubsub``.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterable
from types import TracebackType

import anyio
import anyio.abc
from anyio.streams.memory import MemoryObjectReceiveStream, MemoryObjectSendStream

from .._errors import ConnectionClosedError, RedisError, ResponseError
from .._pubsub import DEFAULT_BUFFER, SHARD_DROPPED, Message, PubSub
from ..protocol import CommandArg
from ..protocol._cluster_redirects import ASK, MOVED, parse_redirect
from ..protocol._cluster_slots import key_slot
from ._router import Router

__all__ = ["ClusterPubSub"]

logger = logging.getLogger("anyredis_auth.cluster")


class ClusterPubSub:
    """A subscriber on a cluster: ``async with cluster.pubsub() as pubsub:`` (module docs)."""

    def __init__(self, router: Router, buffer_size: int = DEFAULT_BUFFER) -> None:
        self._router = router
        self._buffer_size = buffer_size
        self._classic: PubSub | None = None
        #: Shard subscribers by node address, and the address serving each shard channel.
        self._shards: dict[tuple[str, int], PubSub] = {}
        self._channel_home: dict[bytes, tuple[tuple[str, int], CommandArg]] = {}
        send, receive = anyio.create_memory_object_stream[Message](buffer_size)
        self._send: MemoryObjectSendStream[Message] = send
        self._receive: MemoryObjectReceiveStream[Message] = receive
        self._lock = anyio.Lock()
        self._scope: anyio.CancelScope | None = None
        self._group: anyio.abc.TaskGroup | None = None
        self._closed = False

    # -- lifecycle -----------------------------------------------------------------------------

    async def __aenter__(self) -> ClusterPubSub:
        await self._router.group.start(self._run)
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Close every node subscriber and end the message stream (idempotent)."""
        if self._closed:
            return
        self._closed = True
        subscribers = [self._classic, *self._shards.values()]
        self._classic = None
        self._shards.clear()
        for subscriber in subscribers:
            if subscriber is not None:
                await subscriber.aclose()
        if self._scope is not None:
            self._scope.cancel()
        self._send.close()
        self._receive.close()

    async def _run(
        self, *, task_status: anyio.abc.TaskStatus[None] = anyio.TASK_STATUS_IGNORED
    ) -> None:
        """The forwarding tasks' group; never raises into the owner's group."""
        try:
            with anyio.CancelScope() as scope:
                self._scope = scope
                async with anyio.create_task_group() as group:
                    self._group = group
                    task_status.started()
                    await anyio.sleep_forever()
        except Exception:  # a bug of ours must not take the owner's group down
            logger.exception("the cluster subscriber failed; closing it")
        finally:
            self._group = None

    # -- messages ------------------------------------------------------------------------------

    def __aiter__(self) -> ClusterPubSub:
        return self

    async def __anext__(self) -> Message:
        try:
            return await self._receive.receive()
        except (anyio.EndOfStream, anyio.ClosedResourceError):
            raise StopAsyncIteration from None

    async def get_message(self, timeout: float | None = None) -> Message | None:  # noqa: ASYNC109
        """The next message, or None when none came within `timeout` seconds (None: wait)."""
        with anyio.move_on_after(timeout):
            try:
                return await self._receive.receive()
            except (anyio.EndOfStream, anyio.ClosedResourceError):
                raise ConnectionClosedError("the subscriber is closed") from None
        return None

    # -- subscriptions -------------------------------------------------------------------------

    async def subscribe(self, *channels: CommandArg) -> None:
        """SUBSCRIBE on one node (classic messages reach every node)."""
        await (await self._classic_subscriber()).subscribe(*channels)

    async def psubscribe(self, *patterns: CommandArg) -> None:
        """PSUBSCRIBE on one node."""
        await (await self._classic_subscriber()).psubscribe(*patterns)

    async def unsubscribe(self, *channels: CommandArg) -> None:
        """UNSUBSCRIBE (all channels when none are given)."""
        if self._classic is not None:
            await self._classic.unsubscribe(*channels)

    async def punsubscribe(self, *patterns: CommandArg) -> None:
        """PUNSUBSCRIBE (all patterns when none are given)."""
        if self._classic is not None:
            await self._classic.punsubscribe(*patterns)

    async def ssubscribe(self, *channels: CommandArg) -> None:
        """SSUBSCRIBE each shard channel on the owner of its slot (followed when it moves)."""
        if not channels:
            raise ValueError("give at least one channel")
        for address, group in self._by_owner(channels).items():
            subscriber = await self._shard_subscriber(address)
            await subscriber.ssubscribe(*group)
            for channel in group:
                self._channel_home[_key(channel)] = (address, channel)

    async def sunsubscribe(self, *channels: CommandArg) -> None:
        """SUNSUBSCRIBE the shard channels (all of them when none are given)."""
        if not channels:
            channels = tuple(value for _, value in self._channel_home.values())
        for channel in channels:
            home = self._channel_home.pop(_key(channel), None)
            if home is None:
                continue
            subscriber = self._shards.get(home[0])
            if subscriber is not None and not subscriber.closed:
                await subscriber.sunsubscribe(channel)

    @property
    def shard_channels(self) -> list[CommandArg]:
        """The shard channels subscribed to, as given."""
        return [value for _, value in self._channel_home.values()]

    # -- node subscribers ----------------------------------------------------------------------

    def _by_owner(self, channels: Iterable[CommandArg]) -> dict[tuple[str, int], list[CommandArg]]:
        router = self._router
        tls = router.tls
        groups: dict[tuple[str, int], list[CommandArg]] = {}
        for channel in channels:
            node = router.node_for_slot(key_slot(channel))
            groups.setdefault((node.host, node.port_for(tls)), []).append(channel)
        return groups

    async def _classic_subscriber(self) -> PubSub:
        if self._classic is None or self._classic.closed:
            router = self._router
            node = router.any_primary()
            self._classic = await self._open(node.host, node.port_for(router.tls))
        return self._classic

    async def _shard_subscriber(self, address: tuple[str, int]) -> PubSub:
        async with self._lock:
            subscriber = self._shards.get(address)
            if subscriber is None or subscriber.closed:
                subscriber = await self._open(*address, shard=True)
                self._shards[address] = subscriber
            return subscriber

    async def _open(self, host: str, port: int, *, shard: bool = False) -> PubSub:
        if self._closed or self._group is None:
            raise ConnectionClosedError("the subscriber is closed")
        router = self._router
        connector = router.node_connection(host, port).connector
        subscriber = PubSub(connector, router.source, router.group, self._buffer_size)
        await subscriber.__aenter__()
        if shard:
            subscriber.report_shard_drops = True
        self._group.start_soon(self._forward, subscriber, (host, port), shard)
        return subscriber

    async def _forward(self, subscriber: PubSub, address: tuple[str, int], shard: bool) -> None:
        """Hand a node subscriber's messages on; a lost shard node sends its channels home."""
        try:
            async for message in subscriber:
                if message.kind == SHARD_DROPPED:
                    # Every message the old owner delivered before it was handed on already.
                    self._shard_dropped(message.channel)
                    continue
                await self._send.send(message)
                if shard and message.kind == "gap":
                    self._rehome_soon(address)
        except (anyio.ClosedResourceError, anyio.BrokenResourceError):
            pass

    def _shard_dropped(self, channel: CommandArg) -> None:
        """The server ended a shard subscription (its slot moved): follow it."""
        if self._group is not None:
            self._group.start_soon(self._follow, [channel], False)

    def _rehome_soon(self, address: tuple[str, int]) -> None:
        channels = [value for home, value in self._channel_home.values() if home == address]
        if channels and self._group is not None:
            self._group.start_soon(self._follow, channels, True)

    async def _follow(self, channels: list[CommandArg], node_lost: bool) -> None:
        """Yield a gap, then subscribe `channels` again on their slots' current owners.

        A dropped channel (its slot moved) is subscribed where the slot map says, following
        the server's ``MOVED`` when the map is behind. A lost node's channels wait (bounded by
        the failover timeout) for a slot map that names another owner; if none comes, they stay
        with the lost node's subscriber, which keeps reconnecting.
        """
        router = self._router
        deadline = anyio.current_time() + router.failover_timeout
        # The gap goes first: the new owner's messages come after it, never before.
        with contextlib.suppress(anyio.ClosedResourceError, anyio.BrokenResourceError):
            why = "its node was lost" if node_lost else "its slot moved to another node"
            await self._send.send(Message("gap", None, f"shard channel moved: {why}"))
        pending = list(channels)
        delay = 0.05
        while pending:
            generation = router.generation
            try:
                await router.refresh(generation)
            except RedisError as exc:
                logger.warning("refreshing the cluster's slot map failed: %s", exc)
            waiting: list[CommandArg] = []
            for channel in pending:
                home = self._channel_home.get(_key(channel))
                if home is None:
                    continue  # unsubscribed meanwhile
                owner = self._owner_of(channel)
                if node_lost and owner == home[0]:
                    waiting.append(channel)  # the map still names the lost node
                    continue
                await self._resubscribe(channel, owner, home[0])
            pending = waiting
            if pending:
                if anyio.current_time() >= deadline:
                    logger.warning(
                        "%d shard channel(s) stay with an unreachable node", len(pending)
                    )
                    break
                await anyio.sleep(delay)
                delay = min(delay * 2, 1.0)

    def _owner_of(self, channel: CommandArg) -> tuple[str, int]:
        node = self._router.node_for_slot(key_slot(channel))
        return (node.host, node.port_for(self._router.tls))

    async def _resubscribe(
        self, channel: CommandArg, owner: tuple[str, int], old: tuple[str, int]
    ) -> None:
        """SSUBSCRIBE `channel` on `owner`, following ``MOVED`` answers (bounded)."""
        router = self._router
        for _ in range(router.max_redirects + 1):
            try:
                subscriber = await self._shard_subscriber(owner)
                await subscriber.ssubscribe(channel)
            except ResponseError as exc:
                redirect = parse_redirect(exc)
                if redirect is None or redirect.kind not in (MOVED, ASK):
                    logger.warning("could not follow a shard channel: %s", exc)
                    return
                owner = redirect.target(owner[0])
                if redirect.slot is not None and redirect.kind == MOVED:
                    router.moved(redirect.slot, *owner)
                continue
            except RedisError as exc:
                logger.warning("could not follow a shard channel to its new owner: %s", exc)
                return
            if owner != old:
                previous = self._shards.get(old)
                if previous is not None and not previous.closed:
                    previous._forget_shard(channel)  # its reconnect must not restore it
            self._channel_home[_key(channel)] = (owner, channel)
            return
        logger.warning("a shard channel kept moving; it is not subscribed")


def _key(value: CommandArg) -> bytes:
    if isinstance(value, (bytes, bytearray, memoryview)):
        return bytes(value)
    if isinstance(value, str):
        return value.encode("utf-8", "surrogateescape")
    return str(value).encode()
