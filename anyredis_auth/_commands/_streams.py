"""Stream commands: XADD, XREAD, consumer groups, XPENDING, XCLAIM, XINFO, ...

The replies take redis-py's classic (RESP2) shapes under both protocols: an entry is an
``(id, {field: value})`` tuple, XREAD/XREADGROUP give ``[[stream, entries], ...]`` (RESP3 sends a
map), and the XINFO / XPENDING replies are dicts with str keys.

``xread`` and ``xreadgroup`` with ``block`` are blocking commands: a connection runs them on a
dedicated connection of its pool, and a pipeline refuses them when they are queued.
"""

from __future__ import annotations

from collections.abc import Awaitable, Mapping
from typing import Any, Literal, overload

from ..protocol import CommandArg
from ._core import EncodableT, KeyT, Request, command, overloaded
from ._replies import ok, to_bool

__all__ = ["LEFT_TO_EXECUTE", "StreamCommands"]

#: A stream entry ID: ``"1-1"``, ``"*"``, ``"$"``, ``">"``, a millisecond time, ...
StreamIdT = int | KeyT
#: A consumer group's name.
GroupT = KeyT
#: A consumer's name.
ConsumerT = KeyT

Entry = tuple[Any, dict[Any, Any]]
#: What redis-py gives for an entry the server sends as nil (XCLAIM of a deleted entry, Redis 6).
_GONE: Any = (None, None)

#: Server commands of the ``stream`` group (COMMAND DOCS) without a method, and why.
LEFT_TO_EXECUTE: dict[str, str] = {
    "XSETID": "internal: a primary replicates a stream's last ID with it (redis-py has no method)",
    "XGROUP HELP": "help text for humans",
    "XINFO HELP": "help text for humans",
}


# -- parsers -------------------------------------------------------------------------------------


def _fields(reply: Any) -> dict[Any, Any]:
    """An entry's flat ``[field, value, ...]`` as a dict (a deleted entry's nil as ``{}``)."""
    if reply is None:
        return {}
    if isinstance(reply, dict):
        return reply
    pairs = iter(reply)
    return dict(zip(pairs, pairs, strict=False))


def _entries(reply: Any) -> list[Entry]:
    """Entries as ``(id, fields)`` tuples; an entry the server sends as nil as ``(None, None)``."""
    if reply is None:
        return []
    return [_GONE if entry is None else (entry[0], _fields(entry[1])) for entry in reply]


def _text(key: Any) -> str:
    """A field name the server defines, as str (redis-py decodes those names even in bytes mode)."""
    if isinstance(key, bytes):
        return key.decode("utf-8", "replace")
    return str(key)


def _info(reply: Any) -> dict[str, Any]:
    """A RESP3 map or a RESP2 flat list of ``name, value`` pairs, as a dict with str keys."""
    if isinstance(reply, dict):
        return {_text(key): value for key, value in reply.items()}
    pairs = iter(reply)
    return {_text(key): value for key, value in zip(pairs, pairs, strict=False)}


def _info_list(reply: Any) -> list[dict[str, Any]]:
    """XINFO GROUPS / CONSUMERS: one str-keyed dict per group or consumer."""
    return [_info(item) for item in reply]


def _read(reply: Any) -> list[list[Any]]:
    """XREAD / XREADGROUP: ``[[stream, entries], ...]`` (RESP3's map turned into that list)."""
    if not reply:
        return []
    if isinstance(reply, dict):
        return [[stream, _entries(entries)] for stream, entries in reply.items()]
    return [[stream, _entries(entries)] for stream, entries in reply]


def _pending(reply: Any) -> dict[str, Any]:
    """XPENDING's summary: pending count, lowest and highest ID, and the count per consumer."""
    consumers = [{"name": name, "pending": int(count)} for name, count in reply[3] or ()]
    return {"pending": reply[0], "min": reply[1], "max": reply[2], "consumers": consumers}


_PENDING_KEYS = ("message_id", "consumer", "time_since_delivered", "times_delivered")


