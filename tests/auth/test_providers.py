"""The credentials broadcast, the static provider and the manual (test) provider."""

from __future__ import annotations

import gc
import warnings

import anyio
import anyio.lowlevel
import pytest

from anyredis_auth._auth import (
    CredentialsBroadcast,
    StaticCredentialsProvider,
    StreamingCredentialsProvider,
)
from anyredis_auth._credentials import Credentials
from anyredis_auth._errors import TokenRefreshError
from anyredis_auth.testing._provider import ManualCredentialsProvider

pytestmark = pytest.mark.anyio

C1 = Credentials("alice", "secret-1")
C2 = Credentials("alice", "secret-2")
C3 = Credentials("bob", "secret-3")
E1 = TokenRefreshError("refresh failed (1)")
E2 = TokenRefreshError("refresh failed (2)")


def drain(stream: anyio.abc.ObjectReceiveStream[Credentials | TokenRefreshError]) -> list[object]:
    """Everything buffered in a memory stream right now."""
    items: list[object] = []
    while True:
        try:
            items.append(stream.receive_nowait())  # type: ignore[attr-defined]
        except anyio.WouldBlock:
            return items


# ----------------------------------------------------------------------------- broadcast


async def test_subscriber_sees_current_then_new_credentials() -> None:
    broadcast = CredentialsBroadcast()
    broadcast.publish(C1)
    with broadcast.subscribe() as stream:
        assert await stream.receive() == C1
        broadcast.publish(C2)
        assert await stream.receive() == C2
    assert broadcast.current == C2


async def test_first_item_arrives_with_the_first_credentials() -> None:
    broadcast = CredentialsBroadcast()
    assert broadcast.current is None
    with broadcast.subscribe() as stream:
        assert drain(stream) == []
        async with anyio.create_task_group() as group:
            group.start_soon(lambda: _publish_later(broadcast, C1))
            with anyio.fail_after(2):
                assert await stream.receive() == C1


async def _publish_later(broadcast: CredentialsBroadcast, item: Credentials) -> None:
    await anyio.sleep(0.01)
    broadcast.publish(item)


async def test_replay_current_can_be_turned_off() -> None:
    broadcast = CredentialsBroadcast()
    broadcast.publish(C1)
    with broadcast.subscribe(replay_current=False) as stream:
        assert drain(stream) == []
        broadcast.publish(C2)
        assert drain(stream) == [C2]


async def test_many_subscribers_one_not_reading_never_blocks_the_others() -> None:
    broadcast = CredentialsBroadcast()
    sleeper = broadcast.subscribe()  # never reads until the end
    readers = [broadcast.subscribe() for _ in range(5)]
    received: list[list[Credentials | TokenRefreshError]] = [[] for _ in readers]
    passwords = [Credentials("alice", f"secret-{n}") for n in range(50)]

    async def read(index: int) -> None:
        async for item in readers[index]:
            received[index].append(item)
            if item == passwords[-1]:
                return

    with anyio.fail_after(5):
        async with anyio.create_task_group() as group:
            for index in range(len(readers)):
                group.start_soon(read, index)
            await anyio.sleep(0.01)
            for credentials in passwords:
                broadcast.publish(credentials)  # synchronous: can never wait for a reader
                await anyio.lowlevel.checkpoint()
    for items in received:
        assert items[-1] == passwords[-1]
        # Order is kept: whatever was dropped, the survivors arrive in publication order.
        indexes = [passwords.index(item) for item in items]  # type: ignore[arg-type]
        assert indexes == sorted(indexes)
    # The sleeper gets the newest credentials when it finally reads.
    assert drain(sleeper) == [passwords[-1]]
    for stream in [sleeper, *readers]:
        stream.close()


@pytest.mark.parametrize(
    ("published", "kept"),
    [
        ([C1, C2, C3], [C3]),
        ([C1, E1], [C1, E1]),
        ([C1, E1, E2], [C1, E2]),
        ([C1, C2, E1, C3, E2], [C3, E2]),
        ([C1, E1, C2], [C2]),
        ([E1, E2, E1], [E1]),
        ([E1, C1, C2], [C2]),
    ],
)
async def test_unread_items_are_compacted_to_the_newest(
    published: list[Credentials | TokenRefreshError],
    kept: list[Credentials | TokenRefreshError],
) -> None:
    broadcast = CredentialsBroadcast()
    with broadcast.subscribe() as stream:
        for item in published:
            broadcast.publish(item)
        got = drain(stream)
    assert got == kept


async def test_closing_a_subscriber_unsubscribes() -> None:
    broadcast = CredentialsBroadcast()
    first = broadcast.subscribe()
    second = broadcast.subscribe()
    assert broadcast.subscriber_count == 2
    first.close()
    broadcast.publish(C1)  # the closed one is cleaned up here
    assert broadcast.subscriber_count == 1
    assert drain(second) == [C1]
    second.close()
    assert broadcast.subscriber_count == 0


async def test_a_dropped_stream_is_pruned() -> None:
    broadcast = CredentialsBroadcast()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ResourceWarning)  # anyio warns about the unclosed stream
        stream = broadcast.subscribe()
        del stream
        gc.collect()
    broadcast.publish(C1)
    assert broadcast.subscriber_count == 0


