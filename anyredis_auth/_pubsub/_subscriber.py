"""`PubSub`: subscriptions that stay authenticated across token rotations.

Why a dedicated connection per subscriber (not push messages on the shared one): the message
stream never waits behind command replies (or the other way round), a slow subscriber slows only
its own socket, and a reconnect, a resubscribe or a shutdown concerns one subscriber alone.

Re-authentication, by protocol:

- RESP3 (used whenever the server speaks it, even with ``protocol=2`` elsewhere): a subscribed
  RESP3 connection accepts AUTH, so each new credential is sent in band, exactly as on a shared
  connection. It is the same socket and the same subscriptions: no message is lost or duplicated.
- RESP2 (servers without HELLO): a subscribed RESP2 connection accepts only the subscribe family,
  PING, RESET and QUIT. The client switches over in ONE write: ``UNSUBSCRIBE``/``PUNSUBSCRIBE``/
  ``SUNSUBSCRIBE`` of everything subscribed (so the connection leaves subscribed mode), ``AUTH``,
  then the same subscriptions again. Redis executes all the commands of a client's input buffer
  before it serves another client, so when the write arrives in one read no PUBLISH runs between
  the unsubscribe and the resubscribe: no loss, no duplicate. The limit: if the write reaches the
  server in two reads (a subscription list longer than the server's read buffer, 16 KB on Redis,
  or a congested socket), a message published between the two reads to a channel of the
  subscription may be missed. It is never duplicated.

A refused re-authentication (the server answers AUTH with an error, or not in time) leaves the
old connection logged in with the previous token, still valid for a while. On RESP3 the
subscriber then cuts over without loss or duplicate: a new connection (newest credentials)
subscribes to everything, both connections subscribe to a private fence channel, the new one
publishes a nonce there. Redis runs commands one at a time and writes each client's messages in
order, so the old connection delivers every message published before the fence and the new one
every message published after it: exactly once, in order (`PubSubStats.cutovers`). The fence
messages are never shown, even to a pattern that matches them. If that cannot be done (RESP2, the
fence refused by ACLs, no answer within ``connect_timeout``, a drop meanwhile), the old
connection is dropped and the subscriber reconnects as below, with a gap.

Reconnect: when the connection drops, the subscriber yields ``Message(kind="gap", ...)`` at once,
then reconnects with the newest credentials (with back-off, until it succeeds or is closed) and
resubscribes everything. Messages published between the drop and the resubscribe are lost: the
server does not replay them; the gap message says so. A subscription the server refuses to
restore (ACLs changed) is dropped with a warning in the log.

A refused subscribe (``NOPERM``...) raises `ResponseError` from `subscribe` and changes nothing;
the connection goes on.

A slow consumer: messages wait in a buffer of ``buffer_size``; when it is full the connection's
reader waits for the consumer (backpressure, nothing is dropped) and the server buffers the rest,
up to its ``client-output-buffer-limit pubsub`` (then it drops the connection: a gap). A consumer
that leaves the buffer full for longer than ``connect_timeout`` while a re-authentication waits
for its reply makes that re-authentication fail (handled as a refused one, above).

Shutdown: leaving the ``async with`` block (or the client's) closes the connection and ends the
subscriber's tasks; an ``async for`` loop over it ends normally (after the messages already
buffered); `get_message`, `subscribe` and the others raise `ConnectionClosedError`.
"""

from __future__ import annotations

import contextlib
import functools
import logging
import secrets
from collections.abc import Callable, Iterable
from types import TracebackType
from typing import TYPE_CHECKING

import anyio
import anyio.abc
from anyio.streams.memory import MemoryObjectReceiveStream, MemoryObjectSendStream

from .._connection._connector import Connector
from .._connection._link import Link
from .._connection._session import CredentialsSource, Session
from .._credentials import Credentials
from .._errors import (
    ConnectionClosedError,
    ProtocolError,
    RedisConnectionError,
    RedisError,
    RedisTimeoutError,
    ResponseError,
)
from ..protocol import CommandArg, encode_command
from ..protocol._handshake import auth_command
from ..protocol._slots import EventSlot
from ._state import (
    AFTER_FENCE,
    FAMILIES,
    KIND,
    LIVE,
    MESSAGE_KINDS,
    SUBSCRIBE_EVENTS,
    UNTIL_FENCE,
    LinkState,
    Message,
    PubSubStats,
)

