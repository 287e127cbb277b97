"""Keys and generic commands: DEL, EXISTS, expiry, COPY, DUMP/RESTORE, SCAN, SORT, ..."""

from __future__ import annotations

from collections.abc import Awaitable, Iterable
from typing import Any, overload

from ._core import AbsExpiryT, EncodableT, ExpiryT, KeysT, KeyT, Request, command, overloaded
from ._replies import (
    key_list,
    milliseconds,
    ok,
    seconds,
    to_bool,
    unix_milliseconds,
    unix_seconds,
)

__all__ = ["LEFT_TO_EXECUTE", "KeyCommands", "build_scan"]

#: Commands of the ``generic`` group left to `execute` on purpose, with the reason.
LEFT_TO_EXECUTE: dict[str, str] = {
    "WAIT": (
        "a blocking command runs on a dedicated connection, where WAIT would wait for that "
        "connection's writes, not the caller's: meaningless on a shared connection"
    ),
    "OBJECT HELP": "help text for humans (redis-cli), not for programs",
}


def _conditions(args: list[Any], nx: bool, xx: bool, gt: bool, lt: bool) -> tuple[Any, ...]:
    """`args` with the expiry conditions (NX, XX, GT, LT) appended, as a tuple."""
    if nx:
        args.append("NX")
    if xx:
        args.append("XX")
    if gt:
        args.append("GT")
    if lt:
        args.append("LT")
    return tuple(args)


def _dump_bytes(reply: Any) -> bytes | None:
    # redis-py never decodes DUMP's payload (it is binary); a decoding connection decoded it
    # with surrogateescape, which this undoes byte for byte (for the default utf-8 encoding).
    if isinstance(reply, str):
        return reply.encode("utf-8", "surrogateescape")
    return reply  # type: ignore[no-any-return]


def _scan_reply(reply: Any) -> tuple[int, list[Any]]:
    return int(reply[0]), reply[1]


def _grouped(size: int) -> Any:
    def parse(reply: Any) -> Any:
        if not reply or not isinstance(reply, list):
            return reply
        return list(zip(*(reply[i::size] for i in range(size)), strict=False))

    return parse


def _sort_args(
    command_name: str,
    name: KeyT,
    start: int | None,
    num: int | None,
    by: KeyT | None,
    get: KeyT | Iterable[KeyT] | None,
    desc: bool,
    alpha: bool,
) -> list[Any]:
    if (start is None) != (num is None):
        raise ValueError("start and num must both be given")
    args: list[Any] = [command_name, name]
    if by is not None:
        args += ("BY", by)
    if start is not None:
        args += ("LIMIT", start, num)
    if get is not None:
        if isinstance(get, bytes | str | memoryview):
            args += ("GET", get)
        else:
            for pattern in get:
                args += ("GET", pattern)
    if desc:
        args.append("DESC")
    if alpha:
        args.append("ALPHA")
    return args


# -- builders ------------------------------------------------------------------------------------


def _copy(
    source: KeyT,
    destination: KeyT,
    destination_db: int | str | None = None,
    replace: bool = False,
) -> Request[bool]:
    """COPY `source` to `destination`: True when copied, False when the destination existed."""
    args: list[Any] = ["COPY", source, destination]
    if destination_db is not None:
        args += ("DB", destination_db)
    if replace:
        args.append("REPLACE")
    return tuple(args), to_bool


def _delete(*names: KeyT) -> Request[int]:
    """DEL: the number of keys removed."""
    return ("DEL", *names), None


def _dump(name: KeyT) -> Request[bytes | None]:
    """DUMP: the value serialized (always bytes, whatever ``decode_responses``), or None."""
    return ("DUMP", name), _dump_bytes


def _exists(*names: KeyT) -> Request[int]:
    """EXISTS: how many of the keys exist (a key named twice counts twice)."""
    return ("EXISTS", *names), None


def _expire(
    name: KeyT,
    time: ExpiryT,
    nx: bool = False,
    xx: bool = False,
    gt: bool = False,
    lt: bool = False,
) -> Request[bool]:
    """EXPIRE in `time` seconds: True when set, False when a condition (or no key) prevented."""
    return _conditions(["EXPIRE", name, seconds(time)], nx, xx, gt, lt), to_bool


def _expireat(
    name: KeyT,
    when: AbsExpiryT,
    nx: bool = False,
    xx: bool = False,
    gt: bool = False,
    lt: bool = False,
) -> Request[bool]:
    """EXPIREAT a Unix time in seconds: True when set, False when not."""
    return _conditions(["EXPIREAT", name, unix_seconds(when)], nx, xx, gt, lt), to_bool


