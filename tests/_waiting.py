"""Waiting for a condition that a background task makes true (a test-only poll)."""

from __future__ import annotations

from collections.abc import Callable

import anyio


async def wait_until(condition: Callable[[], bool], limit: float = 5.0) -> None:
    """Return once `condition()` holds; fail the test (TimeoutError) after `limit` seconds."""
    with anyio.fail_after(limit):
        while not condition():  # noqa: ASYNC110 - the state lives in library objects, no event
            await anyio.sleep(0.01)


def library_tasks() -> list[str]:
    """Names of the running tasks that belong to anyredis_auth (a test's own tasks excluded)."""
    return [task.name for task in anyio.get_running_tasks() if "anyredis_auth" in task.name]
