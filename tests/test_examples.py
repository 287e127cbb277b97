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
}


@pytest.mark.parametrize("backend", ["asyncio", "trio"])
@pytest.mark.parametrize("example", sorted(EXPECTED))
def test_example(server: ServerProcess, example: str, backend: str) -> None:
    server.add_user("example-user", "example-password")
    env = {**os.environ, "REDIS_USERNAME": "example-user", "REDIS_PASSWORD": "example-password"}
    result = subprocess.run(
        [sys.executable, str(EXAMPLES / example), "--url", server.url, "--backend", backend],
        capture_output=True, text=True, timeout=60, env=env, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert EXPECTED[example] in result.stdout
    assert "example-password" not in result.stdout + result.stderr


def test_every_example_is_tested() -> None:
    assert {p.name for p in EXAMPLES.glob("*.py") if not p.name.startswith("_")} == set(EXPECTED)
