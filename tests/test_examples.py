"""Every example runs against a real server, under asyncio and trio."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests._servers import ServerProcess

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"

EXPECTED = {
    "quickstart.py": "GET my_key -> b'42'",
    "many_tasks.py": "450 of 450 tasks got their own reply",
    "pipeline_and_transaction.py": "aborted as expected: transaction aborted",
    "static_credentials.py": "logged in as b'example-user'",
    "graceful_shutdown.py": "the connection is closed with the client",
    "trio_app.py": "trio: 4950",
    "asyncio_app.py": "asyncio: 4950",
}
#: Run against the offline identity rig by tests/entra/test_examples_entra.py.
ENTRA_EXAMPLES = {
    "entra_client_secret.py",
    "entra_certificate.py",
    "entra_managed_identity.py",
    "entra_developer_tools.py",
    "custom_token_credential.py",
    "entra_default_credential.py",
}
#: Run against a local Redis Cluster and the identity rig by tests/cluster/test_cli_cluster.py.
CLUSTER_EXAMPLES = {"azure_managed_redis_cluster.py"}


@pytest.mark.parametrize("backend", ["asyncio", "trio"])
@pytest.mark.parametrize("example", sorted(EXPECTED))
def test_example(server: ServerProcess, example: str, backend: str) -> None:
    server.add_user("example-user", "example-password")
    env = {**os.environ, "REDIS_USERNAME": "example-user", "REDIS_PASSWORD": "example-password"}
    options = ["--backend", backend] if example not in ("trio_app.py", "asyncio_app.py") else []
    result = subprocess.run(
        [sys.executable, str(EXAMPLES / example), "--url", server.url, *options],
        capture_output=True, text=True, timeout=60, env=env, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert EXPECTED[example] in result.stdout
    assert "example-password" not in result.stdout + result.stderr


def test_every_example_is_tested() -> None:
    examples = {p.name for p in EXAMPLES.glob("*.py") if not p.name.startswith("_")}
    assert examples == set(EXPECTED) | ENTRA_EXAMPLES | CLUSTER_EXAMPLES | {"starlette_app.py"}


@pytest.mark.filterwarnings("ignore::DeprecationWarning")  # starlette's TestClient on httpx
@pytest.mark.parametrize("backend", ["asyncio", "trio"])
def test_starlette_app_shares_one_client(
    server: ServerProcess, backend: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from starlette.testclient import TestClient

    monkeypatch.setenv("REDIS_URL", server.url)
    monkeypatch.syspath_prepend(str(EXAMPLES))
    server.command("DEL", "example:hits:home")
    from starlette_app import app

    with TestClient(app, backend=backend) as client:  # runs the lifespan: one client
        counts = [client.get("/hits/home").json()["hits"] for _ in range(5)]
        connection = app.state.redis
    assert counts == [1, 2, 3, 4, 5]
    assert connection.stats.connects == 1
    assert not connection.is_connected  # the lifespan ended: so did the client
