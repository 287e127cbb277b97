"""String commands: GET, SET and every option, counters, ranges, LCS, ..."""

from __future__ import annotations

from collections.abc import Awaitable, Mapping
from typing import Any, Literal, overload

from ._core import AbsExpiryT, EncodableT, ExpiryT, KeysT, KeyT, Request, command, overloaded
from ._replies import (
    key_list,
    milliseconds,
    ok,
    ok_or_none,
    seconds,
    to_bool,
    to_float,
    unix_milliseconds,
    unix_seconds,
)

__all__ = ["LEFT_TO_EXECUTE", "StringCommands"]

#: Commands of the ``string`` group left to `execute` on purpose (none: every one has a method).
LEFT_TO_EXECUTE: dict[str, str] = {}


def _expiry(
    args: list[Any],
    ex: ExpiryT | None,
    px: ExpiryT | None,
    exat: AbsExpiryT | None,
    pxat: AbsExpiryT | None,
    also: bool,
    also_name: str,
) -> None:
    """Append the one expiry option given (EX, PX, EXAT or PXAT) to `args`; refuse two, or one
    with `also` (KEEPTTL / PERSIST), as redis-py does before sending."""
    given = (ex is not None) + (px is not None) + (exat is not None) + (pxat is not None) + also
    if given > 1:
        raise ValueError(f"ex, px, exat, pxat and {also_name} are mutually exclusive")
    if ex is not None:
        args += ("EX", seconds(ex))
    elif px is not None:
        args += ("PX", milliseconds(px))
    elif exat is not None:
        args += ("EXAT", unix_seconds(exat))
    elif pxat is not None:
        args += ("PXAT", unix_milliseconds(pxat))


def _flat(mapping: Mapping[Any, EncodableT]) -> list[Any]:
    args: list[Any] = []
    for pair in mapping.items():
        args += pair
    return args


# -- builders ------------------------------------------------------------------------------------


def _append(key: KeyT, value: EncodableT) -> Request[int]:
    """APPEND `value` to the string at `key`: its new length."""
    return ("APPEND", key, value), None


def _decrby(name: KeyT, amount: int = 1) -> Request[int]:
    """DECRBY: the new value."""
    return ("DECRBY", name, amount), None


def _get(name: KeyT) -> Request[Any]:
    """GET: the value at `name`, or None."""
    return ("GET", name), None


def _getdel(name: KeyT) -> Request[Any]:
    """GETDEL: the value at `name` (the key is then deleted), or None."""
    return ("GETDEL", name), None


def _getex(
    name: KeyT,
    ex: ExpiryT | None = None,
    px: ExpiryT | None = None,
    exat: AbsExpiryT | None = None,
    pxat: AbsExpiryT | None = None,
    persist: bool = False,
) -> Request[Any]:
    """GETEX: the value at `name` (or None), its expiry set or removed as asked."""
    args: list[Any] = ["GETEX", name]
    _expiry(args, ex, px, exat, pxat, persist, "persist")
    if persist:
        args.append("PERSIST")
    return tuple(args), None


def _getrange(key: KeyT, start: int, end: int) -> Request[Any]:
    """GETRANGE: the bytes from `start` to `end` inclusive (negative: from the end)."""
    return ("GETRANGE", key, start, end), None


def _getset(name: KeyT, value: EncodableT) -> Request[Any]:
    """GETSET (deprecated by the server for SET ... GET): the old value, or None."""
    return ("GETSET", name, value), None


def _incrby(name: KeyT, amount: int = 1) -> Request[int]:
    """INCRBY: the new value."""
    return ("INCRBY", name, amount), None


def _incrbyfloat(name: KeyT, amount: float = 1.0) -> Request[float]:
    """INCRBYFLOAT: the new value, as a float."""
    return ("INCRBYFLOAT", name, amount), to_float


