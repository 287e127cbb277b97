"""Pub/Sub on a dedicated connection that stays authenticated across token rotations.

Rotations use `ExpiringTokens`: each token is an ACL user deleted at expiry, so the server drops a
subscriber that missed its re-authentication (and the test sees a gap).
"""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator

import anyio
import pytest

from anyredis_auth import Client, ConnectionClosedError, Credentials, ResponseError
from anyredis_auth._pubsub import Message, PubSub
from anyredis_auth.testing import ManualCredentialsProvider
from tests._expiring_tokens import ExpiringTokens, Identities
from tests._proxy import FaultProxy
from tests._servers import ServerProcess
from tests._waiting import library_tasks, wait_until

pytestmark = pytest.mark.anyio

LIFETIME = 1.2  # seconds a token lives; refreshed 0.5 s before expiry
ROTATIONS = 3


@pytest.fixture
async def resp2_proxy(resp2_server: ServerProcess) -> AsyncIterator[FaultProxy]:
    proxy = FaultProxy(resp2_server.host, resp2_server.port)
    async with anyio.create_task_group() as group:
        await group.start(proxy.run)
        yield proxy
        proxy.resume()
        group.cancel_scope.cancel()


def pubsub_users(server: ServerProcess, prefix: str) -> list[bytes]:
    """The user of every connection in subscribed mode whose user name starts with `prefix`."""
    listing = server.command("CLIENT", "LIST")
    assert isinstance(listing, bytes)
    users = []
    for line in listing.splitlines():
        fields = dict(part.split(b"=", 1) for part in line.split() if b"=" in part)
        if fields.get(b"user", b"").startswith(prefix.encode()) and int(fields[b"sub"]) > 0:
            users.append(fields[b"user"])
    return users


async def publish_until_received(server: ServerProcess, pubsub: PubSub, channel: str) -> Message:
    """Publish (from the admin side) until the subscriber gets it: after a reconnect the server
    may still count the old subscriber for an instant."""
    while True:
        server.command("PUBLISH", channel, "after")
        message = await pubsub.get_message(timeout=0.1)
        if message is not None:
            return message


async def publish_through_rotations(server: ServerProcess, key_prefix: str, protocol: int) -> int:
    """A publisher publishes numbered messages through several rotations; check exactly-once."""
    provider = ExpiringTokens(server, LIFETIME, refresh_before_expiry=0.5)
    channel = key_prefix + "seq"
    received: list[int] = []
    gaps: list[Message] = []
    async with anyio.create_task_group() as rig:
        rig.start_soon(provider.expire_tokens)
        async with Client.open_with_credentials_provider(
            server.url, provider, protocol=protocol
        ) as client:
            con = await client.get_multiplexed_async_connection()
            async with client.pubsub() as pubsub:
                await pubsub.subscribe(channel, key_prefix + "other")
                await pubsub.psubscribe(key_prefix + "pat:*")
                await pubsub.ssubscribe(key_prefix + "shard")  # every family in the switch-over
                published = 0

                async def publish() -> None:
                    nonlocal published
                    while len(provider.issued) <= ROTATIONS:
                        await con.publish(channel, str(published))
                        published += 1
                        if published % 50 == 0:
                            await anyio.sleep(0.001)
                    await con.publish(channel, "end")

                async def consume() -> None:
                    async for message in pubsub:
                        if message.kind == "gap":
                            gaps.append(message)
                        elif message.data == b"end":
                            return
                        else:
                            received.append(int(message.data))

                with anyio.fail_after(LIFETIME * (ROTATIONS + 4)):
                    async with anyio.create_task_group() as group:
                        group.start_soon(consume)
                        group.start_soon(publish)
                assert pubsub_users(server, provider.prefix) == [
                    provider.issued[-1][0].encode()
                ]  # one subscriber connection, logged in with the newest token
                await con.spublish(key_prefix + "shard", "sharded")
                await con.publish(key_prefix + "pat:x", "patterned")
                with anyio.fail_after(2):
                    kinds = {(await pubsub.__anext__()).kind for _ in range(2)}
                assert kinds == {"smessage", "pmessage"}  # still subscribed to every family
                stats = pubsub.stats
                subscriber_protocol = pubsub.protocol
        rig.cancel_scope.cancel()
    assert gaps == []
    assert received == list(range(published))  # none lost, none duplicated, in order
    assert published > 200
    assert stats.connects == 1 and stats.gaps == 0 and stats.replacements == 0
    assert stats.reauths >= ROTATIONS and stats.reauth_failures == 0
    if subscriber_protocol == 2:  # every re-authentication was a switch-over
        assert stats.switchovers == stats.reauths
    # Expired users were deleted while the subscriber lived: it would have been dropped.
    assert len(provider.deleted) >= ROTATIONS - 1
    assert subscriber_protocol is not None
    return subscriber_protocol


