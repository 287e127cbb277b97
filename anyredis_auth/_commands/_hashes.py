"""Hash commands: HSET with a field, a mapping or items, HRANDFIELD, HSCAN, ..."""

from __future__ import annotations

from collections.abc import Awaitable, Iterable, Mapping, Sequence
from typing import Any, Literal, overload

from ._core import EncodableT, KeyT, Request, command, overloaded
from ._replies import ok, pairs_to_dict, to_bool, to_float, to_int, value_list

__all__ = ["LEFT_TO_EXECUTE", "HashCommands", "build_hscan"]

#: Every hash command of Redis 7.0 has a method.
LEFT_TO_EXECUTE: dict[str, str] = {}

#: A field name or value inside a hash (redis-py's ``FieldT``). A mapping's keys are typed `Any`:
#: `Mapping` is invariant in its key type, so ``dict[str, int]`` would not match `FieldT`.
FieldT = EncodableT


def _hset(
    name: KeyT,
    key: FieldT | None = None,
    value: EncodableT | None = None,
    mapping: Mapping[Any, EncodableT] | None = None,
    items: Sequence[EncodableT] | None = None,
) -> Request[int]:
    """HSET: the number of fields added (updated ones do not count)."""
    if key is None and not mapping and not items:
        raise ValueError("hset needs a key and value, a mapping or items")
    args: list[Any] = ["HSET", name]
    # The order redis-py sends them in: items, then key/value, then the mapping.
    if items:
        args += items
    if key is not None:
        args += (key, value)
    if mapping:
        for pair in mapping.items():
            args += pair
    return tuple(args), to_int


def _hsetnx(name: KeyT, key: FieldT, value: EncodableT) -> Request[int]:
    """HSETNX: 1 if the field was created, 0 if it existed."""
    return ("HSETNX", name, key, value), to_int


def _hmset(name: KeyT, mapping: Mapping[Any, EncodableT]) -> Request[bool]:
    """HMSET (deprecated: use `hset` with `mapping`): True."""
    if not mapping:
        raise ValueError("hmset needs a non-empty mapping")
    args: list[Any] = ["HMSET", name]
    for pair in mapping.items():
        args += pair
    return tuple(args), ok


def _hget(name: KeyT, key: FieldT) -> Request[Any]:
    """HGET: the field's value, or None."""
    return ("HGET", name, key), None


def _hmget(name: KeyT, keys: FieldT | Iterable[FieldT], *args: FieldT) -> Request[list[Any]]:
    """HMGET: the values of the fields in order, None for each missing one."""
    return ("HMGET", name, *value_list(keys, *args)), None


def _hgetall(name: KeyT) -> Request[dict[Any, Any]]:
    """HGETALL: the hash as a dict (empty when the key is missing)."""
    return ("HGETALL", name), pairs_to_dict


def _hdel(name: KeyT, *keys: FieldT) -> Request[int]:
    """HDEL: the number of fields removed."""
    return ("HDEL", name, *keys), to_int


def _hexists(name: KeyT, key: FieldT) -> Request[bool]:
    """HEXISTS: whether the field exists."""
    return ("HEXISTS", name, key), to_bool


def _hincrby(name: KeyT, key: FieldT, amount: int = 1) -> Request[int]:
    """HINCRBY: the field's new value."""
    return ("HINCRBY", name, key, amount), to_int


def _hincrbyfloat(name: KeyT, key: FieldT, amount: float = 1.0) -> Request[float]:
    """HINCRBYFLOAT: the field's new value, as a float."""
    return ("HINCRBYFLOAT", name, key, amount), to_float


def _hkeys(name: KeyT) -> Request[list[Any]]:
    """HKEYS: the field names."""
    return ("HKEYS", name), None


def _hvals(name: KeyT) -> Request[list[Any]]:
    """HVALS: the values."""
    return ("HVALS", name), None


def _hlen(name: KeyT) -> Request[int]:
    """HLEN: the number of fields (0 when the key is missing)."""
    return ("HLEN", name), to_int


def _hstrlen(name: KeyT, key: FieldT) -> Request[int]:
    """HSTRLEN: the length in bytes of the field's value (0 when missing)."""
    return ("HSTRLEN", name, key), to_int


