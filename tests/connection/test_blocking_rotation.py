"""Blocking commands that wait across token rotations: segmented, re-authenticated in between.

`ExpiringTokens` deletes each token's ACL user at expiry, so a blocked connection that kept an
expired token is dropped by the server and the command fails: the tests would see it.
"""

from __future__ import annotations

import anyio
import pytest

from anyredis_auth import Client, Credentials
from anyredis_auth.protocol._blocking import plan_blocking
from anyredis_auth.testing import ManualCredentialsProvider
from tests._expiring_tokens import ExpiringTokens
from tests._servers import ServerProcess
from tests._waiting import library_tasks

pytestmark = pytest.mark.anyio

LIFETIME = 1.2


@pytest.mark.parametrize(
    ("args", "index", "millis", "timeout", "dollars"),
    [
        (("BLPOP", "a", "b", 0), 3, False, 0.0, []),
        (("brpop", "a", "2.5"), 2, False, 2.5, []),
        (("BLMOVE", "s", "d", "LEFT", "RIGHT", b"7"), 5, False, 7.0, []),
        (("BRPOPLPUSH", "s", "d", 1), 3, False, 1.0, []),
        (("BZPOPMIN", "z", 0), 2, False, 0.0, []),
        (("BLMPOP", 3, 2, "a", "b", "LEFT", "COUNT", 2), 1, False, 3.0, []),
        (("BZMPOP", "0", 1, "z", "MIN"), 1, False, 0.0, []),
        (("XREAD", "COUNT", 2, "BLOCK", 1500, "STREAMS", "s1", "s2", "$", "0-0"), 4, True, 1.5,
         [(6, 8)]),
        (("XREADGROUP", "GROUP", "g", "c", "BLOCK", 0, "NOACK", "STREAMS", "s", ">"), 5, True,
         0.0, []),
    ],
)  # fmt: skip
def test_blocking_plans(
    args: tuple[object, ...], index: int, millis: bool, timeout: float, dollars: list[object]
) -> None:
    plan = plan_blocking(args)  # type: ignore[arg-type]
    assert plan is not None
    assert (plan.index, plan.millis, plan.timeout, plan.dollars) == (
        index,
        millis,
        timeout,
        dollars,
    )


def test_what_is_not_segmented() -> None:
    for args in [("WAIT", 1, 0), ("XREAD", "STREAMS", "s", "$"), ("BLPOP", "a", "-1"),
                 ("BLPOP", "a", "soon"), ("XREAD", "BLOCK", 0, "STREAMS", "s")]:  # fmt: skip
        assert plan_blocking(args) is None  # type: ignore[arg-type]


async def test_blpop_forever_waits_across_rotations(server: ServerProcess, key_prefix: str) -> None:
    provider = ExpiringTokens(server, LIFETIME, refresh_before_expiry=0.5)
    key = key_prefix + "q"
    async with anyio.create_task_group() as rig:
        rig.start_soon(provider.expire_tokens)
        async with Client.open_with_credentials_provider(server.url, provider) as client:
            assert client._dedicated is not None
            assert client._dedicated.segment_length() == 0.25  # half of refresh_before_expiry
            con = await client.get_multiplexed_async_connection()
            result: list[object] = []

            async def pop() -> None:
                result.append(await con.execute("BLPOP", key, 0))

            with anyio.fail_after(LIFETIME * 6):
                async with anyio.create_task_group() as group:
                    group.start_soon(pop)
                    while len(provider.deleted) < 2:  # noqa: ASYNC110 - the rig's state
                        await anyio.sleep(0.05)
                    assert result == []
                    await con.execute("RPUSH", key, "element")
            # Pushed after two token users were deleted: the blocked connection followed them.
            assert result == [[key.encode(), b"element"]]
            assert client._dedicated.idle_count == 1  # the dedicated connection survived
            (session,) = client._dedicated._idle
            assert session.link is not None
            assert session.link.credentials == await provider.current_credentials()
        rig.cancel_scope.cancel()


async def test_xread_dollar_forever_across_rotations(
    server: ServerProcess, key_prefix: str
) -> None:
    provider = ManualCredentialsProvider()
    users = [Credentials(f"{key_prefix}u{n}", f"pw{n}") for n in range(3)]
    for user in users:
        server.add_user(user.username, user.password)  # type: ignore[arg-type]
    provider.set_credentials(users[0])
    stream = key_prefix + "s"
    async with Client.open_with_credentials_provider(
        server.url, provider, blocking_segment=0.1
    ) as client:
        con = await client.get_multiplexed_async_connection()
        await con.execute("XADD", stream, "*", "old", "1")  # before the read: not returned
        result: list[object] = []

        async def read() -> None:
            result.append(await con.execute("XREAD", "BLOCK", 0, "STREAMS", stream, "$"))

        with anyio.fail_after(5):
            async with anyio.create_task_group() as group:
                group.start_soon(read)
                for user in users[1:]:
                    await anyio.sleep(0.25)
                    provider.set_credentials(user)
                await anyio.sleep(0.25)
                await con.execute("XADD", stream, "*", "new", "2")
        (reply,) = result
        entries = (
            reply[stream.encode()] if isinstance(reply, dict) else dict(reply)[stream.encode()]
        )  # type: ignore[index,call-overload]
        assert [fields for _, fields in entries] in ([[b"new", b"2"]], [{b"new": b"2"}])
        # The dedicated connection was re-authenticated between segments, never replaced.
        assert client._dedicated is not None
        (blocking,) = client._dedicated._idle
        assert blocking.link is not None and blocking.link.credentials == users[-1]
        assert blocking.stats.connects == 1


async def test_a_finite_timeout_longer_than_a_segment_times_out_once(
    server: ServerProcess, key_prefix: str
) -> None:
    user = Credentials(key_prefix + "user", "pw")
    server.add_user(user.username, user.password)  # type: ignore[arg-type]
    provider = ManualCredentialsProvider(user)
    async with Client.open_with_credentials_provider(
        server.url, provider, blocking_segment=0.1
    ) as client:
        con = await client.get_multiplexed_async_connection()
        started = anyio.current_time()
        assert await con.execute("BRPOP", key_prefix + "none", 0.45) is None
        assert 0.4 <= anyio.current_time() - started < 10.0  # generous: a loaded machine
        assert client._dedicated is not None
        assert client._dedicated.open_count == 1  # the idle blocking one
        # Cancelled mid-segment: the dedicated connection is closed, never reused.
        with anyio.move_on_after(0.15):
            await con.execute("BLPOP", key_prefix + "none", 0)
        await anyio.sleep(0.05)
        assert client._dedicated.open_count == 0
    assert library_tasks() == []


async def test_leaving_the_client_during_a_segmented_block(
    server: ServerProcess, key_prefix: str
) -> None:
    user = Credentials(key_prefix + "user", "pw")
    server.add_user(user.username, user.password)  # type: ignore[arg-type]
    provider = ManualCredentialsProvider(user)
    errors: list[BaseException] = []
    with anyio.fail_after(3):
        async with anyio.create_task_group() as outside:
            client = Client.open_with_credentials_provider(
                server.url, provider, blocking_segment=0.1
            )
            async with client:
                con = await client.get_multiplexed_async_connection()

                async def pop() -> None:
                    try:
                        await con.execute("BLPOP", key_prefix + "none", 0)
                    except Exception as exc:
                        errors.append(exc)

                outside.start_soon(pop)
                await anyio.sleep(0.25)  # a few segments in
    assert [type(error).__name__ for error in errors] == ["ConnectionClosedError"]
    assert library_tasks() == []
