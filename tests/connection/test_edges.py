"""The edges of issue 12 on a shared connection, against real servers, on asyncio and trio.

Each test is named after the edge it covers (numbers as in the issue). The misbehaving parts are
real: ACL users that come and go, a server busy in a Lua script, a TCP/TLS proxy that stalls,
delays, freezes, drops or refuses (tests/_proxy.py). Every wait is bounded so a hang fails.
"""

from __future__ import annotations

import contextlib
import secrets
import ssl
import sys
from collections.abc import AsyncIterator

import anyio
import anyio.abc
import pytest

from anyredis_auth import (
    Client,
    Credentials,
    RedisConnectionError,
    RedisError,
    ResponseError,
)
from anyredis_auth.protocol import encode_command
from anyredis_auth.testing import ManualCredentialsProvider
from anyredis_auth.testing.servers import free_port
from tests._expiring_tokens import ExpiringTokens, Identities
from tests._proxy import FaultProxy
from tests._servers import ServerProcess, TLSFiles
from tests._waiting import client_block, library_tasks, wait_until, within

if sys.version_info < (3, 11):
    from exceptiongroup import BaseExceptionGroup  # type: ignore[import-not-found,unused-ignore]


pytestmark = pytest.mark.anyio

#: What the fake busy server answers to every command of a new connection.
FAKE_BUSY = b"-BUSY Redis is busy running a script (the test proxy's fake server)\r\n"


@contextlib.asynccontextmanager
async def running(proxy: FaultProxy) -> AsyncIterator[FaultProxy]:
    """Run `proxy` for the block; the block's own exception comes out as it is (no group)."""
    try:
        async with anyio.create_task_group() as group:
            await group.start(proxy.run)
            try:
                yield proxy
            finally:
                proxy.resume()
                group.cancel_scope.cancel()
    except BaseExceptionGroup as group:
        if len(group.exceptions) == 1:
            raise group.exceptions[0] from None
        raise


def tls_server_context(tls_files: TLSFiles) -> ssl.SSLContext:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(str(tls_files.cert_file), str(tls_files.key_file))
    return context


async def start_busy_script(server: ServerProcess) -> anyio.abc.SocketStream:
    """Make `server` busy in an endless Lua script: most commands then get ``-BUSY``."""
    server.command("CONFIG", "SET", "busy-reply-threshold", 50)
    stream = await anyio.connect_tcp(server.host, server.port)
    await stream.send(encode_command("EVAL", "while true do end", 0))
    with within(10, "the server did not become busy"):
        while True:
            try:
                server.command("PING")
            except ResponseError as exc:
                if exc.code == "BUSY":
                    return stream
            await anyio.sleep(0.02)


# -- 1. TLS peer closes mid-handshake --------------------------------------------------------


@pytest.mark.parametrize("how", ["after_hello", "at_once"])
async def test_1_tls_peer_closing_mid_handshake_gives_a_typed_error(
    tls_files: TLSFiles, how: str
) -> None:
    attempts = 3
    # Nothing behind the front: every connection is closed during its TLS handshake.
    front = FaultProxy("127.0.0.1", free_port(), tls=tls_server_context(tls_files))
    front.reject_new = how
    async with running(front):
        client = Client.from_url(
            front.tls_url,
            tls_ca_file=str(tls_files.ca_file),
            reconnect_attempts=attempts,
            reconnect_initial_delay=0.01,
            reconnect_max_delay=0.05,
        )
        with within(20, "failing to connect through a peer that closes TLS handshakes"):
            async with client_block(client):
                for _ in range(2):  # and again: the client stays usable after the first
                    before = front.connections
                    try:
                        await client.get_multiplexed_async_connection()
                    except RedisConnectionError:
                        pass
                    except Exception as exc:
                        pytest.fail(
                            "a TLS handshake closed by the peer must raise RedisConnectionError, "
                            f"got {type(exc).__module__}.{type(exc).__name__}: {exc!r}"
                        )
                    else:
                        pytest.fail("connected although every TLS handshake was closed")
                    tried = front.connections - before
                    assert tried == attempts, (
                        f"reconnect_attempts={attempts} but {tried} connection(s) were tried"
                    )
    assert library_tasks() == []