def _flat_field_values(reply: Any) -> Any:
    """HRANDFIELD ... WITHVALUES: RESP3's ``[[f, v], ...]`` flattened to RESP2's ``[f, v, ...]``."""
    if reply and isinstance(reply[0], list):
        return [item for pair in reply for item in pair]
    return reply


def _hrandfield(key: KeyT, count: int | None = None, withvalues: bool = False) -> Request[Any]:
    """HRANDFIELD: a random field (or None); with `count` a list of fields, with `withvalues`
    a flat list ``[field, value, ...]``."""
    if count is None:
        # WITHVALUES without a count is sent as redis-py sends it (the server refuses it).
        return (("HRANDFIELD", key, "WITHVALUES") if withvalues else ("HRANDFIELD", key)), None
    if withvalues:
        return ("HRANDFIELD", key, count, "WITHVALUES"), _flat_field_values
    return ("HRANDFIELD", key, count), None


class _HRandFieldShape:
    @overload
    def __call__(
        self, key: KeyT, count: None = None, withvalues: Literal[False] = ...
    ) -> Awaitable[Any]: ...
    @overload
    def __call__(self, key: KeyT, count: int, withvalues: bool = ...) -> Awaitable[list[Any]]: ...
    @overload
    def __call__(
        self, key: KeyT, count: int | None = ..., withvalues: bool = ...
    ) -> Awaitable[Any]: ...

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        raise NotImplementedError


def _scan_fields(reply: Any) -> tuple[int, dict[Any, Any]]:
    cursor, data = reply
    return int(cursor), pairs_to_dict(data)


def _scan_names(reply: Any) -> tuple[int, list[Any]]:
    cursor, data = reply
    return int(cursor), list(data)


def build_hscan(
    name: KeyT,
    cursor: int = 0,
    match: EncodableT | None = None,
    count: int | None = None,
    no_values: bool | None = None,
) -> Request[Any]:
    """HSCAN: ``(next cursor, {field: value})``; with `no_values` ``(cursor, [field, ...])``."""
    args: list[Any] = ["HSCAN", name, cursor]
    if match is not None:
        args += ("MATCH", match)
    if count is not None:
        args += ("COUNT", count)
    if no_values:
        # Redis 7.4+. redis-py sends NOVALUES for no_values=False too; we send it only when
        # asked, so False means what it says.
        args.append("NOVALUES")
        return tuple(args), _scan_names
    return tuple(args), _scan_fields


class _HScanShape:
    @overload
    def __call__(
        self,
        name: KeyT,
        cursor: int = ...,
        match: EncodableT | None = ...,
        count: int | None = ...,
        no_values: Literal[False] | None = ...,
    ) -> Awaitable[tuple[int, dict[Any, Any]]]: ...
    @overload
    def __call__(
        self,
        name: KeyT,
        cursor: int = ...,
        match: EncodableT | None = ...,
        count: int | None = ...,
        *,
        no_values: Literal[True],
    ) -> Awaitable[tuple[int, list[Any]]]: ...
    @overload
    def __call__(
        self,
        name: KeyT,
        cursor: int,
        match: EncodableT | None,
        count: int | None,
        no_values: Literal[True],
    ) -> Awaitable[tuple[int, list[Any]]]: ...
    @overload
    def __call__(
        self,
        name: KeyT,
        cursor: int = ...,
        match: EncodableT | None = ...,
        count: int | None = ...,
        no_values: bool | None = ...,
    ) -> Awaitable[tuple[int, dict[Any, Any] | list[Any]]]: ...

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        raise NotImplementedError


class HashCommands:
    """Hash commands (`command` descriptors; see `anyredis_auth._commands._core`)."""

    hset = command(_hset)
    hsetnx = command(_hsetnx)
    hmset = command(_hmset)
    hget = command(_hget)
    hmget = command(_hmget)
    hgetall = command(_hgetall)
    hdel = command(_hdel)
    hexists = command(_hexists)
    hincrby = command(_hincrby)
    hincrbyfloat = command(_hincrbyfloat)
    hkeys = command(_hkeys)
    hvals = command(_hvals)
    hlen = command(_hlen)
    hstrlen = command(_hstrlen)
    hrandfield = overloaded(_hrandfield, _HRandFieldShape)
    hscan = overloaded(build_hscan, _HScanShape)