if TYPE_CHECKING:
    from .._connection._link import Link

__all__ = ["DEFAULT_BUFFER", "Message", "PubSub", "PubSubStats"]

logger = logging.getLogger("anyredis_auth.pubsub")

DEFAULT_BUFFER = 10_000
#: The kind of the in-band marker of `PubSub.report_shard_drops` (never shown to users).
SHARD_DROPPED = "_shard_dropped"


class PubSub:
    """A subscriber on a connection of its own; get one with ``client.pubsub()``.

    >>> async with client.pubsub() as pubsub:
    ...     await pubsub.subscribe("news")
    ...     async for message in pubsub:
    ...         print(message.channel, message.data)

    `subscribe` / `psubscribe` / `ssubscribe` and their ``un`` versions return once the server
    confirmed every channel. Publish on a normal connection (``con.publish``, ``con.spublish``).
    See the module documentation for re-authentication, loss and duplicate guarantees.
    """

    stats: PubSubStats

    def __init__(
        self,
        connector: Connector,
        source: CredentialsSource,
        group: anyio.abc.TaskGroup,
        buffer_size: int,
    ) -> None:
        self._options = connector.options
        self._group = group
        self.stats = PubSubStats()
        self._session = Session(
            connector,
            group,
            source,
            pubsub=True,
            stats=self.stats,
            on_install=self._install,
            send_credentials=self._send_credentials,
            replace=self._replace,
        )
        #: Told when the subscriber closes (its owner's registry).
        self._on_close: Callable[[PubSub], None] | None = None
        #: Put a `SHARD_DROPPED` message in the stream, in order with the messages before it,
        #: when the server ends a shard subscription by itself: a cluster subscriber follows
        #: the channel's slot to its new owner once every message before it was handed on.
        self.report_shard_drops = False
        #: What the server is (or, after a reconnect, will be) subscribed to, per family:
        #: key bytes -> the value as given. Updated when the command is written.
        self._subscribed: dict[str, dict[bytes, CommandArg]] = {name: {} for name in FAMILIES}
        self._state: LinkState | None = None
        #: The connection being brought in by a cut-over (closed on shutdown).
        self._incoming: Link | None = None
        #: Held by subscribe-family writes and by a cut-over (which must see them all).
        self._write_lock = anyio.Lock()
        self._fence = f"__anyredis_auth:fence:{secrets.token_hex(8)}"
        self._fence_key = self._fence.encode()
        send, receive = anyio.create_memory_object_stream[Message](buffer_size)
        self._send: MemoryObjectSendStream[Message] = send
        self._receive: MemoryObjectReceiveStream[Message] = receive
        self._error: ConnectionClosedError | None = None
        self._scope: anyio.CancelScope | None = None
        self._finished = anyio.Event()
        self._started = False

    # -- lifecycle -----------------------------------------------------------------------------

    async def __aenter__(self) -> PubSub:
        if self._started:
            raise RuntimeError("this PubSub was already used; get a new one from client.pubsub()")
        self._started = True
        try:
            await self._session.start()
            await self._session.connect()
            await self._group.start(self._run)
        except BaseException:
            self._shutdown(ConnectionClosedError("the subscriber could not connect"))
            raise
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Close the connection and end the subscriber's tasks (idempotent)."""
        link = self._session.link
        self._shutdown(ConnectionClosedError("the subscriber was closed"))
        self._receive.close()  # closed by its user: what is still buffered is not wanted
        with anyio.CancelScope(shield=True), anyio.move_on_after(2.0):
            if self._scope is not None:
                await self._finished.wait()
            if link is not None:
                await link.wait_finished()

    def _shutdown(self, error: ConnectionClosedError) -> None:
        """Close now without waiting (also called by the client when it closes)."""
        if self._error is not None:
            return
        self._error = error
        if self._on_close is not None:
            self._on_close(self)
        if self._scope is not None:
            self._scope.cancel()
        self._session.close(ConnectionClosedError(str(error)))
        if self._incoming is not None:
            self._incoming.close(ConnectionClosedError(str(error)))
        self._send.close()
        if not self._started:
            self._receive.close()  # never entered: nobody will read it
        if self._state is not None:
            self._state.release()

    async def _run(
        self, *, task_status: anyio.abc.TaskStatus[None] = anyio.TASK_STATUS_IGNORED
    ) -> None:
        """The supervisor's task; never raises into the owner's group."""
        task_status.started()
        try:
            with anyio.CancelScope() as scope:
                self._scope = scope
                if self._error is not None:
                    scope.cancel()
                await self._supervise()
        except Exception:  # a bug of ours must not take the owner's group down
            logger.exception("the subscriber's supervisor failed; closing the subscriber")
            self._shutdown(ConnectionClosedError("the subscriber failed"))
        finally:
            self._finished.set()

    # -- public API ----------------------------------------------------------------------------

    @property
    def closed(self) -> bool:
        """True once the subscriber was closed (by `aclose` or by the client closing)."""
        return self._error is not None

    @property
    def protocol(self) -> int | None:
        """The protocol of the current connection (3 whenever the server speaks it)."""
        link = self._session.link
        return None if link is None else link.protocol

    @property
    def channels(self) -> list[CommandArg]:
        """The channels subscribed to (with SUBSCRIBE), as given."""
        return list(self._subscribed["channel"].values())

    @property
    def patterns(self) -> list[CommandArg]:
        """The patterns subscribed to (with PSUBSCRIBE), as given."""
        return list(self._subscribed["pattern"].values())

    @property
    def shard_channels(self) -> list[CommandArg]:
        """The shard channels subscribed to (with SSUBSCRIBE), as given."""
        return list(self._subscribed["shard"].values())

    def _forget_shard(self, channel: CommandArg) -> None:
        """Stop restoring `channel` on reconnects: another connection serves it now."""
        self._subscribed["shard"].pop(self._key(channel), None)

    async def subscribe(self, *channels: CommandArg) -> None:
        """SUBSCRIBE; returns once the server confirmed every channel."""
        await self._change("channel", True, channels)

    async def psubscribe(self, *patterns: CommandArg) -> None:
        """PSUBSCRIBE to glob-style patterns; returns once the server confirmed every one."""
        await self._change("pattern", True, patterns)

    async def ssubscribe(self, *channels: CommandArg) -> None:
        """SSUBSCRIBE to shard channels; returns once the server confirmed every channel."""
        await self._change("shard", True, channels)

    async def unsubscribe(self, *channels: CommandArg) -> None:
        """UNSUBSCRIBE the channels (all of them when none are given).

        Waits for the server's confirmation while connected; while reconnecting it only updates
        what the new connection will subscribe to.
        """
        await self._change("channel", False, channels)

    async def punsubscribe(self, *patterns: CommandArg) -> None:
        """PUNSUBSCRIBE the patterns (all of them when none are given); see `unsubscribe`."""
        await self._change("pattern", False, patterns)

    async def sunsubscribe(self, *channels: CommandArg) -> None:
        """SUNSUBSCRIBE the shard channels (all of them when none are given); see `unsubscribe`."""
        await self._change("shard", False, channels)

    def __aiter__(self) -> PubSub:
        return self

    async def __anext__(self) -> Message:
        try:
            return await self._receive.receive()
        except (anyio.EndOfStream, anyio.ClosedResourceError):
            self._receive.close()
            raise StopAsyncIteration from None

    async def get_message(self, timeout: float | None = None) -> Message | None:  # noqa: ASYNC109
        """The next message, or None when none came within `timeout` seconds (None: wait)."""
        with anyio.move_on_after(timeout):
            try:
                return await self._receive.receive()
            except (anyio.EndOfStream, anyio.ClosedResourceError):
                self._receive.close()
                raise self._closed_error() from None
        return None

    # -- subscriptions -------------------------------------------------------------------------

    def _closed_error(self) -> ConnectionClosedError:
        return ConnectionClosedError(str(self._error or "the subscriber is not open"))

    def _key(self, value: object) -> bytes:
        """A channel or pattern as given by the user, as the bytes the server sees."""
        if isinstance(value, (bytes, bytearray, memoryview)):
            return bytes(value)
        if isinstance(value, str):
            return value.encode("utf-8", "surrogateescape")  # as the command encoder does
        return str(value).encode()

    def _event_key(self, value: object) -> bytes:
        """A channel or pattern as the server echoed it (decoded with ``decode_responses``)."""
        if isinstance(value, str):
            return value.encode(self._options.encoding, "surrogateescape")
        return self._key(value)

    async def _change(self, family: str, subscribe: bool, values: Iterable[CommandArg]) -> None:
        if self._error is not None or not self._started:
            raise self._closed_error()
        values = list(values)
        current = self._subscribed[family]
        if not values:
            if subscribe:
                raise ValueError("give at least one channel or pattern")
            values = list(current.values())
            if not values:
                return
        keys = [self._key(value) for value in values]
        kind = FAMILIES[family][2 if subscribe else 3]
        refused: list[object] = []
        events: list[anyio.Event] = []
        async with self._write_lock:  # a cut-over in progress finishes first
            if self._error is not None:
                raise self._closed_error()
            state = self._state
            assert state is not None
            link = state.link
            for key, value in zip(keys, values, strict=True):
                if subscribe:
                    current[key] = value
                else:
                    current.pop(key, None)
            if not link.closed or subscribe:
                # Reconnecting (no live link): the resubscribe covers these; wait for it.
                for key in keys:
                    event = anyio.Event()
                    state.expect(kind, key, [event])
                    events.append(event)
            if not link.closed:
                command = FAMILIES[family][0 if subscribe else 1]
                slot = self._slot(state, family, subscribe, keys, refused)
                link.send_only(encode_command(command, *values), [slot])
        for event in events:
            await event.wait()
        if self._error is not None:
            raise self._closed_error()
        if refused:
            reply = refused[0]
            if isinstance(reply, ResponseError):
                raise reply
            raise ProtocolError(f"unexpected reply to a subscribe-family command: {reply!r}")

    def _slot(
        self,
        state: LinkState,
        family: str,
        subscribe: bool,
        keys: list[bytes],
        refused: list[object] | None = None,
    ) -> EventSlot:
        """The FIFO entry of one subscribe-family command over `keys` on `state`'s link."""

        def on_reply(reply: object) -> None:
            # The server refused the whole command (one error reply, no confirmation): its
            # pending confirmations are the oldest ones of each key, since commands run in order.
            kind = FAMILIES[family][2 if subscribe else 3]
            for key in keys:
                state.confirm(kind, key)
                if subscribe:
                    self._subscribed[family].pop(key, None)
            if refused is not None:
                refused.append(reply)
            else:
                logger.warning(
                    "the server refused to restore %d subscription(s): %r", len(keys), reply
                )

        return EventSlot(len(keys), on_reply)

    def _all(
        self, state: LinkState, subscribe: bool, refused: list[object] | None = None
    ) -> tuple[bytes, list[EventSlot], list[anyio.Event]]:
        """Commands (un)subscribing everything subscribed: blob, slots, confirmation events."""
        blob = b""
        slots: list[EventSlot] = []
        events: list[anyio.Event] = []
        for family, names in FAMILIES.items():
            current = self._subscribed[family]
            if current:
                keys = list(current)
                for key in keys:
                    event = anyio.Event()
                    state.expect(names[2 if subscribe else 3], key, [event])
                    events.append(event)
                blob += encode_command(names[0 if subscribe else 1], *current.values())
                slots.append(self._slot(state, family, subscribe, keys, refused))
        return blob, slots, events

    async def _on_event(self, state: LinkState, event: list[object]) -> None:
        """Called by a link's reader for every push (RESP3) or event array (RESP2)."""
        kind = KIND.get(event[0]) if isinstance(event[0], (bytes, str)) else None
        if kind is None:
            return  # another kind of push (client tracking...): not ours
        if kind in MESSAGE_KINDS:
            if kind == "pmessage":
                message = Message(kind, event[2], event[3], event[1])
            else:
                message = Message(kind, event[1], event[2])
            if self._event_key(message.channel) == self._fence_key:
                if self._event_key(message.data) == state.nonce:
                    state.fenced.set()
                return  # our own fence: never shown
            phase = state.phase
            if phase != LIVE:
                if phase == UNTIL_FENCE and state.fenced.is_set():
                    return  # the new connection delivers this one
                if phase == AFTER_FENCE:
                    if not state.fenced.is_set():
                        return  # the old connection delivered this one
                    assert state.peer is not None
                    await state.peer.fenced.wait()  # keep the order: old ones first
            with contextlib.suppress(anyio.ClosedResourceError, anyio.BrokenResourceError):
                await self._send.send(message)  # backpressure: waits while the buffer is full
            return
        channel = event[1]
        if channel is None:  # an unsubscribe when nothing was subscribed
            return
        key = self._event_key(channel)
        if not state.confirm(kind, key) and kind == "sunsubscribe":
            # Nobody asked: a cluster node dropped the shard channel (its slot moved away).
            value = self._subscribed["shard"].pop(key, None)
            if value is not None:
                logger.info("the server ended a shard subscription (its slot moved?)")
                if self.report_shard_drops:
                    with contextlib.suppress(anyio.ClosedResourceError, anyio.BrokenResourceError):
                        await self._send.send(Message(SHARD_DROPPED, value, None))

    # -- connections ---------------------------------------------------------------------------

    def _install(self, link: Link) -> None:
        """Make `link` current and (re)subscribe everything on it, carrying over the waiters."""
        state = LinkState(link)
        link.event_handler = functools.partial(self._on_event, state)
        blob, slots, _ = self._all(state, subscribe=True)
        old, self._state = self._state, state
        if old is not None:
            self._carry_over(old, state)
        if blob and not link.closed:  # closed: the supervisor reconnects again
            link.send_only(blob, slots)

    def _carry_over(self, old: LinkState, new: LinkState) -> None:
        """Waiters of the old link's unconfirmed commands: a subscribe waits for the new
        link's resubscribe (when it has one pending), everything else is done."""
        for (kind, key), queue in old.expected.items():
            target = new.expected.get((kind, key)) if kind in SUBSCRIBE_EVENTS else None
            for group in queue:
                if target:
                    target[0].extend(group)
                else:
                    for event in group:
                        event.set()
        old.expected = {}

    async def _supervise(self) -> None:
        """Watch the connection; when it dies, report a gap, reconnect and resubscribe."""
        while True:
            link = self._session.link
            assert link is not None
            await link.wait_finished()
            if self._error is not None:
                return
            if self._session.link is not link:
                continue  # replaced on purpose (a cut-over)
            reason = link.closed_error()
            self.stats.gaps += 1
            logger.warning(
                "subscriber connection to %s lost (%s); resubscribing", link.address, reason
            )
            try:
                await self._send.send(Message("gap", None, f"connection lost: {reason}"))
            except (anyio.ClosedResourceError, anyio.BrokenResourceError):
                return
            await self._reconnect()

    async def _reconnect(self) -> None:
        """Until it succeeds or the subscriber is closed (the session retries with back-off);
        a rotation that came meanwhile is caught up with before this returns."""
        try:
            await self._session.connect(forever=True)
        except ConnectionClosedError:
            return

    async def _replace(self, old: Link, dead: bool) -> bool:
        """A failed re-authentication: cut over to a new connection without loss or
        duplicate when possible (RESP3, refused), else drop it; the supervisor reconnects (a
        gap). Always handled here (True)."""
        if self._session.link is not old or old.closed or self._error is not None:
            return True
        self.stats.replacements += 1
        if old.protocol == 3:
            done = False
            with anyio.move_on_after(self._options.connect_timeout):
                done = await self._cut_over(old)
            if done:
                return True
            logger.warning("a fenced cut-over of %s failed; reconnecting instead", old.address)
        old.close(RedisConnectionError(f"re-authentication on {old.address} failed"))
        return True

    async def _cut_over(self, old: Link) -> bool:
        """Make before break, fenced. The new connection subscribes to everything; both are
        subscribed to a private fence channel; the new one publishes a nonce there. Redis runs
        commands one at a time and writes each subscriber's messages in order, so every message
        published before the fence reaches the old connection before the fence, and every one
        published after it reaches the new connection after the fence: the old connection
        delivers up to its fence, the new one from its fence on. Exactly once, in order.
        False when it could not be done (the caller falls back to a reconnect with a gap)."""
        old_state = self._state
        assert old_state is not None and old_state.link is old
        try:
            credentials = await self._session.current_credentials()
            new = await self._session.connector.open(self._group, credentials, pubsub=True)
        except RedisError:
            return False
        self._incoming = new
        done = False
        try:
            if new.protocol != 3 or old.closed:
                return False
            state = LinkState(new)
            state.phase = AFTER_FENCE
            state.peer = old_state
            new.event_handler = functools.partial(self._on_event, state)
            nonce = secrets.token_hex(8)
            async with self._write_lock:
                refused: list[object] = []
                blob, slots, events = self._all(state, subscribe=True, refused=refused)
                fence = encode_command("SUBSCRIBE", self._fence)
                for target in (state, old_state):
                    event = anyio.Event()
                    target.expect("subscribe", self._fence_key, [event])
                    events.append(event)
                new.send_only(blob + fence, [*slots, EventSlot(1, refused.append)])
                old_state.nonce = state.nonce = nonce.encode()
                old_state.phase = UNTIL_FENCE
                old.send_only(fence, [EventSlot(1, refused.append)])
                for event in events:
                    await event.wait()
                if refused or new.closed or old.closed:
                    return False
                reply = await new.submit(encode_command("PUBLISH", self._fence, nonce)).wait()
                if isinstance(reply, ResponseError):
                    return False
                if not (await _wait_event(old_state.fenced, old)) or not (
                    await _wait_event(state.fenced, new)
                ):
                    return False
                if self._session.link is not old or self._error is not None:
                    return False  # the old one dropped meanwhile: the supervisor has it
                self._carry_over(old_state, state)
                state.phase = LIVE
                self._state, self._session.link = state, new
                self.stats.connects += 1
                self.stats.cutovers += 1
                done = True
        except (RedisConnectionError, ProtocolError):
            return False  # a socket died meanwhile
        finally:
            self._incoming = None
            if not done:
                new.close()
        old.close(ConnectionClosedError(f"connection to {old.address} was replaced"))
        logger.info("subscriber moved to a new connection to %s (fenced cut-over)", new.address)
        return True

    async def _send_credentials(self, link: Link, credentials: Credentials) -> object:
        """RESP3: AUTH in band. RESP2 while subscribed: the switch-over, in one write."""
        if link.protocol == 3 or not any(self._subscribed.values()):
            return await self._session.send_auth(link, credentials)
        # Computed and queued with no await in between: the subscriptions written so far are
        # exactly what the server will have when it reads this.
        state = self._state
        assert state is not None and state.link is link
        unsubscribe, before, _ = self._all(state, subscribe=False)
        resubscribe, after, _ = self._all(state, subscribe=True)
        blob = unsubscribe + encode_command(*auth_command(credentials)) + resubscribe
        waiter = link.submit_between(blob, before, link.new_waiter(), after)
        assert waiter is not None
        timeout = self._options.connect_timeout
        with anyio.move_on_after(timeout):
            reply = await waiter.wait()
            if not isinstance(reply, ResponseError):
                self.stats.switchovers += 1
            return reply
        raise RedisTimeoutError(f"no reply to the switch-over's AUTH within {timeout:g} s")


async def _wait_event(event: anyio.Event, link: Link) -> bool:
    """Wait for `event`; False if `link` finishes first."""
    async with anyio.create_task_group() as group:

        async def watch() -> None:
            await link.wait_finished()
            group.cancel_scope.cancel()

        group.start_soon(watch)
        await event.wait()
        group.cancel_scope.cancel()
    return event.is_set()