def _expiretime(key: KeyT) -> Request[int]:
    """EXPIRETIME: the Unix time in seconds the key expires at (-1 none, -2 no key)."""
    return ("EXPIRETIME", key), None


def _keys(pattern: EncodableT = "*") -> Request[list[Any]]:
    """KEYS: every key matching `pattern` (blocks the server on a large database: see scan)."""
    return ("KEYS", pattern), None


def _migrate(
    host: str,
    port: int,
    keys: KeysT,
    destination_db: int,
    timeout: int,
    copy: bool = False,
    replace: bool = False,
    auth: str | None = None,
) -> Request[Any]:
    """MIGRATE the keys to another server: ``OK``, or ``NOKEY`` when none of them exists."""
    names = key_list(keys)
    if not names:
        raise ValueError("MIGRATE needs at least one key")
    args: list[Any] = ["MIGRATE", host, port, "", destination_db, timeout]
    if copy:
        args.append("COPY")
    if replace:
        args.append("REPLACE")
    if auth:
        args += ("AUTH", auth)
    args.append("KEYS")
    args += names
    return tuple(args), None


def _move(name: KeyT, db: int) -> Request[bool]:
    """MOVE to database `db`: True when moved, False when not (missing, or there already)."""
    return ("MOVE", name, db), to_bool


def _object(infotype: str, key: KeyT) -> Request[Any]:
    """OBJECT ENCODING / FREQ / IDLETIME / REFCOUNT of `key`: the server's reply as is."""
    return ("OBJECT", infotype, key), None


def _persist(name: KeyT) -> Request[bool]:
    """PERSIST: True when an expiry was removed, False when there was none (or no key)."""
    return ("PERSIST", name), to_bool


def _pexpire(
    name: KeyT,
    time: ExpiryT,
    nx: bool = False,
    xx: bool = False,
    gt: bool = False,
    lt: bool = False,
) -> Request[bool]:
    """PEXPIRE in `time` milliseconds: True when set, False when not."""
    return _conditions(["PEXPIRE", name, milliseconds(time)], nx, xx, gt, lt), to_bool


def _pexpireat(
    name: KeyT,
    when: AbsExpiryT,
    nx: bool = False,
    xx: bool = False,
    gt: bool = False,
    lt: bool = False,
) -> Request[bool]:
    """PEXPIREAT a Unix time in milliseconds: True when set, False when not."""
    return _conditions(["PEXPIREAT", name, unix_milliseconds(when)], nx, xx, gt, lt), to_bool


def _pexpiretime(key: KeyT) -> Request[int]:
    """PEXPIRETIME: the Unix time in milliseconds the key expires at (-1 none, -2 no key)."""
    return ("PEXPIRETIME", key), None


def _pttl(name: KeyT) -> Request[int]:
    """PTTL: milliseconds left (-1 no expiry, -2 no key)."""
    return ("PTTL", name), None


def _randomkey() -> Request[Any]:
    """RANDOMKEY: a random key, or None when the database is empty."""
    return ("RANDOMKEY",), None


def _rename(src: KeyT, dst: KeyT) -> Request[bool]:
    """RENAME: True."""
    return ("RENAME", src, dst), ok


def _renamenx(src: KeyT, dst: KeyT) -> Request[bool]:
    """RENAMENX: True when renamed, False when `dst` existed."""
    return ("RENAMENX", src, dst), to_bool


def _restore(
    name: KeyT,
    ttl: float,
    value: EncodableT,
    replace: bool = False,
    absttl: bool = False,
    idletime: int | None = None,
    frequency: int | None = None,
) -> Request[Any]:
    """RESTORE a DUMP's payload at `name`: the server's ``OK`` as is (as redis-py gives it)."""
    args: list[Any] = ["RESTORE", name, ttl, value]
    if replace:
        args.append("REPLACE")
    if absttl:
        args.append("ABSTTL")
    if idletime is not None:
        args += ("IDLETIME", int(idletime))
    if frequency is not None:
        args += ("FREQ", int(frequency))
    return tuple(args), None


def build_scan(
    cursor: int = 0,
    match: EncodableT | None = None,
    count: int | None = None,
    _type: str | None = None,
) -> Request[tuple[int, list[Any]]]:
    """SCAN one step: ``(next cursor, keys)``; the cursor is 0 again when the scan is done."""
    args: list[Any] = ["SCAN", cursor]
    if match is not None:
        args += ("MATCH", match)
    if count is not None:
        args += ("COUNT", count)
    if _type is not None:
        args += ("TYPE", _type)
    return tuple(args), _scan_reply


