"""The cluster room: a Redis Cluster client on one session per node."""

from ..protocol._cluster_topology import ClusterNode
from ._client import ClusterClient
from ._connection import ClusterConnection, ClusterPipeline
from ._pubsub import ClusterPubSub

__all__ = [
    "ClusterClient",
    "ClusterConnection",
    "ClusterNode",
    "ClusterPipeline",
    "ClusterPubSub",
]
