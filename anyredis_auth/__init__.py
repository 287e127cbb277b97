"""anyredis_auth: an async Redis client on anyio (asyncio and trio) whose connections stay
authenticated with short-lived Microsoft Entra ID tokens.

The public names live here; the modules behind them are private.
"""

from ._auth import (
    AccessToken,
    CredentialsBroadcast,
    RefreshStats,
    RetryConfig,
    StaticCredentialsProvider,
    StreamingCredentialsProvider,
    TokenCredentialsProvider,
    TokenRefreshConfig,
)
from ._client import Client
from ._cluster import (
    ClusterClient,
    ClusterConnection,
    ClusterNode,
    ClusterPipeline,
    ClusterPubSub,
)
from ._commands import Script
from ._connection._multiplexed import ConnectionStats, MultiplexedConnection
from ._connection._pipeline import Pipeline
from ._credentials import Credentials
from ._entra import (
    ClientCertificate,
    EntraIdCredentialsProvider,
    ManagedIdentityCredentialOptions,
    UserAssignedId,
)
from ._entra import new_transport as new_entra_transport
from ._errors import (
    AuthenticationError,
    ConnectionClosedError,
    ExecAbortError,
    ProtocolError,
    RedisConnectionError,
    RedisError,
    RedisTimeoutError,
    ResponseError,
    TokenRefreshError,
)
from ._options import ConnectionOptions
from ._pubsub import Message, PubSub, PubSubStats
from ._version import __version__

__all__ = [
    "AccessToken",
    "AuthenticationError",
    "Client",
    "ClientCertificate",
    "ClusterClient",
    "ClusterConnection",
    "ClusterNode",
    "ClusterPipeline",
    "ClusterPubSub",
    "ConnectionClosedError",
    "ConnectionOptions",
    "ConnectionStats",
    "Credentials",
    "CredentialsBroadcast",
    "EntraIdCredentialsProvider",
    "ExecAbortError",
    "ManagedIdentityCredentialOptions",
    "Message",
    "MultiplexedConnection",
    "Pipeline",
    "ProtocolError",
    "PubSub",
    "PubSubStats",
    "RedisConnectionError",
    "RedisError",
    "RedisTimeoutError",
    "RefreshStats",
    "ResponseError",
    "RetryConfig",
    "Script",
    "StaticCredentialsProvider",
    "StreamingCredentialsProvider",
    "TokenCredentialsProvider",
    "TokenRefreshConfig",
    "TokenRefreshError",
    "UserAssignedId",
    "__version__",
    "new_entra_transport",
]
