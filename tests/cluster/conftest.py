"""The cluster tests' fixtures (`cluster`, `own_cluster`) live in tests/conftest.py, shared with
the typed-command tests so the session starts one cluster of each kind; the helpers are in
tests/_clusters.py and re-exported here."""

from __future__ import annotations

from tests._clusters import CLUSTER_KINDS, RecordingCluster, cluster_binary_or_skip

__all__ = ["CLUSTER_KINDS", "RecordingCluster", "cluster_binary_or_skip"]
