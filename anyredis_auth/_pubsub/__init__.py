"""The pub/sub room: subscribers that stay authenticated across token rotations."""

from ._subscriber import DEFAULT_BUFFER, Message, PubSub, PubSubStats

__all__ = ["DEFAULT_BUFFER", "Message", "PubSub", "PubSubStats"]
