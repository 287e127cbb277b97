"""The multiplexed connection and the client against real Redis and Valkey servers."""

from __future__ import annotations

import anyio
import pytest

from anyredis_auth import (
    AuthenticationError,
    Client,
    ConnectionClosedError,
    ExecAbortError,
    MultiplexedConnection,
    RedisConnectionError,
    RedisError,
    RedisTimeoutError,
    ResponseError,
)
from anyredis_auth.protocol import Push
from tests._servers import ServerProcess

pytestmark = pytest.mark.anyio


@pytest.fixture(params=[3, 2], ids=["resp3", "resp2"])
def protocol(request: pytest.FixtureRequest) -> int:
    return int(request.param)


async def test_set_get_and_error_reply(
    server: ServerProcess, protocol: int, key_prefix: str
) -> None:
    async with Client.from_url(server.url, protocol=protocol) as client:
        con = await client.get_multiplexed_async_connection()
        assert await con.execute("SET", key_prefix + "k", 42) == b"OK"
        assert await con.execute("GET", key_prefix + "k") == b"42"
        assert await con.execute("GET", key_prefix + "missing") is None
        with pytest.raises(ResponseError) as caught:
            await con.execute("INCR", key_prefix + "k", "extra")
        assert caught.value.code == "ERR"
        # The error reply consumed its own slot: the next reply is the next command's.
        assert await con.execute("ECHO", "after") == b"after"
        hello = await con.execute("CLIENT", "INFO")
        assert f"resp={protocol}".encode() in hello


async def test_many_tasks_get_their_own_replies(server: ServerProcess, key_prefix: str) -> None:
    results: dict[int, object] = {}
    async with Client.from_url(server.url) as client:
        con = await client.get_multiplexed_async_connection()

        async def worker(index: int) -> None:
            key = f"{key_prefix}{index}"
            for round_ in range(20):
                await con.execute("SET", key, f"{index}:{round_}")
                results[index] = await con.execute("GET", key)

        async with anyio.create_task_group() as group:
            for index in range(200):
                group.start_soon(worker, index)
    assert results == {index: f"{index}:19".encode() for index in range(200)}


async def test_typed_commands(server: ServerProcess, protocol: int, key_prefix: str) -> None:
    k = key_prefix
    async with Client.from_url(server.url, protocol=protocol) as client:
        con = await client.get_multiplexed_async_connection()
        assert await con.set(k + "s", "v", ex=100) is True
        assert await con.set(k + "s", "w", nx=True) is None
        assert await con.get(k + "s") == b"v"
        assert 0 < await con.ttl(k + "s") <= 100
        assert await con.incr(k + "n") == 1
        assert await con.incr(k + "n", 5) == 6
        assert await con.hset(k + "h", mapping={"a": 1, "b": "x"}) == 2
        assert await con.hgetall(k + "h") == {b"a": b"1", b"b": b"x"}
        assert await con.rpush(k + "l", "a", "b", "c") == 3
        assert await con.lrange(k + "l", 0, -1) == [b"a", b"b", b"c"]
        assert await con.sadd(k + "set", "a", "b") == 2
        assert await con.smembers(k + "set") == {b"a", b"b"}
        assert await con.zadd(k + "z", {"a": 1.5, "b": 2}) == 2
        assert await con.zscore(k + "z", "a") == 1.5
        assert await con.zrange(k + "z", 0, -1, withscores=True) == [(b"a", 1.5), (b"b", 2.0)]
        assert await con.exists(k + "s", k + "nope") == 1
        assert await con.delete(k + "s") == 1
        info = await con.info("server")
        assert "redis_version" in info
        keys = {key async for key in con.scan_iter(match=k + "*", count=5)}
        assert keys == {(k + name).encode() for name in ("n", "h", "l", "set", "z")}
        script = con.register_script("return redis.call('INCRBY', KEYS[1], ARGV[1])")
        await con.execute("SCRIPT", "FLUSH")
        assert await script([k + "n"], [10]) == 16  # NOSCRIPT, then EVAL
        assert await script([k + "n"], [1]) == 17  # EVALSHA


