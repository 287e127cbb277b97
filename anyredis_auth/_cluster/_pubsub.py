"""`ClusterPubSub`: subscriptions on a cluster, each on the node that serves it.

- ``subscribe`` / ``psubscribe``: classic pub/sub reaches every node of a cluster, so these live
  on one subscriber connection to one primary. When that connection is lost (its node died, or
  dropped it), the subscriber yields a ``gap`` message, closes it and subscribes every channel
  and pattern again on another node (a connected one first; the lost node last, in case it
  comes back). The lost connection hands on nothing after its gap, and the new one only what
  reaches its node after it subscribed. So a message published just before the node died may
  arrive on both sides of the gap: it reaches the other nodes over the cluster bus, and a bus
  link slower than the reconnect brings it to the new node after the new subscription (seen
  on a loaded machine). Across a move, classic messages are at-least-once for the moment
  before it; nothing arrives twice on either side of the gap.
- ``ssubscribe``: a shard channel is served by the owner of its slot, so each owner gets a
  subscriber connection of its own. When the slot moves (the server ends the subscription by
  itself with ``sunsubscribe``) or the owner is lost (a failover), the channel is subscribed
  again on the slot's new owner and a ``gap`` message says that messages published meanwhile
  may be lost; nothing is delivered twice. It waits (bounded by the failover timeout) for a
  slot map that names another owner than the node it was on, so that a map read from a node
  that has not heard of the change does not send it back (a demoted primary would accept it
  as a replica). What the servers do around a failover: a demoted primary usually ends its
  shard subscriptions, but Redis 7.0 does not always; the subscription then stays on it, a
  replica of the new owner, which still delivers every message of its shard (no loss, no
  gap). And a message published through the former primary before the client's map names
  the new one reaches the new primary over the cluster bus, so it may arrive after newer
  ones: the servers reorder it, no client can put it back (it still arrives once).

Every node subscriber is a `PubSub` on a `Session` of its own, so it stays authenticated across
rotations exactly as on one server (in-band AUTH on RESP3, the switch-over on RESP2). Messages
of every node arrive on one stream: ``async for message in pubsub``.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Awaitable, Callable, Iterable
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
        #: Held while the classic subscriber is opened or moved to another node.
        self._classic_lock = anyio.Lock()
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
        if not channels:
            raise ValueError("give at least one channel or pattern")
        await self._on_classic(lambda subscriber: subscriber.subscribe(*channels))

    async def psubscribe(self, *patterns: CommandArg) -> None:
        """PSUBSCRIBE on one node."""
        if not patterns:
            raise ValueError("give at least one channel or pattern")
        await self._on_classic(lambda subscriber: subscriber.psubscribe(*patterns))

    async def unsubscribe(self, *channels: CommandArg) -> None:
        """UNSUBSCRIBE (all channels when none are given)."""
        await self._on_classic(lambda subscriber: subscriber.unsubscribe(*channels), create=False)

    async def punsubscribe(self, *patterns: CommandArg) -> None:
        """PUNSUBSCRIBE (all patterns when none are given)."""
        await self._on_classic(lambda subscriber: subscriber.punsubscribe(*patterns), create=False)

    @property
    def channels(self) -> list[CommandArg]:
        """The classic channels subscribed to, as given."""
        return [] if self._classic is None else self._classic.channels

    @property
    def patterns(self) -> list[CommandArg]:
        """The patterns subscribed to, as given."""
        return [] if self._classic is None else self._classic.patterns

    async def _on_classic(
        self, change: Callable[[PubSub], Awaitable[None]], *, create: bool = True
    ) -> None:
        """Apply `change` to the classic subscriber; again on its successor when it was moved
        to another node meanwhile (the move closes it and takes over what it had recorded)."""
        while True:
            if create:
                subscriber: PubSub | None = await self._classic_subscriber()
            else:
                async with self._classic_lock:  # a move in progress finishes first
                    subscriber = self._classic
            if subscriber is None:
                return
            try:
                await change(subscriber)
                return
            except ConnectionClosedError:
                if self._closed or self._classic is subscriber:
                    raise

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
        async with self._classic_lock:
            if self._classic is None or self._classic.closed:
                router = self._router
                node = router.any_primary()
                self._classic = await self._open(node.host, node.port_for(router.tls))
            return self._classic

    async def _move_classic(self, old: PubSub, address: tuple[str, int]) -> None:
        """The classic subscriber's connection was lost (its gap was handed on): close it and
        subscribe everything it had on another node.

        Called by the old subscriber's forwarding task, so nothing the old one receives after
        its gap (were its node to come back) is handed on: the new node's messages are the
        only ones after the gap. Closed first, so a concurrent (un)subscribe either is in the
        snapshot taken below or is retried on the new subscriber (`_on_classic`).
        """
        async with self._classic_lock:
            if self._classic is not old or self._closed:
                return
            self._classic = None
            await old.aclose()
            channels, patterns = old.channels, old.patterns
            if not channels and not patterns:
                return  # the next subscribe opens one wherever a primary answers
            self._classic = await self._reopen_classic(address, channels, patterns)

    async def _reopen_classic(
        self,
        lost: tuple[str, int],
        channels: list[CommandArg],
        patterns: list[CommandArg],
    ) -> PubSub | None:
        """A subscriber on another node with `channels` and `patterns`; tries every node in
        turn (the lost one last), with back-off and a slot-map refresh between rounds, until it
        succeeds or this subscriber is closed (None)."""
        router = self._router
        timeout = router.connect_timeout
        delay = 0.05
        while not self._closed:
            for host, port in router.nodes_to_try(lost):
                if self._closed:
                    return None
                try:
                    subscriber = await self._open(host, port)
                except RedisError as exc:
                    logger.info("classic subscriber: %s:%s did not answer: %s", host, port, exc)
                    continue
                done = False
                try:
                    # Bounded: should this node die too, its own gap moves it once we are done.
                    with anyio.move_on_after(timeout):
                        if channels:
                            await subscriber.subscribe(*channels)
                        if patterns:
                            await subscriber.psubscribe(*patterns)
                        done = True
                except ResponseError as exc:  # refused (ACLs changed): as a single server does
                    logger.warning("the server refused to restore a subscription: %s", exc)
                    done = True
                except RedisError as exc:
                    logger.info("classic subscriber: %s:%s failed: %s", host, port, exc)
                finally:
                    if not done:
                        await subscriber.aclose()
                if done:
                    logger.warning(
                        "classic subscriber moved from %s:%s to %s:%s", *lost, host, port
                    )
                    return subscriber
            await anyio.sleep(delay)
            delay = min(delay * 2, 1.0)
            try:
                await router.refresh(router.generation)
            except RedisError as exc:
                logger.warning("refreshing the cluster's slot map failed: %s", exc)
        return None

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
                if message.kind == "gap":
                    if shard:
                        self._rehome_soon(address)
                    else:
                        await self._move_classic(subscriber, address)
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

        Both wait (bounded by the failover timeout) for a slot map that names another owner
        than the node they were on: a map read from a node that has not heard of the change
        yet would send them back to a node that no longer owns the slot (after a failover a
        demoted primary, now a replica, would even accept them). Then a dropped channel (its
        slot moved) is subscribed where the map says, following the server's ``MOVED`` when
        the map is behind; a lost node's channels stay with the lost node's subscriber, which
        keeps reconnecting.
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
            stranded = 0
            for channel in pending:
                home = self._channel_home.get(_key(channel))
                if home is None:
                    continue  # unsubscribed meanwhile
                owner = self._owner_of(channel)
                if owner == home[0]:
                    if anyio.current_time() < deadline:
                        waiting.append(channel)  # the map still names the node it was on
                        continue
                    if node_lost:
                        stranded += 1  # stays with the lost node's subscriber
                        continue
                    # Dropped, and no map says where it went: where the map says (MOVED helps).
                await self._resubscribe(channel, owner, home[0])
            if stranded:
                logger.warning("%d shard channel(s) stay with an unreachable node", stranded)
            pending = waiting
            if pending:
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