async def test_cloned_streams_share_the_subscription() -> None:
    broadcast = CredentialsBroadcast()
    stream = broadcast.subscribe()
    clone = stream.clone()
    stream.close()
    broadcast.publish(C1)
    broadcast.publish(C2)
    broadcast.publish(C3)
    assert broadcast.subscriber_count == 1
    assert drain(clone) == [C3]
    clone.close()
    assert broadcast.subscriber_count == 0


async def test_errors_reach_every_subscriber_without_ending_streams() -> None:
    broadcast = CredentialsBroadcast()
    broadcast.publish(C1)
    streams = [broadcast.subscribe() for _ in range(3)]
    for stream in streams:
        assert await stream.receive() == C1
    broadcast.publish(E1)
    for stream in streams:
        assert await stream.receive() is E1
    broadcast.publish(C2)
    for stream in streams:
        assert await stream.receive() == C2
        stream.close()
    assert broadcast.error is None
    assert broadcast.current == C2


async def test_wait_current_waits_for_the_first_outcome() -> None:
    broadcast = CredentialsBroadcast()
    async with anyio.create_task_group() as group:
        group.start_soon(_publish_later, broadcast, C1)
        with anyio.fail_after(2):
            assert await broadcast.wait_current() == C1
    # An error after credentials does not hide them.
    broadcast.publish(E1)
    assert await broadcast.wait_current() == C1


async def test_wait_current_raises_an_error_that_came_first() -> None:
    broadcast = CredentialsBroadcast()

    async def fail_later() -> None:
        await anyio.sleep(0.01)
        broadcast.publish(E1)

    async with anyio.create_task_group() as group:
        group.start_soon(fail_later)
        with anyio.fail_after(2), pytest.raises(TokenRefreshError, match=r"refresh failed \(1\)"):
            await broadcast.wait_current()
    # And again, at once, while there are still no credentials.
    with pytest.raises(TokenRefreshError):
        await broadcast.wait_current()
    broadcast.publish(C1)
    assert await broadcast.wait_current() == C1


async def test_close_ends_every_stream() -> None:
    broadcast = CredentialsBroadcast()
    broadcast.publish(C1)
    stream = broadcast.subscribe()
    broadcast.close()
    assert [item async for item in stream] == [C1]
    stream.close()
    with pytest.raises(anyio.ClosedResourceError):
        broadcast.subscribe()
    with pytest.raises(anyio.ClosedResourceError):
        broadcast.publish(C2)


async def test_publish_refuses_other_items() -> None:
    broadcast = CredentialsBroadcast()
    with pytest.raises(TypeError):
        broadcast.publish("password")  # type: ignore[arg-type]


async def test_broadcast_repr_hides_passwords() -> None:
    broadcast = CredentialsBroadcast()
    broadcast.publish(C1)
    assert "secret" not in repr(broadcast)


# ----------------------------------------------------------------------------- static provider


async def test_static_provider() -> None:
    provider = StaticCredentialsProvider("alice", "hunter2-static")
    assert isinstance(provider, StreamingCredentialsProvider)
    provider.start()
    assert await provider.current_credentials() == Credentials("alice", "hunter2-static")
    with provider.subscribe() as stream:
        assert drain(stream) == [Credentials("alice", "hunter2-static")]
    with anyio.fail_after(1):
        async with anyio.create_task_group() as group:
            await group.start(provider.run)  # returns at once: nothing to refresh
        async with provider:
            pass
    assert "hunter2" not in repr(provider)
    assert "hunter2" not in str(provider)


async def test_static_provider_default_user() -> None:
    provider = StaticCredentialsProvider(None, "pw")
    assert (await provider.current_credentials()).username is None


# ----------------------------------------------------------------------------- manual provider


async def test_manual_provider_pushes_by_hand() -> None:
    provider = ManualCredentialsProvider()
    assert isinstance(provider, StreamingCredentialsProvider)
    with provider.subscribe() as stream:
        provider.set_credentials(C1)
        assert await stream.receive() == C1
        provider.set_error(E1)
        assert await stream.receive() is E1
        provider.set_credentials(C2)
        assert await stream.receive() == C2
        assert provider.subscriber_count == 1
    assert provider.subscriber_count == 0
    assert await provider.current_credentials() == C2
    assert "secret" not in repr(provider)


async def test_manual_provider_current_credentials_waits_and_fails() -> None:
    provider = ManualCredentialsProvider()
    async with anyio.create_task_group() as group:
        group.start_soon(lambda: _set_later(provider))
        with anyio.fail_after(2):
            assert await provider.current_credentials() == C1

    failing = ManualCredentialsProvider()
    failing.set_error(E1)
    with pytest.raises(TokenRefreshError):
        await failing.current_credentials()


async def _set_later(provider: ManualCredentialsProvider) -> None:
    await anyio.sleep(0.01)
    provider.set_credentials(C1)


async def test_manual_provider_run_and_start() -> None:
    provider = ManualCredentialsProvider(C1)
    async with anyio.create_task_group() as group:
        await group.start(provider.run)
        group.start_soon(provider.run)
    assert provider.runs == 2
    async with provider:
        assert await provider.current_credentials() == C1
    provider.start()
    with pytest.raises(TypeError):
        provider.set_credentials("nope")  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        provider.set_error(ValueError("nope"))  # type: ignore[arg-type]