def _lcs_idx(reply: Any) -> Any:
    # RESP3 sends IDX as a map; redis-py's classic shape is RESP2's flat [k, v, k, v] list.
    if isinstance(reply, dict):
        flat: list[Any] = []
        for pair in reply.items():
            flat += pair
        return flat
    return reply


def _lcs(
    key1: KeyT,
    key2: KeyT,
    len: bool = False,
    idx: bool = False,
    minmatchlen: int | None = 0,
    withmatchlen: bool = False,
) -> Request[Any]:
    """LCS: the longest common subsequence; its length with `len`; the matches with `idx`."""
    args: list[Any] = ["LCS", key1, key2]
    if len:
        args.append("LEN")
    if idx:
        args.append("IDX")
    if minmatchlen:
        args += ("MINMATCHLEN", minmatchlen)
    if withmatchlen:
        args.append("WITHMATCHLEN")
    return tuple(args), _lcs_idx if idx else None


def _empty_list(reply: Any) -> list[Any]:
    return []


def _mget(keys: KeysT, *args: EncodableT) -> Request[list[Any]]:
    """MGET: the values of the keys, in order (None for each missing key)."""
    names = key_list(keys, *args)
    if not names:
        # redis-py answers an empty MGET with [] without asking the server; a request must
        # send something, so a harmless ECHO stands in.
        return ("ECHO", ""), _empty_list
    return ("MGET", *names), None


def _mset(mapping: Mapping[Any, EncodableT]) -> Request[bool]:
    """MSET every key/value of `mapping`: True."""
    return ("MSET", *_flat(mapping)), ok


def _msetnx(mapping: Mapping[Any, EncodableT]) -> Request[bool]:
    """MSETNX: True when every key was set, False when none was (one existed)."""
    return ("MSETNX", *_flat(mapping)), to_bool


def _psetex(name: KeyT, time_ms: ExpiryT, value: EncodableT) -> Request[bool]:
    """PSETEX: True."""
    return ("PSETEX", name, milliseconds(time_ms), value), ok


def _set(
    name: KeyT,
    value: EncodableT,
    ex: ExpiryT | None = None,
    px: ExpiryT | None = None,
    nx: bool = False,
    xx: bool = False,
    keepttl: bool = False,
    get: bool = False,
    exat: AbsExpiryT | None = None,
    pxat: AbsExpiryT | None = None,
) -> Request[Any]:
    """SET `name` to `value`: True, None when NX/XX prevented it, the old value with `get`."""
    if (
        ex is None
        and px is None
        and exat is None
        and pxat is None
        and not (nx or xx or keepttl or get)
    ):
        return ("SET", name, value), ok_or_none  # the hot path: no list, no option checks
    if nx and xx:
        raise ValueError("nx and xx are mutually exclusive")
    args: list[Any] = ["SET", name, value]
    _expiry(args, ex, px, exat, pxat, keepttl, "keepttl")
    if keepttl:
        args.append("KEEPTTL")
    if nx:
        args.append("NX")
    elif xx:
        args.append("XX")
    if get:
        args.append("GET")
        return tuple(args), None
    return tuple(args), ok_or_none


def _setex(name: KeyT, time: ExpiryT, value: EncodableT) -> Request[bool]:
    """SETEX: True."""
    return ("SETEX", name, seconds(time), value), ok


def _setnx(name: KeyT, value: EncodableT) -> Request[bool]:
    """SETNX: True when set, False when the key existed."""
    return ("SETNX", name, value), to_bool


def _setrange(name: KeyT, offset: int, value: EncodableT) -> Request[int]:
    """SETRANGE: the new length of the string."""
    return ("SETRANGE", name, offset, value), None


def _strlen(name: KeyT) -> Request[int]:
    """STRLEN: the length of the string at `name` (0 when missing)."""
    return ("STRLEN", name), None


def _substr(name: KeyT, start: int, end: int = -1) -> Request[Any]:
    """SUBSTR (GETRANGE's old name): the bytes from `start` to `end` inclusive."""
    return ("SUBSTR", name, start, end), None