def _pending_range(reply: Any) -> list[dict[str, Any]]:
    """XPENDING's extended form: a dict per pending entry."""
    return [dict(zip(_PENDING_KEYS, entry, strict=False)) for entry in reply]


def _autoclaim(reply: Any) -> list[Any]:
    """XAUTOCLAIM: ``[next start ID, claimed entries, deleted IDs]``."""
    return [reply[0], _entries(reply[1]), *reply[2:]]


def _autoclaim_ids(reply: Any) -> list[Any]:
    """XAUTOCLAIM ... JUSTID: the claimed IDs alone."""
    return list(reply[1])


def _stream_info(reply: Any) -> dict[str, Any]:
    """XINFO STREAM: a str-keyed dict, with first-entry and last-entry as ``(id, fields)``."""
    data = _info(reply)
    for name in ("first-entry", "last-entry"):
        entry = data.get(name)
        if entry is not None and entry[0] is not None:
            data[name] = (entry[0], _fields(entry[1]))
    return data


def _stream_info_full(reply: Any) -> dict[str, Any]:
    """XINFO STREAM FULL: entries as ``{id: fields}``, groups and their consumers as dicts."""
    data = _info(reply)
    data["entries"] = {entry[0]: _fields(entry[1]) for entry in data["entries"]}
    groups = [_info(group) for group in data["groups"]]
    for group in groups:
        consumers = group.get("consumers")
        if consumers:
            group["consumers"] = [_info(consumer) for consumer in consumers]
    data["groups"] = groups
    return data


# -- builders ------------------------------------------------------------------------------------


def _xadd(
    name: KeyT,
    fields: Mapping[EncodableT, EncodableT],
    id: StreamIdT = "*",
    maxlen: int | None = None,
    approximate: bool = True,
    nomkstream: bool = False,
    minid: StreamIdT | None = None,
    limit: int | None = None,
) -> Request[Any]:
    """XADD: the new entry's ID (None when `nomkstream` and the stream does not exist)."""
    if maxlen is not None and minid is not None:
        raise ValueError("XADD takes maxlen or minid, not both")
    if not fields:
        raise ValueError("XADD needs a non-empty dict of fields")
    args: list[CommandArg] = ["XADD", name]
    if nomkstream:
        args.append("NOMKSTREAM")
    if maxlen is not None:
        if not isinstance(maxlen, int) or maxlen < 0:
            raise ValueError("XADD maxlen must be a non-negative integer")
        args += ("MAXLEN", "~", maxlen) if approximate else ("MAXLEN", maxlen)
    if minid is not None:
        args += ("MINID", "~", minid) if approximate else ("MINID", minid)
    if limit is not None:
        args += ("LIMIT", limit)
    args.append(id)
    for pair in fields.items():
        args += pair
    return tuple(args), None


def _xlen(name: KeyT) -> Request[int]:
    """XLEN: the number of entries."""
    return ("XLEN", name), None


def _range_args(
    command: str, name: KeyT, first: StreamIdT, last: StreamIdT, count: int | None
) -> tuple[CommandArg, ...]:
    if count is None:
        return (command, name, first, last)
    if not isinstance(count, int) or count < 1:
        raise ValueError(f"{command} count must be a positive integer")
    return (command, name, first, last, "COUNT", count)


def _xrange(
    name: KeyT, min: StreamIdT = "-", max: StreamIdT = "+", count: int | None = None
) -> Request[list[Entry]]:
    """XRANGE: the entries from `min` to `max` as ``(id, {field: value})`` tuples."""
    return _range_args("XRANGE", name, min, max, count), _entries


def _xrevrange(
    name: KeyT, max: StreamIdT = "+", min: StreamIdT = "-", count: int | None = None
) -> Request[list[Entry]]:
    """XREVRANGE: the entries from `max` down to `min` as ``(id, {field: value})`` tuples."""
    return _range_args("XREVRANGE", name, max, min, count), _entries


