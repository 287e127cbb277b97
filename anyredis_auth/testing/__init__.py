"""Test helpers for code built on anyredis_auth (and for its own tests).

The RESP strategies need ``hypothesis`` (a test dependency, not a runtime one).
"""

from ._provider import ManualCredentialsProvider
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
