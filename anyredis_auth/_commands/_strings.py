"""String commands: GET, SET and every option, counters, ranges, LCS, ..."""

from __future__ import annotations

from typing import Any

from ._core import AbsExpiryT, EncodableT, ExpiryT, KeyT, Request, command
from ._replies import milliseconds, ok_or_none, seconds, to_int, unix_milliseconds, unix_seconds

__all__ = ["StringCommands"]


def _get(name: KeyT) -> Request[Any]:
    """GET: the value at `name`, or None."""
    return ("GET", name), None


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
    args: list[Any] = ["SET", name, value]
    if ex is not None:
        args += ("EX", seconds(ex))
    if px is not None:
        args += ("PX", milliseconds(px))
    if exat is not None:
        args += ("EXAT", unix_seconds(exat))
    if pxat is not None:
        args += ("PXAT", unix_milliseconds(pxat))
    if keepttl:
        args.append("KEEPTTL")
    if nx:
        args.append("NX")
    if xx:
        args.append("XX")
    if get:
        args.append("GET")
        return tuple(args), None
    return tuple(args), ok_or_none


def _incrby(name: KeyT, amount: int = 1) -> Request[int]:
    """INCRBY: the new value."""
    return ("INCRBY", name, amount), to_int


class StringCommands:
    """String commands (`command` descriptors; see `anyredis_auth._commands._core`)."""

    get = command(_get)
    set = command(_set)
    incrby = command(_incrby)
    incr = command(_incrby, covers="INCR")
