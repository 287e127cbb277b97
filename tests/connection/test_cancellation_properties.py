"""Hypothesis drives random cancellations into a shared connection: no reply ever goes astray."""

from __future__ import annotations

import random

import anyio
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from anyredis_auth import Client, RedisTimeoutError
from tests._servers import ServerProcess

pytestmark = pytest.mark.anyio

TASKS = 100
ROUNDS = 100


@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    seed=st.integers(0, 2**32 - 1),
    cancel_fraction=st.sampled_from([0.0, 0.05, 0.2, 0.5]),
    max_cancel_delay=st.sampled_from([0.0, 0.0005, 0.002, 0.01]),
    use_timeout=st.booleans(),
    pipeline_every=st.sampled_from([0, 3, 7]),
)
async def test_random_cancellations_never_deliver_a_wrong_reply(
    server: ServerProcess,
    seed: int,
    cancel_fraction: float,
    max_cancel_delay: float,
    use_timeout: bool,
    pipeline_every: int,
) -> None:
    rng = random.Random(seed)
    completed = 0
    abandoned = 0
    wrong: list[tuple[object, object]] = []
    options = {"command_timeout": 0.002} if use_timeout else {}
    async with Client.from_url(server.url, **options) as client:
        con = await client.get_multiplexed_async_connection()

        async def one_call(token: str) -> None:
            nonlocal completed
            if pipeline_every and rng.random() < 1 / pipeline_every:
                pipe = con.pipeline()
                tokens = [f"{token}/{i}" for i in range(rng.randint(1, 5))]
                for item in tokens:
                    pipe.execute_command("ECHO", item)
                replies = await pipe.execute()
                expected: object = [item.encode() for item in tokens]
            else:
                replies = await con.execute("ECHO", token)
                expected = token.encode()
            if replies != expected:
                wrong.append((expected, replies))
            completed += 1

        async def worker(index: int) -> None:
            nonlocal abandoned
            for round_ in range(ROUNDS):
                token = f"{index}:{round_}:{rng.random()}"
                if rng.random() < cancel_fraction:
                    with anyio.move_on_after(rng.uniform(0, max_cancel_delay)) as scope:
                        try:
                            await one_call(token)
                        except RedisTimeoutError:
                            abandoned += 1
                    abandoned += scope.cancelled_caught
                else:
                    try:
                        await one_call(token)
                    except RedisTimeoutError:
                        abandoned += 1

        async with anyio.create_task_group() as group:
            for index in range(TASKS):
                group.start_soon(worker, index)
        # The connection still works, in order, after all of that (a 2 ms timeout may still
        # expire on a loaded machine: only a wrong reply would fail this).
        after: list[object] = []
        with anyio.fail_after(10):
            while len(after) < 3:
                try:
                    after.append(await con.execute("ECHO", str(len(after))))
                except RedisTimeoutError:
                    await anyio.sleep(0.01)
    assert wrong == []
    assert completed + abandoned >= TASKS * ROUNDS
    assert after == [b"0", b"1", b"2"]