# -- 2. Server error during replacement ------------------------------------------------------


@pytest.mark.parametrize("cause", ["busy_script", "fake_busy_server"])
async def test_2_server_error_while_setting_up_the_replacement(
    own_server: ServerProcess, cause: str
) -> None:
    if cause == "busy_script" and own_server.kind == "valkey":
        pytest.skip("Valkey serves SELECT and CLIENT SETNAME during a busy script (no -BUSY)")
    identities = Identities(own_server)
    first, second = identities.new(), identities.new()
    provider = ManualCredentialsProvider(first)
    busy: anyio.abc.SocketStream | None = None
    outcome: list[object] = []
    # db and client_name: the replacement's setup sends SELECT and SETNAME, which meet -BUSY.
    options = {
        "db": 1,
        "client_name": "edge-2",
        "connect_timeout": 1.0,
        "health_check_timeout": 1.0,
        "reconnect_initial_delay": 0.05,
        "reconnect_max_delay": 0.25,
    }
    async with running(FaultProxy(own_server.host, own_server.port)) as proxy:
        client = Client.open_with_credentials_provider(proxy.url, provider, **options)
        with within(30, "the scenario (re-auth timeout, then -BUSY in the replacement)"):
            async with client_block(client):
                con = await client.get_multiplexed_async_connection()
                assert await con.execute("ACL", "WHOAMI") == first.username.encode()  # type: ignore[union-attr]
                proxy.freeze_existing()  # the re-auth AUTH will get no reply in time
                if cause == "busy_script":
                    busy = await start_busy_script(own_server)
                else:
                    proxy.answer_new = FAKE_BUSY

                async def in_flight() -> None:
                    try:
                        outcome.append(await con.execute("ECHO", "in flight"))
                    except Exception as exc:
                        outcome.append(exc)

                with within(15, "the caller in flight got neither a reply nor an error"):
                    async with anyio.create_task_group() as callers:
                        callers.start_soon(in_flight)
                        await anyio.sleep(0.1)  # (ordering only) the ECHO goes out first
                        provider.set_credentials(second)
                assert len(outcome) == 1 and isinstance(outcome[0], RedisError), (
                    f"the caller in flight must get a typed RedisError, got {outcome[0]!r}"
                )
                await wait_until(lambda: proxy.connections >= 2, limit=10)  # tried to replace
                if busy is not None:
                    own_server.command("SCRIPT", "KILL")
                proxy.answer_new = None
                with within(15, "a command after the server stopped answering -BUSY"):
                    whoami = await con.execute("ACL", "WHOAMI")
                assert whoami == second.username.encode(), (  # type: ignore[union-attr]
                    f"the retried replacement is logged in as {whoami!r}, not the newest user"
                )
                proxy.resume()
    if busy is not None:
        await busy.aclose()


# -- 4. Rotation during a reconnect ----------------------------------------------------------