async def test_pipeline_and_transaction(
    server: ServerProcess, protocol: int, key_prefix: str
) -> None:
    k = key_prefix
    async with Client.from_url(server.url, protocol=protocol) as client:
        con = await client.get_multiplexed_async_connection()
        pipe = con.pipeline()
        for index in range(100):
            pipe.execute_command("SET", f"{k}{index}", index)
        pipe.execute_command("GET", f"{k}7")
        replies = await pipe.execute()
        assert replies == [b"OK"] * 100 + [b"7"]
        assert len(pipe) == 0

        tx = con.pipeline(transaction=True)
        tx.execute_command("INCR", k + "c").execute_command("INCR", k + "c")
        assert await tx.execute() == [1, 2]

        # A runtime error inside EXEC is reported in place or raised, as asked.
        tx.execute_command("SET", k + "str", "x").execute_command("INCR", k + "str")
        with pytest.raises(ResponseError, match="command #1 \\(INCR\\)"):
            await tx.execute()
        tx.execute_command("SET", k + "str", "x").execute_command("INCR", k + "str")
        ok, error = await tx.execute(raise_on_error=False)
        assert ok == b"OK" and isinstance(error, ResponseError)

        # A command refused at queue time aborts the whole transaction.
        tx.execute_command("SET", k + "a", 1).execute_command("SET", k + "only-key")
        with pytest.raises(ExecAbortError, match="command #1 \\(SET\\) was refused"):
            await tx.execute()
        assert await con.execute("EXISTS", k + "a") == 0
        assert await con.execute("PING") in (b"PONG", "PONG")


async def test_refused_commands_name_the_reason(server: ServerProcess) -> None:
    async with Client.from_url(server.url) as client:
        con = await client.get_multiplexed_async_connection()
        for command in (
            ("SUBSCRIBE", "x"),
            ("select", "1"),
            (b"MULTI",),
            ("CLIENT", "REPLY", "OFF"),
        ):
            with pytest.raises(ValueError, match="not allowed"):
                await con.execute(*command)
        with pytest.raises(ValueError, match="pipeline"):
            con.pipeline().execute_command("BLPOP", "x", 0)
        with pytest.raises(TypeError, match="argument 2"):
            await con.execute("SET", None, 1)  # type: ignore[arg-type]
        assert await con.execute("PING") == b"PONG"


async def test_blocking_command_does_not_stall_others(
    server: ServerProcess, key_prefix: str
) -> None:
    key = key_prefix + "queue"
    async with Client.from_url(server.url) as client:
        con = await client.get_multiplexed_async_connection()
        popped: list[object] = []

        async def pop() -> None:
            popped.append(await con.blpop([key], timeout=5))

        async with anyio.create_task_group() as group:
            group.start_soon(pop)
            # While BLPOP blocks on its own connection, the shared one answers at once.
            with anyio.fail_after(2):
                for index in range(50):
                    assert await con.execute("ECHO", index) == str(index).encode()
            await con.execute("RPUSH", key, "item")
        assert popped == [(key.encode(), b"item")]

        # A cancelled block closes its dedicated connection, so nothing is popped later by it.
        with anyio.move_on_after(0.2):
            await con.execute("BLPOP", key, 0)
        await anyio.sleep(0.1)  # the server notices the closed socket
        assert b"cmd=blpop" not in server.command("CLIENT", "LIST")  # type: ignore[operator]
        await con.execute("RPUSH", key, "kept")
        await anyio.sleep(0.1)
        assert await con.execute("LRANGE", key, 0, -1) == [b"kept"]