def _xdel(name: KeyT, *ids: StreamIdT) -> Request[int]:
    """XDEL: the number of entries deleted."""
    return ("XDEL", name, *ids), None


def _xtrim(
    name: KeyT,
    maxlen: int | None = None,
    approximate: bool = True,
    minid: StreamIdT | None = None,
    limit: int | None = None,
) -> Request[int]:
    """XTRIM: the number of entries deleted."""
    if maxlen is not None and minid is not None:
        raise ValueError("XTRIM takes maxlen or minid, not both")
    args: list[CommandArg] = ["XTRIM", name]
    if maxlen is not None:
        args.append("MAXLEN")
    elif minid is not None:
        args.append("MINID")
    else:
        raise ValueError("XTRIM needs maxlen or minid")
    if approximate:
        args.append("~")
    args.append(maxlen if maxlen is not None else minid)  # type: ignore[arg-type]  # one is set
    if limit is not None:
        args += ("LIMIT", limit)
    return tuple(args), None


def _block(command: str, args: list[CommandArg], block: int | None) -> None:
    if block is not None:
        if not isinstance(block, int) or block < 0:
            raise ValueError(f"{command} block must be a non-negative integer")
        args += ("BLOCK", block)


def _count(command: str, args: list[CommandArg], count: int | None) -> None:
    if count is not None:
        if not isinstance(count, int) or count < 1:
            raise ValueError(f"{command} count must be a positive integer")
        args += ("COUNT", count)


def _streams(command: str, args: list[CommandArg], streams: Mapping[KeyT, StreamIdT]) -> None:
    if not streams:
        raise ValueError(f"{command} needs a non-empty dict of streams")
    args.append("STREAMS")
    args += streams.keys()
    args += streams.values()


def _xread(
    streams: Mapping[KeyT, StreamIdT], count: int | None = None, block: int | None = None
) -> Request[list[list[Any]]]:
    """XREAD: ``[[stream, [(id, {field: value}), ...]], ...]``; ``[]`` when nothing came."""
    args: list[CommandArg] = ["XREAD"]
    _block("XREAD", args, block)
    _count("XREAD", args, count)
    _streams("XREAD", args, streams)
    return tuple(args), _read


def _xreadgroup(
    groupname: GroupT,
    consumername: ConsumerT,
    streams: Mapping[KeyT, StreamIdT],
    count: int | None = None,
    block: int | None = None,
    noack: bool = False,
) -> Request[list[list[Any]]]:
    """XREADGROUP: ``[[stream, [(id, {field: value}), ...]], ...]``; ``[]`` when nothing came."""
    args: list[CommandArg] = ["XREADGROUP", "GROUP", groupname, consumername]
    _count("XREADGROUP", args, count)
    _block("XREADGROUP", args, block)
    if noack:
        args.append("NOACK")
    _streams("XREADGROUP", args, streams)
    return tuple(args), _read


def _xgroup_create(
    name: KeyT,
    groupname: GroupT,
    id: StreamIdT = "$",
    mkstream: bool = False,
    entries_read: int | None = None,
) -> Request[bool]:
    """XGROUP CREATE: True."""
    args: list[CommandArg] = ["XGROUP", "CREATE", name, groupname, id]
    if mkstream:
        args.append("MKSTREAM")
    if entries_read is not None:
        args += ("ENTRIESREAD", entries_read)
    return tuple(args), ok


def _xgroup_destroy(name: KeyT, groupname: GroupT) -> Request[bool]:
    """XGROUP DESTROY: whether the group existed."""
    return ("XGROUP", "DESTROY", name, groupname), to_bool


def _xgroup_setid(
    name: KeyT, groupname: GroupT, id: StreamIdT, entries_read: int | None = None
) -> Request[bool]:
    """XGROUP SETID: True."""
    if entries_read is None:
        return ("XGROUP", "SETID", name, groupname, id), ok
    return ("XGROUP", "SETID", name, groupname, id, "ENTRIESREAD", entries_read), ok