async def test_4_rotation_during_a_reconnect_handshake_ends_on_the_newest_credentials(
    server: ServerProcess, proxy: FaultProxy, key_prefix: str
) -> None:
    identities = Identities(server)
    first, second = identities.new(), identities.new()
    provider = ManualCredentialsProvider(first)
    client = Client.open_with_credentials_provider(proxy.url, provider, connect_timeout=10.0)
    failures: list[BaseException] = []
    with within(30, "the rotation-during-reconnect scenario"):
        async with client_block(client):
            con = await client.get_multiplexed_async_connection()
            assert await con.execute("ACL", "WHOAMI") == first.username.encode()  # type: ignore[union-attr]
            proxy.delay = 1.0  # the reconnect's handshake replies come 1 s late
            proxy.drop()
            await wait_until(lambda: not con.is_connected, limit=5)
            first_reply: list[object] = []

            async def reconnecting_command() -> None:
                first_reply.append(await con.execute("PING"))

            async with anyio.create_task_group() as group:
                group.start_soon(reconnecting_command)
                await wait_until(lambda: proxy.connections >= 2, limit=5)  # handshake in flight
                provider.set_credentials(second)
                proxy.delay = 0.0  # only the handshake's reply is held back
            assert first_reply == [b"PONG"]
            newest = second.username.encode()  # type: ignore[union-attr]
            whoami: object = None
            with anyio.move_on_after(10):  # the in-line AUTH may follow the handshake shortly
                while (whoami := await con.execute("ACL", "WHOAMI")) != newest:  # noqa: ASYNC110
                    await anyio.sleep(0.05)
            assert whoami == newest, (
                f"after the reconnect the connection stayed logged in as {whoami!r}; the newest "
                f"credentials (pushed during its handshake) are {second.username!r}"
            )
            identities.expire(first)  # the server drops whoever is still logged in as it

            async def worker(index: int) -> None:
                for round_ in range(20):
                    try:
                        await con.execute("INCR", f"{key_prefix}{index}")
                    except Exception as exc:
                        failures.append(exc)
                    if round_ % 5 == 0:
                        await anyio.sleep(0.01)

            async with anyio.create_task_group() as group:
                for index in range(20):
                    group.start_soon(worker, index)
            assert await con.execute("ACL", "WHOAMI") == second.username.encode()  # type: ignore[union-attr]
    assert failures == [], f"{len(failures)} commands failed after the old user was deleted"


# -- 5. Unanswered re-auth AUTH (half-open socket) -------------------------------------------


async def test_5_unanswered_reauth_fails_callers_in_time_and_closes_the_old_socket(
    server: ServerProcess, proxy: FaultProxy
) -> None:
    identities = Identities(server)
    first, second = identities.new(), identities.new()
    provider = ManualCredentialsProvider(first)
    # command_timeout stays None (the default): only the re-auth's own bound can help.
    client = Client.open_with_credentials_provider(
        proxy.url, provider, connect_timeout=1.0, health_check_timeout=1.0
    )
    outcomes: list[object] = []
    with within(40, "the unanswered re-auth scenario"):
        async with client_block(client):
            con = await client.get_multiplexed_async_connection()
            assert await con.execute("PING") == b"PONG"
            proxy.freeze_existing()  # half-open: requests go out, no reply comes back

            async def caller(index: int) -> None:
                try:
                    outcomes.append(await con.execute("ECHO", str(index)))
                except Exception as exc:
                    outcomes.append(exc)

            with within(15, "callers in flight on the half-open socket got no reply or error"):
                async with anyio.create_task_group() as group:
                    for index in range(10):
                        group.start_soon(caller, index)
                    await anyio.sleep(0.1)  # (ordering only) the ECHOs go out first
                    provider.set_credentials(second)
            untyped = [item for item in outcomes if not isinstance(item, RedisError)]
            assert len(outcomes) == 10 and untyped == [], (
                f"every caller in flight must get a typed RedisError, got {untyped!r}"
            )
            with within(15, "the client never closed the half-open socket"):
                while proxy.client_closes < 1:  # noqa: ASYNC110 - proxy state, no event
                    await anyio.sleep(0.02)
            proxy.resume()
            with within(15, "a command after the half-open socket was given up"):
                whoami = await con.execute("ACL", "WHOAMI")
            assert whoami == second.username.encode()  # type: ignore[union-attr]


# -- 6. Refused re-auth, then a failed replacement -------------------------------------------


