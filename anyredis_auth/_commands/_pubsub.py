"""Publishing: PUBLISH, SPUBLISH and the PUBSUB introspection commands.

Subscribing changes a connection's reply stream, so a shared connection refuses it: subscribe
with ``client.pubsub()`` (or ``cluster.pubsub()``).
"""

from __future__ import annotations

from typing import Any

from ._core import EncodableT, KeyT, Request, command

__all__ = ["LEFT_TO_EXECUTE", "PublishCommands"]

_SUBSCRIBER = (
    "refused on a shared connection (it changes the reply stream): "
    "use client.pubsub() / cluster.pubsub()"
)
#: Pub/sub commands without a method, and why.
LEFT_TO_EXECUTE: dict[str, str] = {
    "SUBSCRIBE": _SUBSCRIBER,
    "PSUBSCRIBE": _SUBSCRIBER,
    "SSUBSCRIBE": _SUBSCRIBER,
    "UNSUBSCRIBE": _SUBSCRIBER,
    "PUNSUBSCRIBE": _SUBSCRIBER,
    "SUNSUBSCRIBE": _SUBSCRIBER,
}


def _numsub(reply: Any) -> list[tuple[Any, int]]:
    # RESP2 sends a flat [channel, count, ...] array; a RESP3 server may send a map.
    if isinstance(reply, dict):
        return [(channel, int(count)) for channel, count in reply.items()]
    return list(zip(reply[::2], reply[1::2], strict=True))


def _publish(channel: KeyT, message: EncodableT) -> Request[int]:
    """PUBLISH `message` on `channel`: the number of subscribers that received it."""
    return ("PUBLISH", channel, message), None


def _spublish(shard_channel: KeyT, message: EncodableT) -> Request[int]:
    """SPUBLISH `message` on a shard channel: the number of subscribers that received it."""
    return ("SPUBLISH", shard_channel, message), None


def _pubsub_channels(pattern: KeyT = "*") -> Request[list[Any]]:
    """PUBSUB CHANNELS: the channels matching `pattern` that have subscribers."""
    return ("PUBSUB", "CHANNELS", pattern), None


def _pubsub_shardchannels(pattern: KeyT = "*") -> Request[list[Any]]:
    """PUBSUB SHARDCHANNELS: the shard channels matching `pattern` that have subscribers."""
    return ("PUBSUB", "SHARDCHANNELS", pattern), None


def _pubsub_numpat() -> Request[int]:
    """PUBSUB NUMPAT: the number of pattern subscriptions."""
    return ("PUBSUB", "NUMPAT"), None


def _pubsub_numsub(*args: KeyT) -> Request[list[tuple[Any, int]]]:
    """PUBSUB NUMSUB: ``(channel, subscribers)`` for each channel given."""
    return ("PUBSUB", "NUMSUB", *args), _numsub


def _pubsub_shardnumsub(*args: KeyT) -> Request[list[tuple[Any, int]]]:
    """PUBSUB SHARDNUMSUB: ``(shard channel, subscribers)`` for each one given."""
    return ("PUBSUB", "SHARDNUMSUB", *args), _numsub


class PublishCommands:
    """Publishing and pub/sub introspection (`command` descriptors)."""

    publish = command(_publish)
    spublish = command(_spublish)
    pubsub_channels = command(_pubsub_channels)
    pubsub_shardchannels = command(_pubsub_shardchannels)
    pubsub_numpat = command(_pubsub_numpat)
    pubsub_numsub = command(_pubsub_numsub)
    pubsub_shardnumsub = command(_pubsub_shardnumsub)