async def test_resp3_subscriber_gets_every_message_through_rotations(
    server: ServerProcess, key_prefix: str
) -> None:
    # protocol=2 for the client: the subscriber still uses RESP3, the server speaks it.
    assert await publish_through_rotations(server, key_prefix, protocol=2) == 3


async def test_resp2_subscriber_switches_over_without_loss_or_duplicate(
    resp2_server: ServerProcess, key_prefix: str
) -> None:
    assert await publish_through_rotations(resp2_server, key_prefix, protocol=2) == 2


async def test_subscriptions_of_every_family_and_their_messages(
    server: ServerProcess, key_prefix: str
) -> None:
    async with Client.from_url(server.url) as client:
        con = await client.get_multiplexed_async_connection()
        async with client.pubsub() as pubsub:
            assert pubsub.protocol == 3
            await pubsub.subscribe(key_prefix + "a", key_prefix + "b")
            await pubsub.psubscribe(key_prefix + "p:*")
            await pubsub.ssubscribe(key_prefix + "s")
            assert await con.publish(key_prefix + "a", "1") == 1
            await con.publish(key_prefix + "p:x", "2")
            await con.spublish(key_prefix + "s", "3")
            got = [await pubsub.get_message(timeout=2) for _ in range(3)]
            assert got == [
                Message("message", (key_prefix + "a").encode(), b"1"),
                Message(
                    "pmessage", (key_prefix + "p:x").encode(), b"2", (key_prefix + "p:*").encode()
                ),
                Message("smessage", (key_prefix + "s").encode(), b"3"),
            ]
            await pubsub.unsubscribe(key_prefix + "a")
            await pubsub.punsubscribe()
            await pubsub.sunsubscribe(key_prefix + "s")
            assert pubsub.channels == [key_prefix + "b"] and pubsub.patterns == []
            assert await con.publish(key_prefix + "a", "x") == 0
            assert await con.publish(key_prefix + "b", "y") == 1
            message = await pubsub.get_message(timeout=2)
            assert message is not None and message.data == b"y"
            assert await pubsub.get_message(timeout=0.05) is None


async def test_decoded_messages(server: ServerProcess, key_prefix: str) -> None:
    async with Client.from_url(server.url, decode_responses=True, encoding="latin-1") as client:
        con = await client.get_multiplexed_async_connection()
        async with client.pubsub() as pubsub:
            channel = key_prefix + "caf\u00e9"
            with anyio.fail_after(2):
                await pubsub.subscribe(channel)  # confirmed although echoed in latin-1
                await con.publish(channel, "d\u00e9j\u00e0")
                message = await pubsub.get_message()
            assert message == Message(
                "message",
                channel.encode().decode("latin-1"),
                "d\u00e9j\u00e0".encode().decode("latin-1"),
            )


