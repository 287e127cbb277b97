"""Waiting in tests: for a condition a background task makes true, for a bounded block, and
for a client block whose background tasks must never raise into its task group."""

from __future__ import annotations

import contextlib
import sys
from collections.abc import AsyncIterator, Callable, Iterator

import anyio
import pytest

from anyredis_auth import Client

if sys.version_info < (3, 11):
    from exceptiongroup import BaseExceptionGroup  # type: ignore[import-not-found,unused-ignore]


async def wait_until(condition: Callable[[], bool], limit: float = 5.0) -> None:
    """Return once `condition()` holds; fail the test (TimeoutError) after `limit` seconds."""
    with anyio.fail_after(limit):
        while not condition():  # noqa: ASYNC110 - the state lives in library objects, no event
            await anyio.sleep(0.01)


def library_tasks() -> list[str]:
    """Names of the running tasks that belong to anyredis_auth (a test's own tasks excluded)."""
    return [task.name for task in anyio.get_running_tasks() if "anyredis_auth" in task.name]


@contextlib.asynccontextmanager
async def client_block(client: Client) -> AsyncIterator[Client]:
    """``async with client:``, where an exception raised into the client's task group by a
    background task fails the test with a message saying so."""
    body_error: BaseException | None = None
    try:
        async with client:
            try:
                yield client
            except BaseException as exc:
                body_error = exc
                raise
    except BaseExceptionGroup as group:
        if group is body_error:
            raise
        pytest.fail(f"a background task raised into the client's task group: {group!r}")


@contextlib.contextmanager
def within(seconds: float, what: str) -> Iterator[None]:
    """Fail the test (with `what`) if the block takes longer than `seconds`: a hang fails."""
    with anyio.move_on_after(seconds) as scope:
        yield
    if scope.cancelled_caught:
        pytest.fail(f"{what}: not within {seconds:g} s")
