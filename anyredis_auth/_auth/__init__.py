"""Credentials providers: the protocol, static and token-based providers, the refresh schedule.

The modules behind these names are private; `anyredis_auth` re-exports the public ones.
"""

from ._broadcast import CredentialsBroadcast
from ._config import RetryConfig, TokenRefreshConfig
from ._providers import StaticCredentialsProvider, StreamingCredentialsProvider
from ._refresher import AccessToken, RefreshStats, TokenCredentialsProvider
from ._schedule import backoff_delay, next_retry_delay, refresh_time, retry_delay

__all__ = [
    "AccessToken",
    "CredentialsBroadcast",
    "RefreshStats",
    "RetryConfig",
    "StaticCredentialsProvider",
    "StreamingCredentialsProvider",
    "TokenCredentialsProvider",
    "TokenRefreshConfig",
    "backoff_delay",
    "next_retry_delay",
    "refresh_time",
    "retry_delay",
]