@pytest.mark.parametrize("replacement", ["credentials_refused", "proxy_refuses"])
async def test_6_replies_in_flight_are_delivered_when_reauth_and_replacement_fail(
    server: ServerProcess, proxy: FaultProxy, key_prefix: str, replacement: str
) -> None:
    identities = Identities(server)
    provider = ManualCredentialsProvider(identities.new())
    counter = key_prefix + "counter"
    client = Client.open_with_credentials_provider(
        proxy.url, provider, reconnect_attempts=1, reconnect_max_delay=0.2
    )
    ok = 0
    errors: list[RedisError] = []
    untyped: list[BaseException] = []
    with within(40, "the refused re-auth scenario"):
        async with client_block(client):
            con = await client.get_multiplexed_async_connection()
            proxy.delay = 0.05  # replies are in flight for a while
            stop = anyio.Event()

            async def worker() -> None:
                nonlocal ok
                while not stop.is_set():
                    try:
                        await con.execute("INCR", counter)
                    except RedisError as exc:
                        errors.append(exc)
                        await anyio.sleep(0.01)
                        continue
                    except Exception as exc:
                        untyped.append(exc)
                        return
                    ok += 1

            async with anyio.create_task_group() as group:
                for _ in range(50):
                    group.start_soon(worker)
                await wait_until(lambda: ok >= 100, limit=10)
                if replacement == "proxy_refuses":
                    proxy.reject_new = "at_once"
                unknown = Credentials(f"{identities.prefix}-unknown", secrets.token_urlsafe(12))
                provider.set_credentials(unknown)  # AUTH refused, and so is its replacement
                await wait_until(lambda: proxy.connections >= 2, limit=10)
                await anyio.sleep(0.5)  # workers meet the failed session for a while
                stop.set()
    counted = int(server.command("GET", counter))  # type: ignore[call-overload]
    assert untyped == [], f"errors that are not RedisError: {untyped!r}"
    assert errors, "the failed replacement reached no caller: the scenario did not happen"
    assert ok == counted, (
        f"the server ran INCR {counted} times but {ok} callers got their reply: "
        f"{counted - ok} replies already in flight were reported failed "
        f"(first error: {errors[0]!r})"
    )


# -- 8. Failed connects leak nothing ---------------------------------------------------------


@pytest.mark.parametrize("how", ["credentials_refused", "nothing_listening"])
async def test_8_failed_connects_leave_no_task_and_no_subscription(
    server: ServerProcess, how: str
) -> None:
    unknown = Credentials(f"nobody-{secrets.token_hex(3)}", secrets.token_urlsafe(12))
    provider = ManualCredentialsProvider(unknown)
    url = server.url if how == "credentials_refused" else f"redis://127.0.0.1:{free_port()}"
    client = Client.open_with_credentials_provider(
        url, provider, reconnect_attempts=1, connect_timeout=5.0
    )

    async def fail_once() -> None:
        try:
            await client.get_multiplexed_async_connection()
        except RedisError:
            return
        pytest.fail("connected although the connection cannot be made")

    with within(60, "200 failed connects"):
        async with client_block(client):
            subscribers = provider.subscriber_count
            await fail_once()  # whatever a client makes once (and keeps) is made now
            tasks = len(anyio.get_running_tasks())
            ours = library_tasks()
            for _ in range(200):
                await fail_once()
            with anyio.move_on_after(5):  # cleanup may take a few scheduling rounds
                while (  # noqa: ASYNC110 - library state, no event
                    len(anyio.get_running_tasks()) > tasks
                    or provider.subscriber_count > subscribers
                ):
                    await anyio.sleep(0.02)
            tasks_after = len(anyio.get_running_tasks())
            ours_after = library_tasks()
            subscribers_after = provider.subscriber_count
    assert tasks_after <= tasks, (
        f"200 failed connects left {tasks_after - tasks} more tasks running "
        f"(library tasks {len(ours)} -> {len(ours_after)}: {sorted(set(ours_after))[:5]})"
    )
    assert subscribers_after == subscribers, (
        f"200 failed connects left {subscribers_after - subscribers} provider subscriptions"
    )