def _xgroup_createconsumer(name: KeyT, groupname: GroupT, consumername: ConsumerT) -> Request[int]:
    """XGROUP CREATECONSUMER: 1 if the consumer was created, 0 if it existed."""
    return ("XGROUP", "CREATECONSUMER", name, groupname, consumername), None


def _xgroup_delconsumer(name: KeyT, groupname: GroupT, consumername: ConsumerT) -> Request[int]:
    """XGROUP DELCONSUMER: the number of entries the consumer had pending."""
    return ("XGROUP", "DELCONSUMER", name, groupname, consumername), None


def _xack(name: KeyT, groupname: GroupT, *ids: StreamIdT) -> Request[int]:
    """XACK: the number of entries acknowledged."""
    return ("XACK", name, groupname, *ids), None


def _xpending(name: KeyT, groupname: GroupT) -> Request[dict[str, Any]]:
    """XPENDING: ``{"pending": n, "min": id, "max": id, "consumers": [{"name", "pending"}]}``."""
    return ("XPENDING", name, groupname), _pending


def _xpending_range(
    name: KeyT,
    groupname: GroupT,
    min: StreamIdT,
    max: StreamIdT,
    count: int,
    consumername: ConsumerT | None = None,
    idle: int | None = None,
) -> Request[list[dict[str, Any]]]:
    """XPENDING with a range: a dict per pending entry (message_id, consumer, times...)."""
    if min is None and max is None and count is None:
        # redis-py answers the summary then (untyped there too)
        if idle is not None or consumername is not None:
            raise ValueError("XPENDING with idle or consumername needs min, max and count")
        return _xpending(name, groupname)
    if min is None or max is None or count is None:
        raise ValueError("XPENDING needs min, max and count, or none of them")
    args: list[CommandArg] = ["XPENDING", name, groupname]
    if idle is not None:
        if int(idle) < 0:
            raise ValueError("XPENDING idle must be an integer >= 0")
        args += ("IDLE", idle)
    if int(count) < 0:
        raise ValueError("XPENDING count must be an integer >= 0")
    args += (min, max, count)
    if consumername:
        args.append(consumername)
    return tuple(args), _pending_range


def _xclaim(
    name: KeyT,
    groupname: GroupT,
    consumername: ConsumerT,
    min_idle_time: int,
    message_ids: list[StreamIdT] | tuple[StreamIdT, ...],
    idle: int | None = None,
    time: int | None = None,
    retrycount: int | None = None,
    force: bool = False,
    justid: bool = False,
) -> Request[Any]:
    """XCLAIM: the claimed entries as ``(id, {field: value})`` tuples, their IDs with `justid`."""
    if not isinstance(min_idle_time, int) or min_idle_time < 0:
        raise ValueError("XCLAIM min_idle_time must be a non-negative integer")
    if not isinstance(message_ids, list | tuple) or not message_ids:
        raise ValueError("XCLAIM message_ids must be a non-empty list or tuple of IDs")
    args: list[CommandArg] = ["XCLAIM", name, groupname, consumername, min_idle_time]
    args += message_ids
    if idle is not None:
        args += ("IDLE", idle)
    if time is not None:
        args += ("TIME", time)
    if retrycount is not None:
        args += ("RETRYCOUNT", retrycount)
    if force:
        args.append("FORCE")
    if justid:
        args.append("JUSTID")
        return tuple(args), None
    return tuple(args), _entries


