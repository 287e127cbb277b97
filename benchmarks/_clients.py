"""The clients under test, behind one small interface (`Ops`), each opened for one measurement.

Ours runs on asyncio and trio with either parser; the peers (redis-py asyncio with hiredis,
coredis, valkey-glide) on asyncio only. A peer that is not installed is reported as missing
(`missing_peers`) and skipped by the suite.
"""

from __future__ import annotations

import importlib.util
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from functools import partial
from typing import Any, Protocol

from anyredis_auth import Client

__all__ = ["PEERS", "Ops", "missing_peers", "open_client"]


class Ops(Protocol):
    """What a workload may ask of a client (all on one logical client/connection)."""

    # Attributes, not methods: each client's own bound method (no adapter coroutine).
    get: Callable[[bytes], Awaitable[Any]]
    set: Callable[[bytes, bytes], Awaitable[Any]]

    async def pipeline_get(self, key: bytes, count: int) -> list[Any]: ...
    async def lrange(self, key: bytes, count: int) -> list[Any]: ...
    async def hgetall(self, key: bytes) -> dict[Any, Any]: ...
    async def command(self, *args: bytes | str | int) -> Any: ...


# -- ours ------------------------------------------------------------------------------------


class _Ours:
    def __init__(self, con: Any) -> None:
        self._con = con
        self._execute = con.execute
        # The client's own call, with no coroutine of the adapter around it (likewise for the
        # peers): the loop-floor fraction measures the client, not this module.
        self.get: Callable[[bytes], Awaitable[Any]] = partial(con.execute, "GET")
        self.set: Callable[[bytes, bytes], Awaitable[Any]] = partial(con.execute, "SET")

    async def pipeline_get(self, key: bytes, count: int) -> list[Any]:
        pipe = self._con.pipeline()
        for _ in range(count):
            pipe.execute_command("GET", key)
        return await pipe.execute()  # type: ignore[no-any-return]

    async def lrange(self, key: bytes, count: int) -> list[Any]:
        return await self._execute("LRANGE", key, 0, count - 1)  # type: ignore[no-any-return]

    async def hgetall(self, key: bytes) -> dict[Any, Any]:
        return await self._execute("HGETALL", key)  # type: ignore[no-any-return]

    async def command(self, *args: bytes | str | int) -> Any:
        return await self._execute(*args)


@asynccontextmanager
async def _ours(url: str, parser: str) -> AsyncIterator[Ops]:
    async with Client.from_url(url, parser=parser) as client:
        con = await client.get_multiplexed_async_connection()
        yield _Ours(con)


# -- redis-py ---------------------------------------------------------------------------------


class _RedisPy:
    def __init__(self, client: Any) -> None:
        self._client = client
        self.get: Callable[[bytes], Awaitable[Any]] = client.get
        self.set: Callable[[bytes, bytes], Awaitable[Any]] = client.set

    async def pipeline_get(self, key: bytes, count: int) -> list[Any]:
        async with self._client.pipeline(transaction=False) as pipe:
            for _ in range(count):
                pipe.get(key)
            return await pipe.execute()  # type: ignore[no-any-return]

    async def lrange(self, key: bytes, count: int) -> list[Any]:
        return await self._client.lrange(key, 0, count - 1)  # type: ignore[no-any-return]

    async def hgetall(self, key: bytes) -> dict[Any, Any]:
        return await self._client.hgetall(key)  # type: ignore[no-any-return]

    async def command(self, *args: bytes | str | int) -> Any:
        return await self._client.execute_command(*args)


@asynccontextmanager
async def _redis_py(url: str, pool_size: int) -> AsyncIterator[Ops]:
    import redis.asyncio as aioredis

    pool = aioredis.BlockingConnectionPool.from_url(url, max_connections=pool_size)
    client = aioredis.Redis(connection_pool=pool)
    try:
        yield _RedisPy(client)
    finally:
        await client.aclose()
        await pool.aclose()


# -- coredis ----------------------------------------------------------------------------------


