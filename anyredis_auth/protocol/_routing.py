"""Which commands a shared (multiplexed) connection runs, diverts or refuses.

A shared connection must keep one reply per command in FIFO order. Commands that break that rule
(subscriptions, MONITOR, CLIENT REPLY) or change the session for every sharer (SELECT, AUTH,
HELLO, RESET, MULTI/WATCH) are refused with advice; blocking commands run on a dedicated
connection so they never stall the other callers.
"""

from __future__ import annotations

__all__ = ["BLOCKING", "classify", "command_name"]

BLOCKING = "blocking"

_PUBSUB = "subscriptions change the connection's reply stream: use client.pubsub()"
_TX = "a shared connection cannot hold a transaction open: use pipeline(transaction=True)"
_REFUSED = {
    "SUBSCRIBE": _PUBSUB,
    "PSUBSCRIBE": _PUBSUB,
    "SSUBSCRIBE": _PUBSUB,
    "UNSUBSCRIBE": _PUBSUB,
    "PUNSUBSCRIBE": _PUBSUB,
    "SUNSUBSCRIBE": _PUBSUB,
    "MONITOR": "MONITOR turns the connection into a feed: use a dedicated client",
    "RESET": "RESET would drop the authentication and settings of every sharer",
    "HELLO": "the protocol is chosen with the 'protocol' option",
    "QUIT": "close the client (leave `async with client`) instead of sending QUIT",
    "SELECT": "the database is chosen with the 'db' option or the URL path",
    "AUTH": "credentials are managed by the client (URL or credentials provider)",
    "MULTI": _TX,
    "EXEC": _TX,
    "DISCARD": _TX,
    "WATCH": "WATCH needs a connection of its own; it is not supported on a shared connection",
    "UNWATCH": "WATCH needs a connection of its own; it is not supported on a shared connection",
}
_BLOCKING_NAMES = frozenset(
    {"BLPOP", "BRPOP", "BLMOVE", "BRPOPLPUSH", "BZPOPMIN", "BZPOPMAX", "BLMPOP", "BZMPOP",
     "WAIT", "WAITAOF"}
)  # fmt: skip
_STREAM_READS = frozenset({"XREAD", "XREADGROUP"})


def command_name(value: object) -> str:
    """A command name (or argument) as upper-case text, for routing and messages."""
    if isinstance(value, str):
        return value.upper()
    if isinstance(value, (bytes, bytearray, memoryview)):
        return bytes(value).decode("latin-1").upper()
    return ""


#: Command names (as given: str or bytes) known to be ordinary whatever their arguments. This is
#: on every command's path, so the common case is one set lookup.
_ORDINARY: set[object] = set()
_ORDINARY_LIMIT = 1024


def classify(args: tuple[object, ...]) -> str | None:
    """None for an ordinary command, `BLOCKING`, or the reason the command is refused."""
    given = args[0]
    kind = type(given)
    if kind is not str and kind is not bytes and isinstance(given, (bytearray, memoryview)):
        # A bytearray cannot be hashed, nor can a writable memoryview (ValueError): classify
        # (and remember) the name by its bytes.
        given = bytes(given)
    try:
        if given in _ORDINARY:
            return None
    except TypeError:  # another unhashable type: classify the slow way (the encoder refuses it)
        pass
    name = command_name(given)
    if name in _BLOCKING_NAMES:
        return BLOCKING
    refused = _REFUSED.get(name)
    if refused is not None:
        return refused
    if name in _STREAM_READS and any(command_name(arg) == "BLOCK" for arg in args[1:]):
        return BLOCKING
    if name == "CLIENT":
        if len(args) > 1 and command_name(args[1]) == "REPLY":
            return "CLIENT REPLY would leave commands without replies on a shared connection"
        return None
    if (
        name not in _STREAM_READS
        and isinstance(given, (str, bytes))
        and len(_ORDINARY) < _ORDINARY_LIMIT
    ):
        _ORDINARY.add(given)
    return None