# -- 11. Refused MULTI -----------------------------------------------------------------------


@pytest.mark.parametrize("protocol", [3, 2], ids=["resp3", "resp2"])
async def test_11_refused_multi_raises_and_runs_nothing(
    server: ServerProcess, key_prefix: str, protocol: int
) -> None:
    username, password = f"nomulti-{secrets.token_hex(3)}", secrets.token_urlsafe(12)
    server.add_user(username, password, "~*", "&*", "+@all", "-multi")
    provider = ManualCredentialsProvider(Credentials(username, password))
    counter = key_prefix + "counter"
    server.command("SET", counter, 10)
    raised: BaseException | None = None
    client = Client.open_with_credentials_provider(server.url, provider, protocol=protocol)
    with within(20, "a transaction whose MULTI is refused"):
        async with client_block(client):
            con = await client.get_multiplexed_async_connection()
            pipe = con.pipeline(transaction=True)
            pipe.execute_command("INCR", counter)
            pipe.execute_command("INCR", counter)
            try:
                await pipe.execute()
            except Exception as exc:
                raised = exc
            assert await con.execute("PING") == b"PONG"  # the connection goes on
    value = server.command("GET", counter)
    server.delete_user(username)
    assert value == b"10", (
        f"MULTI was refused but the transaction's commands ran (counter {value!r}, was 10); "
        f"the caller was told: {raised!r}"
    )
    assert isinstance(raised, ResponseError) and "NOPERM" in str(raised), (
        f"the refused MULTI must raise its NOPERM error, got {raised!r}"
    )


# -- 15. Blocking waits with short-lived tokens ----------------------------------------------


@pytest.mark.slow
async def test_15_endless_blpop_outlives_short_lived_tokens_while_ping_answers(
    server: ServerProcess, key_prefix: str
) -> None:
    # Tokens live 6 s and are refreshed at half their life; each one's ACL user is deleted at
    # expiry, so a blocking connection still logged in with it is dropped by the server.
    provider = ExpiringTokens(server, lifetime=6.0, refresh_before_expiry=3.0)
    key = key_prefix + "queue"
    popped: list[object] = []
    ping_failures: list[BaseException] = []
    pings = 0
    async with anyio.create_task_group() as rig:
        rig.start_soon(provider.expire_tokens)
        client = Client.open_with_credentials_provider(server.url, provider)
        with within(60, "BLPOP 0 through token rotations"):
            async with client_block(client):
                con = await client.get_multiplexed_async_connection()
                popped_event = anyio.Event()

                async def wait_for_element() -> None:
                    try:
                        popped.append(await con.execute("BLPOP", key, 0))
                    except Exception as exc:
                        popped.append(exc)
                    popped_event.set()

                async def ping() -> None:
                    nonlocal pings
                    while not popped_event.is_set():
                        try:
                            await con.execute("PING")
                        except Exception as exc:
                            ping_failures.append(exc)
                        pings += 1
                        await anyio.sleep(0.5)

                async with anyio.create_task_group() as group:
                    group.start_soon(wait_for_element)
                    group.start_soon(ping)
                    await anyio.sleep(13)
                    issued_at_push, deleted_at_push = len(provider.issued), len(provider.deleted)
                    assert not popped_event.is_set(), f"BLPOP 0 returned early: {popped!r}"
                    server.command("RPUSH", key, "element")  # from another connection
                    with within(15, "BLPOP did not return the element pushed"):
                        await popped_event.wait()
        rig.cancel_scope.cancel()
    assert issued_at_push >= 3 and deleted_at_push >= 2, (
        f"the wait saw {issued_at_push - 1} rotations and {deleted_at_push} expired users"
    )
    assert popped == [[key.encode(), b"element"]], f"BLPOP 0 gave {popped!r}"
    assert ping_failures == [], f"{len(ping_failures)} PINGs failed: {ping_failures[:3]!r}"
    assert pings >= 20