async def test_timeout_and_cancellation_never_shift_replies(
    server: ServerProcess, key_prefix: str
) -> None:
    async with Client.from_url(server.url, command_timeout=0.2) as client:
        con = await client.get_multiplexed_async_connection()
        await con.execute("SET", key_prefix + "a", "A")
        await con.execute("SET", key_prefix + "b", "B")
        server.command("CLIENT", "PAUSE", 600, "WRITE")
        with pytest.raises(RedisTimeoutError, match="SET got no reply"):
            await con.execute("SET", key_prefix + "a", "late")
        with anyio.move_on_after(0.05):
            await con.execute("SET", key_prefix + "b", "cancelled")
        await anyio.sleep(0.6)
        # The two abandoned replies are read and dropped; these get their own.
        assert await con.execute("GET", key_prefix + "a") == b"late"
        assert await con.execute("GET", key_prefix + "b") == b"cancelled"
        assert await con.execute("ECHO", "x") == b"x"


async def test_leaving_the_client_fails_pending_callers_and_ends_every_task(
    server: ServerProcess, key_prefix: str
) -> None:
    before = {task.id for task in anyio.get_running_tasks()}
    errors: list[BaseException] = []
    client = Client.from_url(server.url)

    async def blocked(con: MultiplexedConnection, *command: str) -> None:
        try:
            await con.execute(*command)
        except ConnectionClosedError as exc:
            errors.append(exc)

    # The callers live outside the client.
    async with anyio.create_task_group() as callers, client:
        con = await client.get_multiplexed_async_connection()
        await con.execute("PING")
        callers.start_soon(blocked, con, "BLPOP", key_prefix + "never", "0")
        await anyio.sleep(0.1)
        server.command("CLIENT", "PAUSE", 500, "ALL")
        callers.start_soon(blocked, con, "PING")
        await anyio.sleep(0.1)
        ours = {task.id for task in anyio.get_running_tasks()} - before
        assert len(ours) >= 2 + 4  # two callers; writer and reader of two connections
    assert len(errors) == 2, errors
    assert {task.id for task in anyio.get_running_tasks()} - before == set()
    with pytest.raises(ConnectionClosedError):
        await con.execute("PING")
    with pytest.raises(ConnectionClosedError, match="async with client"):
        await client.get_multiplexed_async_connection()
    await anyio.sleep(0.5)  # let the pause end before the next test uses the shared server


async def test_server_death_fails_in_flight_callers_then_reconnects(
    own_server: ServerProcess, key_prefix: str
) -> None:
    async with Client.from_url(own_server.url, reconnect_attempts=2) as client:
        con = await client.get_multiplexed_async_connection()
        await con.execute("SET", "k", "v")
        outcomes: list[object] = []

        async def call() -> None:
            try:
                outcomes.append(await con.execute("BLPOP", "none", 0))
            except RedisConnectionError as exc:
                outcomes.append(exc)

        async def shared_call() -> None:
            try:
                outcomes.append(await con.execute("ECHO", "x"))
            except RedisConnectionError as exc:
                outcomes.append(exc)

        with anyio.fail_after(5):
            async with anyio.create_task_group() as group:
                group.start_soon(call)
                own_server.command("CLIENT", "PAUSE", 5000, "ALL")
                group.start_soon(shared_call)
                await anyio.sleep(0.2)
                own_server.kill()
        assert len(outcomes) == 2
        assert all(isinstance(outcome, RedisConnectionError) for outcome in outcomes)
        assert not con.is_connected

        with pytest.raises(RedisConnectionError, match="could not connect"):
            await con.execute("PING")
        own_server.start()
        with anyio.fail_after(10):
            assert await con.execute("PING") == b"PONG"
        assert await con.execute("GET", "k") is None  # a new server: no data, but a new session


async def test_acl_user_db_and_client_name(server: ServerProcess, protocol: int) -> None:
    server.add_user("alice", "s3cret-pass")
    url = server.url.replace("redis://", "redis://alice:s3cret-pass@") + "/3?client_name=app1"
    async with Client.from_url(url, protocol=protocol) as client:
        con = await client.get_multiplexed_async_connection()
        assert await con.execute("ACL", "WHOAMI") == b"alice"
        assert await con.execute("CLIENT", "GETNAME") == b"app1"
        await con.execute("SET", "in-db-3", "yes")
        assert await con.execute("CLIENT", "INFO") is not None
    assert server.command("GET", "in-db-3") is None
    server.command("DEL", "in-db-3")


