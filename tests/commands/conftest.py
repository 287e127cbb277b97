"""Fixtures of the typed-command tests: one server of their own, and the oracle's results."""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import pytest

from tests._servers import ServerProcess
from tests.commands._oracle import Call, Outcome, oracle_outcomes
from tests.conftest import _binary_or_skip


@pytest.fixture(scope="session")
def command_server() -> Iterator[ServerProcess]:
    """A Redis for the typed-command tests alone (they flush its databases 14 and 15)."""
    process = ServerProcess("redis", _binary_or_skip("redis")).start()
    try:
        yield process
    finally:
        process.close()


@pytest.fixture(params=[False, True], ids=["bytes", "decoded"])
def decode(request: pytest.FixtureRequest) -> bool:
    """``decode_responses``: both settings, in the oracle and in ours."""
    return bool(request.param)


@pytest.fixture(params=[2, 3], ids=["resp2", "resp3"])
def protocol(request: pytest.FixtureRequest) -> int:
    return int(request.param)


class Oracle:
    """redis-py's outcomes of each corpus, computed once per `decode` setting (synchronously,
    on an asyncio loop of its own, before the async test starts)."""

    def __init__(self, server: ServerProcess) -> None:
        self._server = server
        self._known: dict[tuple[str, bool], list[Outcome]] = {}

    def outcomes(self, name: str, corpus: Sequence[Call], decode: bool) -> list[Outcome]:
        if (name, decode) not in self._known:
            self._known[name, decode] = oracle_outcomes(self._server.url, corpus, decode)
        return self._known[name, decode]


@pytest.fixture(scope="session")
def oracle(command_server: ServerProcess) -> Oracle:
    return Oracle(command_server)


@pytest.fixture
def corpus(request: pytest.FixtureRequest) -> list[Call]:
    """The test module's `CORPUS`."""
    return list(request.module.CORPUS)


@pytest.fixture
def expected(request: pytest.FixtureRequest, oracle: Oracle, decode: bool) -> list[Outcome]:
    """redis-py's outcomes of the test module's `CORPUS`."""
    corpus: Sequence[Call] = request.module.CORPUS
    return oracle.outcomes(request.module.__name__, corpus, decode)