# -- shapes of the commands whose reply depends on a flag ----------------------------------------


class _SetShape:
    @overload
    def __call__(
        self,
        name: KeyT,
        value: EncodableT,
        ex: ExpiryT | None = ...,
        px: ExpiryT | None = ...,
        nx: bool = ...,
        xx: bool = ...,
        keepttl: bool = ...,
        get: Literal[False] = ...,
        exat: AbsExpiryT | None = ...,
        pxat: AbsExpiryT | None = ...,
    ) -> Awaitable[bool | None]: ...
    @overload
    def __call__(
        self,
        name: KeyT,
        value: EncodableT,
        ex: ExpiryT | None = ...,
        px: ExpiryT | None = ...,
        nx: bool = ...,
        xx: bool = ...,
        keepttl: bool = ...,
        *,
        get: Literal[True],
        exat: AbsExpiryT | None = ...,
        pxat: AbsExpiryT | None = ...,
    ) -> Awaitable[Any]: ...
    @overload
    def __call__(
        self,
        name: KeyT,
        value: EncodableT,
        ex: ExpiryT | None = ...,
        px: ExpiryT | None = ...,
        nx: bool = ...,
        xx: bool = ...,
        keepttl: bool = ...,
        get: bool = ...,
        exat: AbsExpiryT | None = ...,
        pxat: AbsExpiryT | None = ...,
    ) -> Awaitable[Any]: ...
    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        raise NotImplementedError


class _LcsShape:
    @overload
    def __call__(
        self,
        key1: KeyT,
        key2: KeyT,
        len: Literal[False] = ...,
        idx: Literal[False] = ...,
        minmatchlen: int | None = ...,
        withmatchlen: bool = ...,
    ) -> Awaitable[Any]: ...
    @overload
    def __call__(
        self,
        key1: KeyT,
        key2: KeyT,
        len: Literal[True],
        idx: Literal[False] = ...,
        minmatchlen: int | None = ...,
        withmatchlen: bool = ...,
    ) -> Awaitable[int]: ...
    @overload
    def __call__(
        self,
        key1: KeyT,
        key2: KeyT,
        *,
        len: Literal[True],
        idx: Literal[False] = ...,
        minmatchlen: int | None = ...,
        withmatchlen: bool = ...,
    ) -> Awaitable[int]: ...
    @overload
    def __call__(
        self,
        key1: KeyT,
        key2: KeyT,
        len: Literal[False] = ...,
        *,
        idx: Literal[True],
        minmatchlen: int | None = ...,
        withmatchlen: bool = ...,
    ) -> Awaitable[list[Any]]: ...
    @overload
    def __call__(
        self,
        key1: KeyT,
        key2: KeyT,
        len: bool = ...,
        idx: bool = ...,
        minmatchlen: int | None = ...,
        withmatchlen: bool = ...,
    ) -> Awaitable[Any]: ...
    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        raise NotImplementedError


class StringCommands:
    """String commands (`command` descriptors; see `anyredis_auth._commands._core`)."""

    append = command(_append)
    decrby = command(_decrby)
    decr = command(_decrby, covers="DECR")
    get = command(_get, plain="GET")  # the hottest command: no builder call
    getdel = command(_getdel)
    getex = command(_getex)
    getrange = command(_getrange)
    getset = command(_getset)
    incrby = command(_incrby)
    incr = command(_incrby, covers="INCR")
    incrbyfloat = command(_incrbyfloat)
    lcs = overloaded(_lcs, _LcsShape)
    mget = command(_mget)
    mset = command(_mset)
    msetnx = command(_msetnx)
    psetex = command(_psetex)
    set = overloaded(_set, _SetShape)
    setex = command(_setex)
    setnx = command(_setnx)
    setrange = command(_setrange)
    strlen = command(_strlen)
    substr = command(_substr)
