"""The pub/sub room: subscribers that stay authenticated across token rotations."""

from ._state import Message, PubSubStats
from ._subscriber import DEFAULT_BUFFER, SHARD_DROPPED, PubSub

__all__ = ["DEFAULT_BUFFER", "SHARD_DROPPED", "Message", "PubSub", "PubSubStats"]
