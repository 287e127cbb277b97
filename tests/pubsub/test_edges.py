"""The pub/sub edges of issue 12, against real servers, on asyncio and trio.

1. A subscriber whose reconnect meets a TLS peer that closes mid-handshake keeps retrying, never
   raises into the client's task group, and works again once the peer behaves.
7. A SUBSCRIBE refused with NOPERM keeps the existing subscriptions; their messages keep arriving
   across rotations and reconnects, on RESP3 and on a RESP2-only server.
"""

from __future__ import annotations

import secrets
import ssl
import sys

import anyio
import pytest

from anyredis_auth import Client, Credentials, PubSub, ResponseError
from anyredis_auth.testing import ManualCredentialsProvider
from tests._proxy import FaultProxy
from tests._servers import ServerProcess, TLSFiles
from tests._waiting import client_block, wait_until, within

if sys.version_info < (3, 11):
    pass  # type: ignore[import-not-found,unused-ignore]


pytestmark = pytest.mark.anyio


async def expect_message(
    server: ServerProcess, pubsub: PubSub, channel: str, payload: str, what: str
) -> None:
    """Publish `payload` (from the admin side) until the subscriber gets it; fail after 15 s.

    Messages of earlier steps (published more than once) and gaps are skipped."""
    with within(15, f"no message on {channel!r} {what}"):
        while True:
            server.command("PUBLISH", channel, payload)
            with anyio.move_on_after(0.2):
                while True:
                    message = await pubsub.get_message()
                    if message is not None and message.data == payload.encode():
                        assert (message.kind, message.channel) == ("message", channel.encode())
                        return


# -- 1. TLS peer closes mid-handshake during a subscriber's reconnect ------------------------


@pytest.mark.parametrize("how", ["after_hello", "at_once"])
async def test_1_subscriber_reconnecting_through_broken_tls_handshakes_recovers(
    server: ServerProcess, tls_files: TLSFiles, key_prefix: str, how: str
) -> None:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(str(tls_files.cert_file), str(tls_files.key_file))
    front = FaultProxy(server.host, server.port, tls=context)  # a TLS front for either kind
    channel = key_prefix + "c"
    async with anyio.create_task_group() as rig:
        await rig.start(front.run)
        client = Client.from_url(
            front.tls_url,
            tls_ca_file=str(tls_files.ca_file),
            reconnect_initial_delay=0.02,
            reconnect_max_delay=0.2,
        )
        with within(30, "the subscriber's reconnect through broken TLS handshakes"):
            async with client_block(client), client.pubsub() as pubsub:
                await pubsub.subscribe(channel)
                await expect_message(server, pubsub, channel, "before", "before the drop")
                front.reject_new = how  # every reconnect now meets a closed TLS handshake
                before = front.connections
                front.drop()
                gap = await pubsub.get_message()
                assert gap is not None and gap.kind == "gap", f"expected a gap, got {gap!r}"
                # It keeps trying (and nothing it meets escapes into the client's group).
                await wait_until(lambda: front.connections >= before + 3, limit=15)
                assert not pubsub.closed
                front.reject_new = None
                await expect_message(server, pubsub, channel, "after", "once TLS works again")
                assert pubsub.channels == [channel]
        rig.cancel_scope.cancel()


# -- 7. Refused SUBSCRIBE keeps the rest, across rotations and reconnects --------------------


async def refused_subscribe_keeps_the_rest(server: ServerProcess, key_prefix: str) -> int:
    """The scenario of edge 7; returns the protocol the subscriber spoke."""
    allowed = key_prefix + "allowed"
    prefix = f"ps7-{secrets.token_hex(3)}"
    count = 0

    def new_user() -> Credentials:
        nonlocal count
        username, password = f"{prefix}-{count}", secrets.token_urlsafe(12)
        count += 1
        # Channels: only those starting with `allowed` (the rest is refused with NOPERM).
        server.add_user(username, password, "~*", "resetchannels", f"&{allowed}*", "+@all")
        return Credentials(username, password)

    def subscriber_users() -> list[bytes]:
        listing = server.command("CLIENT", "LIST")
        assert isinstance(listing, bytes)
        users = []
        for line in listing.splitlines():
            fields = dict(part.split(b"=", 1) for part in line.split() if b"=" in part)
            if fields.get(b"user", b"").startswith(prefix.encode()) and int(fields[b"sub"]) > 0:
                users.append(fields[b"user"])
        return users

    first = new_user()
    provider = ManualCredentialsProvider(first)
    channels = [allowed + "1", allowed + "2"]
    client = Client.open_with_credentials_provider(
        server.url, provider, reconnect_initial_delay=0.02, reconnect_max_delay=0.2
    )
    with within(60, "the refused-SUBSCRIBE scenario"):
        async with client_block(client), client.pubsub() as pubsub:
            await pubsub.subscribe(channels[0])
            with pytest.raises(ResponseError, match="NOPERM"):
                await pubsub.subscribe(key_prefix + "forbidden")
            await pubsub.subscribe(channels[1])  # the subscriber goes on after a refusal
            assert pubsub.channels == channels
            for channel in channels:
                await expect_message(server, pubsub, channel, "0", "after the refused SUBSCRIBE")

            current = first
            for step in range(1, 3):  # a rotation, then a reconnect (twice)
                newer = new_user()
                provider.set_credentials(newer)
                expected = [newer.username.encode()]  # type: ignore[union-attr]
                await wait_until(lambda: subscriber_users() == expected, limit=15)  # noqa: B023
                server.delete_user(current.username)  # type: ignore[arg-type]
                current = newer
                for channel in channels:
                    await expect_message(
                        server, pubsub, channel, f"r{step}", f"after rotation {step}"
                    )
                server.command("CLIENT", "KILL", "USER", current.username)  # type: ignore[arg-type]
                for channel in channels:
                    await expect_message(
                        server, pubsub, channel, f"k{step}", f"after reconnect {step}"
                    )
                assert pubsub.channels == channels, f"subscriptions now {pubsub.channels!r}"
            assert subscriber_users() == [current.username.encode()]  # type: ignore[union-attr]
            protocol = pubsub.protocol
    assert protocol is not None
    return protocol


async def test_7_refused_subscribe_keeps_the_rest_on_resp3(
    server: ServerProcess, key_prefix: str
) -> None:
    assert await refused_subscribe_keeps_the_rest(server, key_prefix) == 3


async def test_7_refused_subscribe_keeps_the_rest_on_resp2(
    resp2_server: ServerProcess, key_prefix: str
) -> None:
    assert await refused_subscribe_keeps_the_rest(resp2_server, key_prefix) == 2