def _sort(
    name: KeyT,
    start: int | None = None,
    num: int | None = None,
    by: KeyT | None = None,
    get: KeyT | Iterable[KeyT] | None = None,
    desc: bool = False,
    alpha: bool = False,
    store: KeyT | None = None,
    groups: bool | None = False,
) -> Request[Any]:
    """SORT: the sorted elements (tuples of the `get` values with `groups`), or their number
    when stored at `store`."""
    size = 0
    if groups:
        if get is None or isinstance(get, bytes | str | memoryview):
            raise ValueError("groups needs get to name at least two patterns")
        get = list(get)
        size = len(get)
        if size < 2:
            raise ValueError("groups needs get to name at least two patterns")
    args = _sort_args("SORT", name, start, num, by, get, desc, alpha)
    if store is not None:
        args += ("STORE", store)
    if size:
        return tuple(args), _grouped(size)
    return tuple(args), None


def _sort_ro(
    key: KeyT,
    start: int | None = None,
    num: int | None = None,
    by: KeyT | None = None,
    get: KeyT | Iterable[KeyT] | None = None,
    desc: bool = False,
    alpha: bool = False,
) -> Request[list[Any]]:
    """SORT_RO (SORT without STORE, allowed on replicas): the sorted elements."""
    return tuple(_sort_args("SORT_RO", key, start, num, by, get, desc, alpha)), None


def _touch(*args: KeyT) -> Request[int]:
    """TOUCH: the number of keys that exist (their last access time is updated)."""
    return ("TOUCH", *args), None


def _ttl(name: KeyT) -> Request[int]:
    """TTL: seconds left (-1 no expiry, -2 no key)."""
    return ("TTL", name), None


def _type(name: KeyT) -> Request[Any]:
    """TYPE: ``string``, ``list``, ``set``, ``zset``, ``hash``, ``stream`` or ``none``."""
    return ("TYPE", name), None


def _unlink(*names: KeyT) -> Request[int]:
    """UNLINK (DEL, the memory reclaimed in the background): the number of keys removed."""
    return ("UNLINK", *names), None


class _SortShape:
    @overload
    def __call__(
        self,
        name: KeyT,
        start: int | None = ...,
        num: int | None = ...,
        by: KeyT | None = ...,
        get: KeyT | Iterable[KeyT] | None = ...,
        desc: bool = ...,
        alpha: bool = ...,
        store: None = ...,
        groups: bool | None = ...,
    ) -> Awaitable[list[Any]]: ...
    @overload
    def __call__(
        self,
        name: KeyT,
        start: int | None = ...,
        num: int | None = ...,
        by: KeyT | None = ...,
        get: KeyT | Iterable[KeyT] | None = ...,
        desc: bool = ...,
        alpha: bool = ...,
        *,
        store: KeyT,
        groups: bool | None = ...,
    ) -> Awaitable[int]: ...
    @overload
    def __call__(
        self,
        name: KeyT,
        start: int | None = ...,
        num: int | None = ...,
        by: KeyT | None = ...,
        get: KeyT | Iterable[KeyT] | None = ...,
        desc: bool = ...,
        alpha: bool = ...,
        store: KeyT | None = ...,
        groups: bool | None = ...,
    ) -> Awaitable[list[Any] | int]: ...
    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        raise NotImplementedError


class KeyCommands:
    """Keys and generic commands (`command` descriptors; see `anyredis_auth._commands._core`)."""

    copy = command(_copy)
    delete = command(_delete, covers="DEL")
    dump = command(_dump)
    exists = command(_exists)
    expire = command(_expire)
    expireat = command(_expireat)
    expiretime = command(_expiretime)
    keys = command(_keys)
    migrate = command(_migrate)
    move = command(_move)
    object = command(
        _object, covers=("OBJECT ENCODING", "OBJECT FREQ", "OBJECT IDLETIME", "OBJECT REFCOUNT")
    )
    persist = command(_persist)
    pexpire = command(_pexpire)
    pexpireat = command(_pexpireat)
    pexpiretime = command(_pexpiretime)
    pttl = command(_pttl)
    randomkey = command(_randomkey)
    rename = command(_rename)
    renamenx = command(_renamenx)
    restore = command(_restore)
    scan = command(build_scan)
    sort = overloaded(_sort, _SortShape)
    sort_ro = command(_sort_ro)
    touch = command(_touch)
    ttl = command(_ttl)
    type = command(_type)
    unlink = command(_unlink)
