"""How the typed commands look to a type checker: checked by `mypy --strict` in
tests/typing/test_types.py (never run). Each `assert_type` is a claim a user's editor relies on."""

from __future__ import annotations

from typing import Any

from typing_extensions import assert_type

from anyredis_auth import ClusterConnection, ClusterPipeline, MultiplexedConnection, Pipeline


async def connection(con: MultiplexedConnection) -> None:
    assert_type(await con.get("k"), Any)
    assert_type(await con.set("k", 1, ex=10, nx=True), bool | None)
    assert_type(await con.incr("k"), int)
    assert_type(await con.exists("a", "b"), int)
    assert_type(await con.expire("k", 10, nx=True), bool)
    assert_type(await con.hgetall("h"), dict[Any, Any])
    assert_type(await con.zscore("z", "m"), float | None)
    assert_type(await con.zrange("z", 0, -1), list[Any])
    assert_type(await con.zrange("z", 0, -1, withscores=True), list[tuple[Any, float]])
    assert_type(await con.smembers("s"), set[Any])
    assert_type(await con.ping(), bool)
    async for key in con.scan_iter(match="user:*", _type="string"):
        assert_type(key, Any)
    con.register_script("return 1")


async def pipeline(pipe: Pipeline, cluster_pipe: ClusterPipeline) -> None:
    assert_type(pipe.set("k", 1).incr("k").zrange("z", 0, -1, withscores=True), Pipeline)
    assert_type(cluster_pipe.get("k").hset("h", mapping={"a": 1}), ClusterPipeline)
    assert_type(await pipe.execute(), list[object])


async def cluster(con: ClusterConnection) -> None:
    assert_type(await con.incrby("k", 2), int)
    assert_type(await con.mget(["a", "b"]), list[Any])


async def mistakes(con: MultiplexedConnection, pipe: Pipeline) -> None:
    # Each line below must be an error (the test counts them: keep EXPECTED_ERRORS in step).
    await con.incr("k", amount="1")  # E: a str amount
    await con.set("k", 1, nx="yes")  # E: a str flag
    await con.zadd("z", mapping=[1, 2])  # E: not a mapping
    pipe.get()  # E: a missing key
    await con.no_such_command("k")  # E: no such method
