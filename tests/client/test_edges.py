"""Edge 3 of issue 12: a cancelled ``Client.__aenter__`` (with a provider) leaves nothing behind.

The provider's refresher starts inside ``__aenter__``; when the caller is cancelled while it
starts, the client's task group must not stay entered on the caller's task: later awaits, new
cancel scopes and deadlines in that task behave as if the client had never been entered.
"""

from __future__ import annotations

import asyncio
import sys

import anyio
import anyio.abc
import anyio.lowlevel
import pytest
import sniffio

from anyredis_auth import Client, Credentials
from anyredis_auth.testing import ManualCredentialsProvider
from tests._servers import ServerProcess

pytestmark = pytest.mark.anyio


class NeverStarts(ManualCredentialsProvider):
    """A provider whose refresher never reports itself started (a token endpoint that hangs)."""

    def __init__(self, credentials: Credentials) -> None:
        super().__init__(credentials)
        self.entered = anyio.Event()

    async def run(
        self, *, task_status: anyio.abc.TaskStatus[None] = anyio.TASK_STATUS_IGNORED
    ) -> None:
        self.runs += 1
        self.entered.set()
        await anyio.sleep_forever()


async def _scope_problems(deadline_before: float) -> list[str]:
    """What is wrong with the current task's cancel scopes (empty: nothing)."""
    problems: list[str] = []
    deadline = anyio.current_effective_deadline()
    if deadline != deadline_before:
        problems.append(f"the task's deadline is {deadline!r}, was {deadline_before!r}")
    try:
        with anyio.fail_after(5):
            await anyio.lowlevel.checkpoint()
    except BaseException as exc:  # any exception here is the finding
        problems.append(f"a checkpoint raised {type(exc).__name__}: {exc!r}")
        return problems
    try:
        with anyio.move_on_after(0.05) as scope:
            await anyio.sleep(5)
        if not scope.cancelled_caught:
            problems.append("a new move_on_after(0.05) scope did not time out its sleep")
    except BaseException as exc:
        problems.append(f"a new move_on_after scope raised {type(exc).__name__}: {exc!r}")
    try:
        with anyio.move_on_after(5) as scope:
            await anyio.sleep(0.01)
        if scope.cancelled_caught:
            problems.append("a new move_on_after(5) scope was cancelled at once")
    except BaseException as exc:
        problems.append(f"a new move_on_after(5) scope raised {type(exc).__name__}: {exc!r}")
    if sys.version_info >= (3, 11) and sniffio.current_async_library() == "asyncio":
        task = asyncio.current_task()
        if task is not None and task.cancelling():
            problems.append(f"the asyncio task still counts {task.cancelling()} cancellation(s)")
    return problems


@pytest.mark.parametrize("how", ["deadline", "cancelled_by_another_task"])
async def test_cancelled_aenter_leaves_no_cancel_scope_on_the_caller(
    server: ServerProcess, how: str
) -> None:
    provider = NeverStarts(Credentials("nobody", "unused"))
    client = Client.open_with_credentials_provider(server.url, provider)
    problems: list[str] = []

    async def caller(*, task_status: anyio.abc.TaskStatus[anyio.CancelScope]) -> None:
        # The scenario runs in a task of its own: if it corrupts the task's scope stack, the
        # damage stays there and is reported, instead of breaking the test's own task.
        deadline_before = anyio.current_effective_deadline()  # the test's own fail_after
        try:
            with anyio.CancelScope() as outer:
                if how == "deadline":
                    outer.deadline = anyio.current_time() + 0.3
                task_status.started(outer)
                async with client:
                    problems.append("__aenter__ returned although the refresher never started")
            if not outer.cancelled_caught:
                problems.append("the cancellation of __aenter__ was not caught by its scope")
            problems.extend(await _scope_problems(deadline_before))
        except BaseException as exc:  # reported, the test fails on it
            problems.append(f"the caller's task raised {type(exc).__name__}: {exc!r}")

    try:
        with anyio.fail_after(20):
            async with anyio.create_task_group() as group:
                outer = await group.start(caller)
                await provider.entered.wait()  # __aenter__ waits for the refresher to start
                if how == "cancelled_by_another_task":
                    outer.cancel()
    except BaseException as exc:  # the scope stack broke beyond the caller's task
        problems.append(f"the caller's task group raised {type(exc).__name__}: {exc!r}")
    assert provider.runs == 1
    assert problems == [], "after a cancelled Client.__aenter__: " + "; ".join(problems)


async def test_client_entered_after_a_cancelled_aenter_works(server: ServerProcess) -> None:
    """The same task can open a client normally after the cancelled attempt."""
    provider = NeverStarts(Credentials("nobody", "unused"))
    try:
        with anyio.fail_after(20):
            with anyio.move_on_after(0.3) as scope:
                async with Client.open_with_credentials_provider(server.url, provider):
                    pytest.fail("__aenter__ returned although the refresher never started")
            assert scope.cancelled_caught
            async with Client.from_url(server.url) as client:
                con = await client.get_multiplexed_async_connection()
                reply = await con.execute("PING")
    except RuntimeError as exc:  # anyio's or trio's report of a corrupted cancel scope stack
        pytest.fail(f"a cancel scope was left entered by the cancelled __aenter__: {exc!r}")
    assert reply == b"PONG"
