"""The pub/sub room: subscribers that stay authenticated across token rotations."""

from ._state import Message, PubSubStats
from ._subscriber import DEFAULT_BUFFER, PubSub

__all__ = ["DEFAULT_BUFFER", "Message", "PubSub", "PubSubStats"]