class _XClaim:
    """`xclaim`'s reply: entries, or IDs with ``justid=True``."""

    @overload
    def __call__(
        self,
        name: KeyT,
        groupname: GroupT,
        consumername: ConsumerT,
        min_idle_time: int,
        message_ids: list[StreamIdT] | tuple[StreamIdT, ...],
        idle: int | None = ...,
        time: int | None = ...,
        retrycount: int | None = ...,
        force: bool = ...,
        justid: Literal[False] = ...,
    ) -> Awaitable[list[Entry]]: ...
    @overload
    def __call__(
        self,
        name: KeyT,
        groupname: GroupT,
        consumername: ConsumerT,
        min_idle_time: int,
        message_ids: list[StreamIdT] | tuple[StreamIdT, ...],
        idle: int | None = ...,
        time: int | None = ...,
        retrycount: int | None = ...,
        force: bool = ...,
        *,
        justid: Literal[True],
    ) -> Awaitable[list[Any]]: ...
    @overload
    def __call__(
        self,
        name: KeyT,
        groupname: GroupT,
        consumername: ConsumerT,
        min_idle_time: int,
        message_ids: list[StreamIdT] | tuple[StreamIdT, ...],
        idle: int | None,
        time: int | None,
        retrycount: int | None,
        force: bool,
        justid: Literal[True],
    ) -> Awaitable[list[Any]]: ...
    @overload
    def __call__(
        self,
        name: KeyT,
        groupname: GroupT,
        consumername: ConsumerT,
        min_idle_time: int,
        message_ids: list[StreamIdT] | tuple[StreamIdT, ...],
        idle: int | None = ...,
        time: int | None = ...,
        retrycount: int | None = ...,
        force: bool = ...,
        justid: bool = ...,
    ) -> Awaitable[list[Any]]: ...
    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        raise NotImplementedError


def _xautoclaim(
    name: KeyT,
    groupname: GroupT,
    consumername: ConsumerT,
    min_idle_time: int,
    start_id: StreamIdT = "0-0",
    count: int | None = None,
    justid: bool = False,
) -> Request[list[Any]]:
    """XAUTOCLAIM: ``[next start ID, claimed entries, deleted IDs]``; the IDs with `justid`."""
    if int(min_idle_time) < 0:
        raise ValueError("XAUTOCLAIM min_idle_time must be a non-negative integer")
    args: list[CommandArg] = ["XAUTOCLAIM", name, groupname, consumername, min_idle_time, start_id]
    if count is not None:
        if int(count) < 0:
            raise ValueError("XAUTOCLAIM count must be an integer >= 0")
        args += ("COUNT", count)
    if justid:
        args.append("JUSTID")
        return tuple(args), _autoclaim_ids
    return tuple(args), _autoclaim


def _xinfo_stream(name: KeyT, full: bool = False) -> Request[dict[str, Any]]:
    """XINFO STREAM: a dict of the stream's details (entries and groups in full with `full`)."""
    if full:
        return ("XINFO", "STREAM", name, "FULL"), _stream_info_full
    return ("XINFO", "STREAM", name), _stream_info


def _xinfo_groups(name: KeyT) -> Request[list[dict[str, Any]]]:
    """XINFO GROUPS: a dict per consumer group."""
    return ("XINFO", "GROUPS", name), _info_list


def _xinfo_consumers(name: KeyT, groupname: GroupT) -> Request[list[dict[str, Any]]]:
    """XINFO CONSUMERS: a dict per consumer of the group."""
    return ("XINFO", "CONSUMERS", name, groupname), _info_list


class StreamCommands:
    """Stream commands: XADD, XREAD, consumer groups, XPENDING, XCLAIM, XINFO, ..."""

    xack = command(_xack)
    xadd = command(_xadd)
    xautoclaim = command(_xautoclaim)
    xclaim = overloaded(_xclaim, _XClaim)
    xdel = command(_xdel)
    xgroup_create = command(_xgroup_create)
    xgroup_createconsumer = command(_xgroup_createconsumer)
    xgroup_delconsumer = command(_xgroup_delconsumer)
    xgroup_destroy = command(_xgroup_destroy)
    xgroup_setid = command(_xgroup_setid)
    xinfo_consumers = command(_xinfo_consumers)
    xinfo_groups = command(_xinfo_groups)
    xinfo_stream = command(_xinfo_stream)
    xlen = command(_xlen)
    xpending = command(_xpending)
    xpending_range = command(_xpending_range)
    xrange = command(_xrange)
    xread = command(_xread)
    xreadgroup = command(_xreadgroup)
    xrevrange = command(_xrevrange)
    xtrim = command(_xtrim)
