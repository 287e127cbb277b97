"""`anyredis_auth.testing` as a user meets it: lazy imports, and examples that run.

* ``import anyredis_auth.testing`` needs neither hypothesis nor trustme: the strategies and the
  subpackages are imported on first use, and a missing optional dependency is named.
* The examples in the docstrings of `testing.servers`, `testing.tokens` and `testing.entra`, and
  the offline integration test of the README's "Testing your own code" section, are run as they
  are written, on both loops, against a real server.
"""

from __future__ import annotations

import re
import subprocess
import sys
import textwrap
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

import anyredis_auth.testing
from tests._servers import ServerProcess

README = Path(__file__).resolve().parent.parent / "README.md"


def _run(code: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        cwd=README.parent,
    )


def test_import_needs_no_hypothesis() -> None:
    result = _run(
        """
        import sys
        sys.modules["hypothesis"] = None  # `import hypothesis` now fails
        import anyredis_auth.testing as testing
        from anyredis_auth.testing import ManualCredentialsProvider
        assert testing.ManualCredentialsProvider is ManualCredentialsProvider
        ManualCredentialsProvider()
        for name in ("commands", "resp_values", "resp_streams", "chunkings", "argument_bytes",
                     "replies_equal"):
            try:
                getattr(testing, name)
            except ImportError as exc:
                assert "hypothesis" in str(exc) and exc.name == "hypothesis", exc
            else:
                raise AssertionError(f"{name} without hypothesis")
        try:
            from anyredis_auth.testing import commands
        except ImportError as exc:
            assert "hypothesis" in str(exc), exc
        else:
            raise AssertionError("from-import without hypothesis")
        # The subpackages that do not need it still work.
        from anyredis_auth.testing import servers, tokens
        assert servers.ServerProcess and tokens.LocalTokenIssuer
        print("ok")
        """
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "ok"


def test_import_loads_no_optional_dependency_nor_subpackage() -> None:
    result = _run(
        """
        import sys
        import anyredis_auth.testing
        optional = ("hypothesis", "trustme", "cryptography")
        parts = ("servers", "tokens", "entra", "_strategies")
        names = [*optional, *(f"anyredis_auth.testing.{part}" for part in parts)]
        loaded = sorted(name for name in names if name in sys.modules)
        print(loaded)
        """
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"


def test_entra_names_its_missing_dependencies() -> None:
    result = _run(
        """
        import sys
        sys.modules["trustme"] = None
        import anyredis_auth.testing as testing
        rig_class = testing.entra.IdentityRig  # trustme is needed to make a rig, not to import
        try:
            rig_class()
        except ImportError as exc:
            assert exc.name == "trustme", exc
        else:
            raise AssertionError("a rig without trustme")
        print("ok")
        """
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "ok"
    result = _run(
        """
        import sys
        sys.modules["cryptography"] = None
        import anyredis_auth.testing as testing
        try:
            testing.entra
        except ImportError as exc:
            assert "cryptography" in str(exc) and exc.name == "cryptography", exc
            print("ok")
        """
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "ok"


def test_lazy_names_resolve_and_are_listed() -> None:
    from anyredis_auth.testing import commands, entra, servers, tokens
    from anyredis_auth.testing._strategies import commands as original

    assert commands is original
    assert "ServerProcess" in servers.__all__ and "LocalTokenIssuer" in tokens.__all__
    assert entra.IdentityRig.__module__ == "anyredis_auth.testing.entra._rig"
    assert {"commands", "servers", "tokens", "entra"} <= set(dir(anyredis_auth.testing))
    with pytest.raises(AttributeError, match="no_such_name"):
        anyredis_auth.testing.no_such_name  # noqa: B018


# -- the documented examples, run as written ----------------------------------------------------


def _code_after_double_colon(module: ModuleType) -> str:
    """The literal block after the last ``::`` of the module's docstring."""
    doc = module.__doc__ or ""
    return textwrap.dedent(doc.rsplit("::\n", 1)[1])


def _readme_example() -> str:
    text = README.read_text()
    section = text.split("## Testing your own code", 1)[1].split("\n## ", 1)[0]
    blocks = re.findall(r"```python\n(.*?)```", section, flags=re.DOTALL)
    return str(max(blocks, key=len))  # the full offline integration test


def _define(code: str) -> dict[str, Any]:
    namespace: dict[str, Any] = {"__name__": "example"}
    exec(compile(code, "<example>", "exec"), namespace)
    return namespace


@pytest.fixture
def redis_server(own_server: ServerProcess) -> ServerProcess:
    return own_server


@pytest.mark.anyio
async def test_servers_example_runs(redis_server: ServerProcess) -> None:
    from anyredis_auth.testing import servers

    await _define(_code_after_double_colon(servers))["test_counter"](redis_server)


@pytest.mark.anyio
@pytest.mark.slow
async def test_tokens_example_runs(redis_server: ServerProcess) -> None:
    from anyredis_auth.testing import tokens

    example = _define(_code_after_double_colon(tokens))
    await example["test_counter_survives_rotations"](redis_server)


@pytest.mark.anyio
async def test_entra_example_runs(redis_server: ServerProcess) -> None:
    pytest.importorskip("azure.identity")
    from anyredis_auth.testing import entra

    await _define(_code_after_double_colon(entra))["test_login_with_entra"](redis_server)


@pytest.mark.anyio
@pytest.mark.slow
async def test_readme_example_runs(redis_server: ServerProcess) -> None:
    example = _define(_readme_example())
    tests = [value for name, value in example.items() if name.startswith("test_")]
    assert tests
    for test in tests:
        await test(redis_server)
