"""Fixtures of the reliability scenarios: the Azure-like front and its token mint.

Durations scale with ANYREDIS_RELIABILITY_SCALE (default 1: a few seconds each, for CI);
`ANYREDIS_RELIABILITY_SCALE=20 pytest -m reliability` runs them twenty times longer.
Each scenario appends its figures to $ANYREDIS_RELIABILITY_REPORT when that is set.
"""

from __future__ import annotations

import json
import os
from collections.abc import AsyncIterator

import anyio
import pytest

from tests._azure_front import AzureFront
from tests._servers import ServerProcess
from tests._tokens import TokenMint

SCALE = float(os.environ.get("ANYREDIS_RELIABILITY_SCALE", "1"))


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "tests/reliability/" in item.nodeid:
            item.add_marker(pytest.mark.reliability)


def report(scenario: str, **figures: object) -> None:
    """Record a scenario's figures (for the README's Reliability section)."""
    path = os.environ.get("ANYREDIS_RELIABILITY_REPORT")
    if path:
        with open(path, "a", encoding="utf-8") as file:
            file.write(json.dumps({"scenario": scenario, **figures}) + "\n")


@pytest.fixture
def mint() -> TokenMint:
    return TokenMint()


@pytest.fixture
async def front(server: ServerProcess, mint: TokenMint) -> AsyncIterator[AzureFront]:
    front = AzureFront(server, mint.verify)
    async with anyio.create_task_group() as group:
        await group.start(front.run)
        yield front
        front.resume()
        group.cancel_scope.cancel()