class _Coredis:
    def __init__(self, client: Any) -> None:
        self._client = client
        self.get: Callable[[bytes], Awaitable[Any]] = client.get
        self.set: Callable[[bytes, bytes], Awaitable[Any]] = client.set

    async def pipeline_get(self, key: bytes, count: int) -> list[Any]:
        async with self._client.pipeline(transaction=False) as pipe:
            for _ in range(count):
                pipe.get(key)
        return list(pipe.results)

    async def lrange(self, key: bytes, count: int) -> list[Any]:
        return await self._client.lrange(key, 0, count - 1)  # type: ignore[no-any-return]

    async def hgetall(self, key: bytes) -> dict[Any, Any]:
        return await self._client.hgetall(key)  # type: ignore[no-any-return]

    async def command(self, *args: bytes | str | int) -> Any:
        return await self._client.execute_command(*args)


@asynccontextmanager
async def _coredis(host: str, port: int, pool_size: int) -> AsyncIterator[Ops]:
    import coredis

    client = coredis.Redis(host=host, port=port, max_connections=pool_size)
    async with client:
        yield _Coredis(client)


# -- valkey-glide -----------------------------------------------------------------------------


class _Glide:
    def __init__(self, client: Any) -> None:
        self._client = client
        self.get: Callable[[bytes], Awaitable[Any]] = client.get
        self.set: Callable[[bytes, bytes], Awaitable[Any]] = client.set

    async def pipeline_get(self, key: bytes, count: int) -> list[Any]:
        from glide import Batch

        batch = Batch(is_atomic=False)
        for _ in range(count):
            batch.get(key)
        return await self._client.exec(batch, raise_on_error=True)  # type: ignore[no-any-return]

    async def lrange(self, key: bytes, count: int) -> list[Any]:
        return await self._client.lrange(key, 0, count - 1)  # type: ignore[no-any-return]

    async def hgetall(self, key: bytes) -> dict[Any, Any]:
        return await self._client.hgetall(key)  # type: ignore[no-any-return]

    async def command(self, *args: bytes | str | int) -> Any:
        return await self._client.custom_command(
            [str(a) if isinstance(a, int) else a for a in args]
        )


@asynccontextmanager
async def _glide(host: str, port: int) -> AsyncIterator[Ops]:
    from glide import GlideClient, GlideClientConfiguration, Logger, NodeAddress
    from glide.logger import Level

    Logger.set_logger_config(Level.ERROR)  # its warnings go to stdout, into --json output

    # Its default limit of 1000 requests in flight would fail the 10k in-flight memory run.
    # Its default 250 ms request timeout would fail them while the server is paused.
    config = GlideClientConfiguration(
        [NodeAddress(host, port)], inflight_requests_limit=20_000, request_timeout=30_000
    )
    client = await GlideClient.create(config)
    try:
        yield _Glide(client)
    finally:
        await client.close()


# -- registry ---------------------------------------------------------------------------------

#: Peer name -> the module that must be importable for it to run.
PEERS = {"redis-py": "redis", "coredis": "coredis", "glide": "glide"}


def missing_peers() -> dict[str, str]:
    """Peer name -> why it is skipped, for the peers that are not installed."""
    missing = {}
    for name, module in PEERS.items():
        if importlib.util.find_spec(module) is None:
            missing[name] = f"not installed (pip install -e '.[bench]' or pip install {module})"
    if "redis-py" not in missing and importlib.util.find_spec("hiredis") is None:
        missing["redis-py"] = "hiredis is not installed (redis-py would use its slow parser)"
    return missing


def open_client(
    name: str, host: str, port: int, *, pool_size: int = 100
) -> AbstractAsyncContextManager[Ops]:
    """``ours[hiredis]``, ``ours[python]`` or a peer name -> an async context manager of Ops."""
    url = f"redis://{host}:{port}"
    factories: dict[str, Callable[[], AbstractAsyncContextManager[Ops]]] = {
        "ours[hiredis]": lambda: _ours(url, "hiredis"),
        "ours[python]": lambda: _ours(url, "python"),
        "redis-py": lambda: _redis_py(url, pool_size),
        "coredis": lambda: _coredis(host, port, pool_size),
        "glide": lambda: _glide(host, port),
    }
    return factories[name]()