async def test_a_refused_subscribe_raises_and_the_subscriber_goes_on(
    server: ServerProcess, key_prefix: str
) -> None:
    username = f"ps-{secrets.token_hex(3)}"
    server.add_user(username, "pw", "~*", f"&{key_prefix}ok*", "+@all")
    provider = ManualCredentialsProvider(Credentials(username, "pw"))
    client = Client.open_with_credentials_provider(server.url, provider)
    async with client, client.pubsub() as pubsub:
        with anyio.fail_after(2):
            with pytest.raises(ResponseError, match="NOPERM"):
                await pubsub.subscribe(key_prefix + "ok1", key_prefix + "forbidden")
            assert pubsub.channels == []
            await pubsub.subscribe(key_prefix + "ok2")
            server.command("PUBLISH", key_prefix + "ok2", "hello")
            message = await pubsub.get_message()
        assert message is not None and message.data == b"hello"
        assert pubsub.stats.connects == 1 and pubsub.stats.gaps == 0


async def test_a_slow_consumer_gets_backpressure_not_loss(
    server: ServerProcess, key_prefix: str
) -> None:
    async with Client.from_url(server.url) as client:
        con = await client.get_multiplexed_async_connection()
        async with client.pubsub(buffer_size=5) as pubsub:
            await pubsub.subscribe(key_prefix + "c")
            for index in range(500):
                await con.publish(key_prefix + "c", str(index))
            got = []
            with anyio.fail_after(5):
                while len(got) < 500:
                    message = await pubsub.get_message()
                    assert message is not None
                    got.append(int(message.data))
            assert got == list(range(500))


async def test_reconnect_after_a_drop_resubscribes_and_reports_a_gap(
    server: ServerProcess, key_prefix: str
) -> None:
    users = Identities(server)
    provider = ManualCredentialsProvider(users.new())
    async with Client.open_with_credentials_provider(server.url, provider) as client:
        con = await client.get_multiplexed_async_connection()
        async with client.pubsub() as pubsub:
            await pubsub.subscribe(key_prefix + "c")
            await pubsub.psubscribe(key_prefix + "*")
            newer = users.new()
            provider.set_credentials(newer)
            await wait_until(lambda: pubsub.stats.reauths == 1)
            server.command("CLIENT", "KILL", "USER", newer.username)  # type: ignore[arg-type]
            with anyio.fail_after(5):
                gap = await pubsub.get_message()
                assert gap is not None and gap.kind == "gap" and gap.channel is None
                first = await publish_until_received(server, pubsub, key_prefix + "c")
                second = await pubsub.get_message()  # channel and pattern both match
                assert second is not None
                kinds = {first.kind, second.kind}
                assert await con.publish(key_prefix + "c", "x") == 2
            assert kinds == {"message", "pmessage"}
            assert pubsub.stats.connects == 2 and pubsub.stats.gaps == 1
            assert pubsub_users(server, users.prefix) == [newer.username.encode()]  # type: ignore[union-attr]


class LateIdentities(ManualCredentialsProvider):
    """New credentials reach the subscriber before their ACL user exists, so its AUTH is
    refused; the user appears when the client asks for the current credentials (to connect)."""

    def __init__(self, server: ServerProcess) -> None:
        self.users = Identities(server)
        super().__init__(self.users.new())
        self.pending: dict[str, str] = {}

    def late(self) -> Credentials:
        credentials = Credentials(f"{self.users.prefix}-late{len(self.pending)}", "late-password")
        self.pending[credentials.username] = credentials.password  # type: ignore[index]
        self.set_credentials(credentials)
        return credentials

    async def current_credentials(self) -> Credentials:
        credentials = await super().current_credentials()
        password = self.pending.pop(credentials.username, None)  # type: ignore[arg-type]
        if password is not None:
            self.users.server.add_user(credentials.username, password)  # type: ignore[arg-type]
        return credentials


