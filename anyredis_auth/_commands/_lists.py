"""List commands, blocking ones included.

The blocking ones (BLPOP, BRPOP, BRPOPLPUSH, BLMOVE, BLMPOP) run on a dedicated connection of
the client's pool (the shared connection routes them there by name), and a pipeline refuses
them when they are queued.
"""

from __future__ import annotations

from collections.abc import Awaitable
from typing import Any, overload

from ._core import EncodableT, KeysT, KeyT, Request, command, overloaded
from ._replies import key_list, ok, to_int

__all__ = ["LEFT_TO_EXECUTE", "ListCommands"]

#: Every list command of Redis 7.0 has a method.
LEFT_TO_EXECUTE: dict[str, str] = {}

#: A blocking timeout in seconds (None: 0, wait for ever).
TimeoutT = float | None


def _lpush(name: KeyT, *values: EncodableT) -> Request[int]:
    """LPUSH: the new length of the list."""
    return ("LPUSH", name, *values), to_int


def _rpush(name: KeyT, *values: EncodableT) -> Request[int]:
    """RPUSH: the new length of the list."""
    return ("RPUSH", name, *values), to_int


def _lpushx(name: KeyT, *values: EncodableT) -> Request[int]:
    """LPUSHX: the new length of the list (0, nothing pushed, when the key is missing)."""
    return ("LPUSHX", name, *values), to_int


def _rpushx(name: KeyT, *values: EncodableT) -> Request[int]:
    """RPUSHX: the new length of the list (0, nothing pushed, when the key is missing)."""
    return ("RPUSHX", name, *values), to_int


def _lpop(name: KeyT, count: int | None = None) -> Request[Any]:
    """LPOP: the first element (or None); with `count` a list of up to `count` (or None)."""
    if count is None:
        return ("LPOP", name), None
    return ("LPOP", name, count), None


def _rpop(name: KeyT, count: int | None = None) -> Request[Any]:
    """RPOP: the last element (or None); with `count` a list of up to `count` (or None)."""
    if count is None:
        return ("RPOP", name), None
    return ("RPOP", name, count), None


class _PopShape:
    @overload
    def __call__(self, name: KeyT, count: None = None) -> Awaitable[Any]: ...
    @overload
    def __call__(self, name: KeyT, count: int) -> Awaitable[list[Any] | None]: ...
    @overload
    def __call__(self, name: KeyT, count: int | None = ...) -> Awaitable[Any]: ...

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        raise NotImplementedError


def _lrange(name: KeyT, start: int, end: int) -> Request[list[Any]]:
    """LRANGE: the elements from `start` to `end` inclusive (negative: from the end)."""
    return ("LRANGE", name, start, end), None


def _llen(name: KeyT) -> Request[int]:
    """LLEN: the length of the list (0 when the key is missing)."""
    return ("LLEN", name), to_int


def _lindex(name: KeyT, index: int) -> Request[Any]:
    """LINDEX: the element at `index`, or None."""
    return ("LINDEX", name, index), None


def _linsert(name: KeyT, where: str, refvalue: EncodableT, value: EncodableT) -> Request[int]:
    """LINSERT `value` BEFORE/AFTER `refvalue`: the new length, -1 when `refvalue` is missing,
    0 when the key is."""
    return ("LINSERT", name, where, refvalue, value), to_int


def _lset(name: KeyT, index: int, value: EncodableT) -> Request[bool]:
    """LSET: True."""
    return ("LSET", name, index, value), ok


def _lrem(name: KeyT, count: int, value: EncodableT) -> Request[int]:
    """LREM: the number of elements removed."""
    return ("LREM", name, count, value), to_int


def _ltrim(name: KeyT, start: int, end: int) -> Request[bool]:
    """LTRIM: True."""
    return ("LTRIM", name, start, end), ok


def _lpos(
    name: KeyT,
    value: EncodableT,
    rank: int | None = None,
    count: int | None = None,
    maxlen: int | None = None,
) -> Request[Any]:
    """LPOS: the index of `value` (or None); with `count` a list of indexes."""
    args: list[Any] = ["LPOS", name, value]
    if rank is not None:
        args += ("RANK", rank)
    if count is not None:
        args += ("COUNT", count)
    if maxlen is not None:
        args += ("MAXLEN", maxlen)
    return tuple(args), None


