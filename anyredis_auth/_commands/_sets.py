"""Set commands: members, algebra (SDIFF / SINTER / SUNION and their STORE forms), SSCAN, ..."""

from __future__ import annotations

from collections.abc import Awaitable, Iterable, Sequence
from typing import Any, overload

from ._core import EncodableT, KeysT, KeyT, Request, command, overloaded
from ._replies import key_list, to_bool, to_int, to_set, value_list

__all__ = ["LEFT_TO_EXECUTE", "SetCommands", "build_sscan"]

#: Every set command of Redis 7.0 has a method.
LEFT_TO_EXECUTE: dict[str, str] = {}


def _sadd(name: KeyT, *values: EncodableT) -> Request[int]:
    """SADD: the number of members added (those already there do not count)."""
    return ("SADD", name, *values), to_int


def _srem(name: KeyT, *values: EncodableT) -> Request[int]:
    """SREM: the number of members removed."""
    return ("SREM", name, *values), to_int


def _smembers(name: KeyT) -> Request[set[Any]]:
    """SMEMBERS: the members as a Python set."""
    return ("SMEMBERS", name), to_set


def _sismember(name: KeyT, value: EncodableT) -> Request[int]:
    """SISMEMBER: 1 if `value` is a member, else 0 (an int, as redis-py gives it)."""
    return ("SISMEMBER", name, value), to_int


def _smismember(
    name: KeyT, values: EncodableT | Iterable[EncodableT], *args: EncodableT
) -> Request[list[int]]:
    """SMISMEMBER: 1 or 0 for each value, in order."""
    return ("SMISMEMBER", name, *value_list(values, *args)), None


def _scard(name: KeyT) -> Request[int]:
    """SCARD: the number of members (0 when the key is missing)."""
    return ("SCARD", name), to_int


def _sdiff(keys: KeysT, *args: KeyT) -> Request[set[Any]]:
    """SDIFF: the members of the first set in none of the others, as a Python set."""
    return ("SDIFF", *key_list(keys, *args)), to_set


def _sdiffstore(dest: KeyT, keys: KeysT, *args: KeyT) -> Request[int]:
    """SDIFFSTORE: the number of members stored at `dest`."""
    return ("SDIFFSTORE", dest, *key_list(keys, *args)), to_int


def _sinter(keys: KeysT, *args: KeyT) -> Request[set[Any]]:
    """SINTER: the members in every set, as a Python set."""
    return ("SINTER", *key_list(keys, *args)), to_set


def _sinterstore(dest: KeyT, keys: KeysT, *args: KeyT) -> Request[int]:
    """SINTERSTORE: the number of members stored at `dest`."""
    return ("SINTERSTORE", dest, *key_list(keys, *args)), to_int


def _sintercard(numkeys: int, keys: Sequence[KeyT], limit: int = 0) -> Request[int]:
    """SINTERCARD: the size of the intersection (at most `limit` when it is not 0)."""
    return ("SINTERCARD", numkeys, *keys, "LIMIT", limit), to_int


def _sunion(keys: KeysT, *args: KeyT) -> Request[set[Any]]:
    """SUNION: the members of any set, as a Python set."""
    return ("SUNION", *key_list(keys, *args)), to_set


def _sunionstore(dest: KeyT, keys: KeysT, *args: KeyT) -> Request[int]:
    """SUNIONSTORE: the number of members stored at `dest`."""
    return ("SUNIONSTORE", dest, *key_list(keys, *args)), to_int


def _smove(src: KeyT, dst: KeyT, value: EncodableT) -> Request[bool]:
    """SMOVE: whether `value` was moved."""
    return ("SMOVE", src, dst, value), to_bool


def _spop(name: KeyT, count: int | None = None) -> Request[Any]:
    """SPOP: a random member removed (or None); with `count` a list of them."""
    if count is None:
        return ("SPOP", name), None
    return ("SPOP", name, count), _member_list


def _srandmember(name: KeyT, number: int | None = None) -> Request[Any]:
    """SRANDMEMBER: a random member (or None); with `number` a list of them."""
    if number is None:
        return ("SRANDMEMBER", name), None
    return ("SRANDMEMBER", name, number), _member_list


def _member_list(reply: Any) -> list[Any]:
    # RESP3 answers SPOP with a count with a set: redis-py's RESP2 value is a list.
    return list(reply)


class _SPopShape:
    @overload
    def __call__(self, name: KeyT, count: None = None) -> Awaitable[Any]: ...
    @overload
    def __call__(self, name: KeyT, count: int) -> Awaitable[list[Any]]: ...
    @overload
    def __call__(self, name: KeyT, count: int | None = ...) -> Awaitable[Any]: ...

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        raise NotImplementedError


class _SRandMemberShape:
    @overload
    def __call__(self, name: KeyT, number: None = None) -> Awaitable[Any]: ...
    @overload
    def __call__(self, name: KeyT, number: int) -> Awaitable[list[Any]]: ...
    @overload
    def __call__(self, name: KeyT, number: int | None = ...) -> Awaitable[Any]: ...

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        raise NotImplementedError


def _scan_members(reply: Any) -> tuple[int, list[Any]]:
    cursor, data = reply
    return int(cursor), list(data)


def build_sscan(
    name: KeyT,
    cursor: int = 0,
    match: EncodableT | None = None,
    count: int | None = None,
) -> Request[tuple[int, list[Any]]]:
    """SSCAN: ``(next cursor, [member, ...])``."""
    args: list[Any] = ["SSCAN", name, cursor]
    if match is not None:
        args += ("MATCH", match)
    if count is not None:
        args += ("COUNT", count)
    return tuple(args), _scan_members


class SetCommands:
    """Set commands (`command` descriptors; see `anyredis_auth._commands._core`)."""

    sadd = command(_sadd)
    srem = command(_srem)
    smembers = command(_smembers)
    sismember = command(_sismember)
    smismember = command(_smismember)
    scard = command(_scard)
    sdiff = command(_sdiff)
    sdiffstore = command(_sdiffstore)
    sinter = command(_sinter)
    sinterstore = command(_sinterstore)
    sintercard = command(_sintercard)
    sunion = command(_sunion)
    sunionstore = command(_sunionstore)
    smove = command(_smove)
    spop = overloaded(_spop, _SPopShape)
    srandmember = overloaded(_srandmember, _SRandMemberShape)
    sscan = command(build_sscan)