async def test_refused_reauth_cuts_over_without_loss_or_duplicate(
    server: ServerProcess, key_prefix: str
) -> None:
    provider = LateIdentities(server)
    channel = key_prefix + "seq"
    received: list[int] = []
    gaps: list[Message] = []
    publisher = Client.from_url(server.url)
    subscriber = Client.open_with_credentials_provider(server.url, provider)
    async with publisher, subscriber, subscriber.pubsub() as pubsub:
        con = await publisher.get_multiplexed_async_connection()
        await pubsub.subscribe(channel)
        published = 0

        async def publish() -> None:
            nonlocal published
            await anyio.sleep(0.1)
            newer = provider.late()
            while pubsub.stats.cutovers == 0 or published < 2000:
                await con.publish(channel, str(published))
                published += 1
                if published % 50 == 0:
                    await anyio.sleep(0.001)
            await con.publish(channel, "end")
            assert pubsub_users(server, provider.users.prefix) == [newer.username.encode()]  # type: ignore[union-attr]

        async def consume() -> None:
            async for message in pubsub:
                if message.kind == "gap":
                    gaps.append(message)
                elif message.data == b"end":
                    return
                else:
                    received.append(int(message.data))

        with anyio.fail_after(10):
            async with anyio.create_task_group() as group:
                group.start_soon(consume)
                group.start_soon(publish)
    assert gaps == []
    assert received == list(range(published))  # none lost, none duplicated, in order
    stats = pubsub.stats
    assert stats.reauth_failures == 1 and stats.cutovers == 1 and stats.replacements == 1
    assert stats.connects == 2 and stats.gaps == 0


@pytest.mark.parametrize("action", ["drop", "shutdown"])
async def test_drop_or_shutdown_during_a_cutover(
    server: ServerProcess, proxy: FaultProxy, key_prefix: str, action: str
) -> None:
    provider = LateIdentities(server)
    with anyio.fail_after(5):
        client = Client.open_with_credentials_provider(proxy.url, provider)
        async with client, client.pubsub() as pubsub:
            await pubsub.subscribe(key_prefix + "c")
            proxy.delay = 0.2  # every reply chunk is late: the cut-over takes a while
            provider.late()
            await wait_until(lambda: pubsub._incoming is not None)  # the new one subscribes
            if action == "shutdown":
                assert len(library_tasks()) >= 6  # two links, the follower, the supervisor...
                await pubsub.aclose()
                assert library_tasks() == []
                return
            proxy.drop()
            proxy.delay = 0
            gap = await pubsub.get_message()
            assert gap is not None and gap.kind == "gap"
            message = await publish_until_received(server, pubsub, key_prefix + "c")
            assert message.data == b"after"
            assert pubsub.stats.cutovers == 0 and pubsub.stats.gaps == 1
    assert library_tasks() == []


async def test_refused_switchover_on_resp2_reconnects_with_a_gap(
    resp2_server: ServerProcess, key_prefix: str
) -> None:
    provider = LateIdentities(resp2_server)
    client = Client.open_with_credentials_provider(resp2_server.url, provider, protocol=2)
    async with client, client.pubsub() as pubsub:
        await pubsub.subscribe(key_prefix + "c")
        newer = provider.late()
        with anyio.fail_after(5):
            gap = await pubsub.get_message()
            assert gap is not None and gap.kind == "gap"
            message = await publish_until_received(resp2_server, pubsub, key_prefix + "c")
        assert message.data == b"after"
        assert pubsub.stats.reauth_failures == 1 and pubsub.stats.replacements == 1
        assert pubsub.stats.cutovers == 0 and pubsub.stats.connects == 2
        assert pubsub_users(resp2_server, provider.users.prefix) == [newer.username.encode()]  # type: ignore[union-attr]


async def stalled_switchover(
    proxy: FaultProxy, provider: ManualCredentialsProvider, users: Identities, pubsub: PubSub
) -> Credentials:
    """Send new credentials while the proxy holds replies back: a switch-over is in flight."""
    proxy.stalled = True
    newer = users.new()
    provider.set_credentials(newer)
    await anyio.sleep(0.1)  # the switch-over is written, its replies are held by the proxy
    assert pubsub.stats.switchovers == 0
    return newer


