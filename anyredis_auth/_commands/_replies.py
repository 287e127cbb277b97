"""Reply parsers and argument helpers shared by the command groups.

A parser takes the reply as the connection delivers it (RESP2 or RESP3; bytes, or str with
``decode_responses``) and returns redis-py's classic (RESP2) value. Group-specific parsers live in
their group's module; the ones used by several groups live here.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Any

from ..protocol import CommandArg
from ._core import AbsExpiryT, EncodableT, ExpiryT, KeysT

_ONE = (str, bytes, bytearray, memoryview, int, float)


def key_list(keys: KeysT, *more: Any) -> list[Any]:
    """`keys` as a list (a str, bytes, ... is ONE key, as in redis-py), then `more`."""
    if isinstance(keys, _ONE):
        return [keys, *more]
    return [*keys, *more]


def seconds(value: ExpiryT) -> int:
    """A relative expiry in whole seconds."""
    return int(value.total_seconds()) if isinstance(value, timedelta) else int(value)


def milliseconds(value: ExpiryT) -> int:
    """A relative expiry in whole milliseconds (a timedelta is converted)."""
    return int(value.total_seconds() * 1000) if isinstance(value, timedelta) else int(value)


def unix_seconds(value: AbsExpiryT) -> int:
    """An absolute expiry as a Unix time in seconds."""
    return int(value.timestamp()) if isinstance(value, datetime) else int(value)


def unix_milliseconds(value: AbsExpiryT) -> int:
    """An absolute expiry as a Unix time in milliseconds."""
    return int(value.timestamp() * 1000) if isinstance(value, datetime) else int(value)


def flat_pairs(pairs: Iterable[tuple[Any, Any]]) -> list[CommandArg]:
    """``[(a, 1), (b, 2)]`` as ``[a, 1, b, 2]``."""
    out: list[CommandArg] = []
    for first, second in pairs:
        out += (first, second)
    return out


# -- parsers -----------------------------------------------------------------------------------


def ok(reply: Any) -> bool:
    """A status reply (``OK``) as True, as redis-py gives it."""
    return reply is not None


def ok_or_none(reply: Any) -> bool | None:
    """``OK`` as True, a nil (``NX`` / ``XX`` refused) as None."""
    return None if reply is None else True


def to_bool(reply: Any) -> bool:
    """An integer reply 0/1 as False/True."""
    return bool(reply)


def to_int(reply: Any) -> int:
    return int(reply)


def to_float(reply: Any) -> float:
    """A score: RESP2's string and RESP3's double alike."""
    return float(reply)


def to_float_or_none(reply: Any) -> float | None:
    return None if reply is None else float(reply)


def pairs_to_dict(reply: Any) -> dict[Any, Any]:
    """RESP3's map as is, RESP2's flat ``[k, v, k, v]`` paired up."""
    if isinstance(reply, dict):
        return reply
    return dict(zip(reply[::2], reply[1::2], strict=True))


def to_list(reply: Any) -> list[Any]:
    """An array as a list (RESP3 may send a set or a map where RESP2 sends an array)."""
    return list(reply)


def to_set(reply: Any) -> set[Any]:
    """An array or a RESP3 set as a Python set (None as an empty set)."""
    return set() if reply is None else set(reply)


def text(reply: Any) -> Any:
    """redis-py's ``str_if_bytes``: bytes decoded as UTF-8 (``replace``), anything else as is."""
    return reply.decode("utf-8", "replace") if isinstance(reply, bytes) else reply


def maps_as_pairs(reply: Any) -> Any:
    """RESP3's maps, at any depth, as RESP2's flat ``[k, v, k, v]`` lists (sets already arrive
    as lists): the shape redis-py ``protocol=2`` returns for replies it does not parse."""
    if isinstance(reply, dict):
        flat: list[Any] = []
        for key, value in reply.items():
            flat += (key, maps_as_pairs(value))
        return flat
    if isinstance(reply, list):
        return [maps_as_pairs(item) for item in reply]
    return reply


def value_list(values: EncodableT | Iterable[EncodableT], *more: Any) -> list[Any]:
    """Like `key_list`, for fields or members: one value on its own (a str is ONE), or several."""
    if isinstance(values, _ONE):
        return [values, *more]
    return [*values, *more]
