"""Test helpers for code built on anyredis_auth (and for anyredis_auth's own tests).

Everything here runs offline, on the machine of the test: no cloud account, no network.

* `ManualCredentialsProvider`: a credentials provider the test drives by hand
  (``provider.set_credentials(...)``), to rotate credentials exactly when the test wants.
* Hypothesis strategies for RESP, to fuzz code that parses or produces replies:
  `resp_values`, `resp_streams`, `chunkings`, `commands`, `argument_bytes`, and
  `replies_equal` to compare replies (NaN included). They need ``hypothesis``, which is imported
  only when one of them is first used.
* `anyredis_auth.testing.servers`: start a local ``redis-server`` or ``valkey-server`` on a free
  port (with TLS, ACL users, kill and restart) for integration tests.
* `anyredis_auth.testing.cluster`: `LocalCluster`, a local Redis Cluster of such processes
  (primaries, replicas, ACL users on every node, slot migrations, failovers).
* `anyredis_auth.testing.tokens`: `LocalTokenIssuer`, short-lived tokens enforced by such a
  server, to test that your code keeps working across token rotations.
* `anyredis_auth.testing.entra`: an offline Microsoft Entra ID authority and managed identity
  endpoints (needs ``trustme`` and ``cryptography``), to run the real ``azure-identity``
  credentials against it.

The subpackages are imported on first use (``anyredis_auth.testing.servers`` or
``from anyredis_auth.testing import servers``); importing this package needs neither
``hypothesis`` nor ``trustme``.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from ._provider import ManualCredentialsProvider

if TYPE_CHECKING:
    from . import cluster as cluster
    from . import entra as entra
    from . import servers as servers
    from . import tokens as tokens
    from ._strategies import (
        argument_bytes,
        chunkings,
        commands,
        replies_equal,
        resp_streams,
        resp_values,
    )

__all__ = [
    "ManualCredentialsProvider",
    "argument_bytes",
    "chunkings",
    "commands",
    "replies_equal",
    "resp_streams",
    "resp_values",
]

_STRATEGIES = frozenset(__all__) - {"ManualCredentialsProvider"}
#: The lazily imported subpackages and the optional packages each imports at once.
_SUBPACKAGES: dict[str, tuple[str, ...]] = {
    "servers": (),
    "cluster": (),
    "tokens": (),
    "entra": ("cryptography",),  # and trustme, when an IdentityRig is made
}


def __getattr__(name: str) -> Any:
    """Import a strategy (and hypothesis) or a subpackage on first use."""
    if name in _STRATEGIES:
        module = _import("._strategies", ("hypothesis",), f"anyredis_auth.testing.{name}")
        value = getattr(module, name)
        globals()[name] = value  # the next lookup does not come here
        return value
    if name in _SUBPACKAGES:
        return _import(f".{name}", _SUBPACKAGES[name], f"anyredis_auth.testing.{name}")
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | _STRATEGIES | set(_SUBPACKAGES))


def _import(module: str, needs: tuple[str, ...], what: str) -> Any:
    try:
        return importlib.import_module(module, __name__)
    except ImportError as exc:
        missing = (exc.name or "").partition(".")[0]
        if missing not in needs:
            raise
        raise ImportError(
            f"{what} needs {missing}, which is not installed: pip install {missing}",
            name=missing,
        ) from exc