async def test_wrong_password_is_an_authentication_error_without_the_secret(
    server: ServerProcess, protocol: int
) -> None:
    server.add_user("bob", "right-password")
    url = server.url.replace("redis://", "redis://bob:wrong-password@")
    async with Client.from_url(url, protocol=protocol) as client:
        with pytest.raises(AuthenticationError) as caught:
            await client.get_multiplexed_async_connection()
    text = f"{caught.value} {caught.value!r}"
    assert "bob" in text and "wrong-password" not in text
    assert "WRONGPASS" in text


async def test_tls_verified_by_default(server: ServerProcess, tls_files: object) -> None:
    from tests._servers import TLSFiles

    assert isinstance(tls_files, TLSFiles)
    if server.tls_port is None:
        pytest.skip(f"this {server.kind}-server is built without TLS")
    url = f"rediss://127.0.0.1:{server.tls_port}"
    async with Client.from_url(url, tls_ca_file=str(tls_files.ca_file)) as client:
        con = await client.get_multiplexed_async_connection()
        assert await con.execute("PING") == b"PONG"
    async with Client.from_url(f"rediss://localhost:{server.tls_port}") as client:
        with pytest.raises(RedisConnectionError):  # our test CA is not trusted by the system
            await client.get_multiplexed_async_connection()
    async with Client.from_url(url + "?ssl_cert_reqs=none") as client:
        con = await client.get_multiplexed_async_connection()
        assert await con.execute("PING") == b"PONG"


async def test_unix_socket_and_decoded_replies(server: ServerProcess) -> None:
    async with Client.from_url(f"unix://{server.unix_path}", decode_responses=True) as client:
        con = await client.get_multiplexed_async_connection()
        await con.execute("SET", "unix-key", "héllo")
        assert await con.execute("GET", "unix-key") == "héllo"
        await con.execute("SET", "unix-key", b"\xff\xfe")
        binary = await con.execute("GET", "unix-key")
        assert binary.encode("utf-8", "surrogateescape") == b"\xff\xfe"
        assert await con.execute("PING") == "PONG"


async def test_push_messages_are_routed_away_from_replies(
    server: ServerProcess, key_prefix: str
) -> None:
    key = key_prefix + "tracked"
    async with Client.from_url(server.url) as client:
        con = await client.get_multiplexed_async_connection()
        await con.execute("CLIENT", "TRACKING", "ON")
        await con.execute("SET", key, "1")
        assert await con.execute("GET", key) == b"1"
        server.command("SET", key, "2")  # invalidates the key we read: a push arrives
        async with con.push_messages as pushes:  # the caller closes the stream it took
            with anyio.fail_after(5):
                message = await pushes.receive()
        assert isinstance(message, Push)
        assert message[0] == b"invalidate" and message[1] == [key.encode()]
        assert await con.execute("GET", key) == b"2"


async def test_a_server_without_hello_never_echoes_the_password_into_errors(
    resp2_server: ServerProcess,
) -> None:
    secret = "hello-echo-secret-password-1"
    resp2_server.add_user("echo-user", secret)
    url = resp2_server.url.replace("redis://", f"redis://echo-user:{secret}@")
    async with Client.from_url(url) as client:  # protocol=3: HELLO 3 AUTH echo-user <secret>
        with pytest.raises(RedisError, match="does not know HELLO") as caught:
            await client.get_multiplexed_async_connection()
    assert secret not in f"{caught.value} {caught.value!r} {caught.value.__cause__}"
    async with Client.from_url(url, protocol=2) as client:
        con = await client.get_multiplexed_async_connection()
        assert await con.execute("ACL", "WHOAMI") == b"echo-user"
