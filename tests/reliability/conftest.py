"""Fixtures of the reliability scenarios: the Azure-like front and its token mint.

Durations scale with ANYREDIS_RELIABILITY_SCALE (default 1: a few seconds each, for CI);
`ANYREDIS_RELIABILITY_SCALE=20 pytest -m reliability` runs them twenty times longer.
Each scenario appends its figures to $ANYREDIS_RELIABILITY_REPORT when that is set.
"""

from __future__ import annotations

import contextlib
import json
import os
import ssl
from collections.abc import AsyncIterator

import anyio
import pytest

from tests._azure_front import AzureFront
from tests._servers import ServerProcess, TLSFiles
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


@contextlib.asynccontextmanager
async def running_front(
    server: ServerProcess, mint: TokenMint, tls_files: TLSFiles | None = None
) -> AsyncIterator[AzureFront]:
    """An Azure-like front before `server` (terminating TLS when `tls_files` are given)."""
    context = None
    if tls_files is not None:
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(tls_files.cert_file, tls_files.key_file)
    front = AzureFront(server, mint.verify, tls=context)
    front.ca_file = str(tls_files.ca_file) if tls_files is not None else None
    async with anyio.create_task_group() as group:
        await group.start(front.run)
        yield front
        front.resume()
        group.cancel_scope.cancel()


@pytest.fixture
async def front(server: ServerProcess, mint: TokenMint) -> AsyncIterator[AzureFront]:
    async with running_front(server, mint) as front:
        yield front


@pytest.fixture(params=["tcp", "tls"])
async def any_front(
    request: pytest.FixtureRequest, server: ServerProcess, mint: TokenMint, tls_files: TLSFiles
) -> AsyncIterator[AzureFront]:
    """The front over plain TCP, and terminating TLS as Azure's endpoints do."""
    async with running_front(server, mint, tls_files if request.param == "tls" else None) as front:
        yield front


@pytest.fixture
async def own_front(own_server: ServerProcess, mint: TokenMint) -> AsyncIterator[AzureFront]:
    async with running_front(own_server, mint) as front:
        yield front