async def test_drop_during_a_switchover(
    resp2_server: ServerProcess, resp2_proxy: FaultProxy, key_prefix: str
) -> None:
    users = Identities(resp2_server)
    provider = ManualCredentialsProvider(users.new())
    client = Client.open_with_credentials_provider(resp2_proxy.url, provider)
    async with client, client.pubsub() as pubsub:
        assert pubsub.protocol == 2
        await pubsub.subscribe(key_prefix + "a", key_prefix + "b")
        newer = await stalled_switchover(resp2_proxy, provider, users, pubsub)
        resp2_proxy.drop()
        resp2_proxy.resume()
        with anyio.fail_after(5):
            gap = await pubsub.get_message()
            assert gap is not None and gap.kind == "gap"
            message = await publish_until_received(resp2_server, pubsub, key_prefix + "b")
        assert message is not None and message.channel == (key_prefix + "b").encode()
        assert pubsub_users(resp2_server, users.prefix) == [newer.username.encode()]  # type: ignore[union-attr]


async def test_unsubscribe_during_a_switchover(
    resp2_server: ServerProcess, resp2_proxy: FaultProxy, key_prefix: str
) -> None:
    users = Identities(resp2_server)
    provider = ManualCredentialsProvider(users.new())
    async with Client.open_with_credentials_provider(
        resp2_proxy.url, provider, protocol=2
    ) as client:
        con = await client.get_multiplexed_async_connection()
        async with client.pubsub() as pubsub:
            await pubsub.subscribe(key_prefix + "a", key_prefix + "b")
            newer = await stalled_switchover(resp2_proxy, provider, users, pubsub)
            with anyio.fail_after(5):
                async with anyio.create_task_group() as group:
                    group.start_soon(pubsub.unsubscribe, key_prefix + "a")
                    await anyio.sleep(0.05)
                    resp2_proxy.resume()
                assert pubsub.channels == [key_prefix + "b"]
                await wait_until(lambda: pubsub.stats.switchovers == 1)
                assert await con.publish(key_prefix + "a", "x") == 0
                assert await con.publish(key_prefix + "b", "y") == 1
                message = await pubsub.get_message()
            assert message is not None and message.data == b"y"
            assert await pubsub.get_message(timeout=0.05) is None
            assert pubsub.stats.gaps == 0 and pubsub.stats.connects == 1
            assert pubsub_users(resp2_server, users.prefix) == [newer.username.encode()]  # type: ignore[union-attr]


@pytest.mark.parametrize("while_", ["switchover", "reconnect"])
async def test_shutdown_during_a_switchover_or_a_reconnect(
    resp2_server: ServerProcess, resp2_proxy: FaultProxy, key_prefix: str, while_: str
) -> None:
    users = Identities(resp2_server)
    provider = ManualCredentialsProvider(users.new())
    ended = anyio.Event()
    with anyio.fail_after(5):
        async with anyio.create_task_group() as outside:
            async with Client.open_with_credentials_provider(resp2_proxy.url, provider) as client:
                pubsub = client.pubsub()
                await pubsub.__aenter__()
                await pubsub.subscribe(key_prefix + "a")

                async def iterate() -> None:
                    async for _ in pubsub:
                        pass
                    ended.set()  # the loop ends when the client closes

                outside.start_soon(iterate)
                await stalled_switchover(resp2_proxy, provider, users, pubsub)
                if while_ == "reconnect":
                    resp2_proxy.drop()  # the reconnect's handshake replies are held too
                    await anyio.sleep(0.1)
                assert library_tasks()
            await ended.wait()
            assert pubsub.closed
            with pytest.raises(ConnectionClosedError):
                await pubsub.subscribe(key_prefix + "b")
            with pytest.raises(ConnectionClosedError):
                await pubsub.get_message()
            await pubsub.aclose()
    assert library_tasks() == []


async def test_leaving_the_pubsub_block_ends_its_tasks_and_loops(server: ServerProcess) -> None:
    async with Client.from_url(server.url) as client:
        with anyio.fail_after(3):
            async with anyio.create_task_group() as group, client.pubsub() as pubsub:
                await pubsub.subscribe("x")

                async def iterate() -> None:
                    async for _ in pubsub:
                        pass

                group.start_soon(iterate)
                await anyio.sleep(0.05)
        assert library_tasks() == []  # the client's own group has nothing left either
        con = await client.get_multiplexed_async_connection()
        with pytest.raises(ValueError, match="pubsub"):
            await con.execute("SUBSCRIBE", "x")