class _LPosShape:
    @overload
    def __call__(
        self,
        name: KeyT,
        value: EncodableT,
        rank: int | None = ...,
        count: None = None,
        maxlen: int | None = ...,
    ) -> Awaitable[int | None]: ...
    @overload
    def __call__(
        self,
        name: KeyT,
        value: EncodableT,
        rank: int | None = ...,
        *,
        count: int,
        maxlen: int | None = ...,
    ) -> Awaitable[list[int]]: ...
    @overload
    def __call__(
        self,
        name: KeyT,
        value: EncodableT,
        rank: int | None,
        count: int,
        maxlen: int | None = ...,
    ) -> Awaitable[list[int]]: ...
    @overload
    def __call__(
        self,
        name: KeyT,
        value: EncodableT,
        rank: int | None = ...,
        count: int | None = ...,
        maxlen: int | None = ...,
    ) -> Awaitable[int | list[int] | None]: ...

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        raise NotImplementedError


def _lmove(
    first_list: KeyT, second_list: KeyT, src: str = "LEFT", dest: str = "RIGHT"
) -> Request[Any]:
    """LMOVE: the element moved, or None when the source is empty."""
    return ("LMOVE", first_list, second_list, src, dest), None


def _rpoplpush(src: KeyT, dst: KeyT) -> Request[Any]:
    """RPOPLPUSH: the element moved, or None when the source is empty."""
    return ("RPOPLPUSH", src, dst), None


def _multi_pop(reply: Any) -> list[Any] | None:
    """LMPOP / BLMPOP: ``[key, [element, ...]]``, or None."""
    return None if reply is None else list(reply)


def _count(count: int | None) -> int:
    # redis-py types `count` as optional but cannot send None either (it fails to encode it).
    if count is None:
        raise ValueError("count must be an int")
    return count


def _lmpop(
    num_keys: int, *args: KeyT, direction: str, count: int | None = 1
) -> Request[list[Any] | None]:
    """LMPOP: ``[key, [element, ...]]`` from the first non-empty list, or None."""
    if count == 1:
        return ("LMPOP", num_keys, *args, direction), _multi_pop
    return ("LMPOP", num_keys, *args, direction, "COUNT", _count(count)), _multi_pop


def _timeout(timeout: TimeoutT) -> float:
    return 0 if timeout is None else timeout


def _pop_pair(reply: Any) -> tuple[Any, Any] | None:
    """BLPOP / BRPOP: ``(key, element)``, or None on timeout."""
    return None if reply is None else (reply[0], reply[1])


def _blpop(keys: KeysT, timeout: TimeoutT = 0) -> Request[tuple[Any, Any] | None]:
    """BLPOP (on a dedicated connection): ``(key, element)``, or None on timeout."""
    return ("BLPOP", *key_list(keys, _timeout(timeout))), _pop_pair


def _brpop(keys: KeysT, timeout: TimeoutT = 0) -> Request[tuple[Any, Any] | None]:
    """BRPOP (on a dedicated connection): ``(key, element)``, or None on timeout."""
    return ("BRPOP", *key_list(keys, _timeout(timeout))), _pop_pair


def _brpoplpush(src: KeyT, dst: KeyT, timeout: TimeoutT = 0) -> Request[Any]:
    """BRPOPLPUSH (on a dedicated connection): the element moved, or None on timeout."""
    return ("BRPOPLPUSH", src, dst, _timeout(timeout)), None


def _blmove(
    first_list: KeyT,
    second_list: KeyT,
    timeout: float,
    src: str = "LEFT",
    dest: str = "RIGHT",
) -> Request[Any]:
    """BLMOVE (on a dedicated connection): the element moved, or None on timeout."""
    return ("BLMOVE", first_list, second_list, src, dest, timeout), None


def _blmpop(
    timeout: float, numkeys: int, *args: KeyT, direction: str, count: int | None = 1
) -> Request[list[Any] | None]:
    """BLMPOP (on a dedicated connection): ``[key, [element, ...]]``, or None on timeout."""
    # COUNT is always sent, as redis-py sends it.
    return ("BLMPOP", timeout, numkeys, *args, direction, "COUNT", _count(count)), _multi_pop


class ListCommands:
    """List commands (`command` descriptors; see `anyredis_auth._commands._core`)."""

    lpush = command(_lpush)
    rpush = command(_rpush)
    lpushx = command(_lpushx)
    rpushx = command(_rpushx)
    lpop = overloaded(_lpop, _PopShape)
    rpop = overloaded(_rpop, _PopShape)
    lrange = command(_lrange)
    llen = command(_llen)
    lindex = command(_lindex)
    linsert = command(_linsert)
    lset = command(_lset)
    lrem = command(_lrem)
    ltrim = command(_ltrim)
    lpos = overloaded(_lpos, _LPosShape)
    lmove = command(_lmove)
    rpoplpush = command(_rpoplpush)
    lmpop = command(_lmpop)
    blpop = command(_blpop)
    brpop = command(_brpop)
    brpoplpush = command(_brpoplpush)
    blmove = command(_blmove)
    blmpop = command(_blmpop)
