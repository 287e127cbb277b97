"""Server and connection basics: PING, ECHO, INFO, DBSIZE, TIME, CONFIG, SLOWLOG, CLIENT ID, ...

Only what makes sense on a *shared* connection has a method: commands that would change the
session of every sharer, or break the one-reply-per-command stream, are refused by the
connection itself (see ``anyredis_auth.protocol._routing``); server administration (SHUTDOWN,
REPLICAOF, DEBUG, ACL SETUSER, ...) is left to `execute`, where its raw reply is as good.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from ._core import EncodableT, KeyT, Request, command
from ._replies import maps_as_pairs, ok, pairs_to_dict, text, to_bool

__all__ = ["LEFT_TO_EXECUTE", "ServerCommands"]

_REFUSED = "refused on a shared connection: "
_ADMIN = "server administration"
_ACL_ADMIN = "ACL administration"
_REPLICATION = "replication internals (spoken between servers)"
#: Server and connection commands without a method, and why.
LEFT_TO_EXECUTE: dict[str, str] = {
    # connection: refused, or changing the session of every sharer
    "AUTH": _REFUSED + "credentials are managed by the client (URL or credentials provider)",
    "HELLO": _REFUSED + "the protocol is chosen with the 'protocol' option",
    "SELECT": _REFUSED + "the database is chosen with the 'db' option or the URL path",
    "QUIT": _REFUSED + "close the client (leave `async with client`) instead",
    "RESET": _REFUSED + "it would drop the authentication and settings of every sharer",
    "CLIENT REPLY": _REFUSED + "it would leave commands without replies",
    "CLIENT SETNAME": "renames the connection of every sharer, and is lost on reconnection",
    "CLIENT NO-EVICT": "changes the connection of every sharer: use a dedicated connection",
    "CLIENT TRACKING": "client-side caching pushes invalidations into the connection of every "
    "sharer: use a dedicated connection",
    "CLIENT CACHING": "only meaningful with CLIENT TRACKING, which is left to execute",
    "CLIENT KILL": _ADMIN + " (it can close this shared connection too)",
    "CLIENT PAUSE": _ADMIN + " (it stalls every client of the server)",
    "CLIENT UNPAUSE": _ADMIN,
    # server: refused, administration, internals
    "MONITOR": _REFUSED + "it turns the connection into a feed: use a dedicated client",
    "SHUTDOWN": _ADMIN,
    "DEBUG": "debugging only (it can crash or stall the server)",
    "FAILOVER": _ADMIN,
    "REPLICAOF": _ADMIN,
    "SLAVEOF": _ADMIN + " (the old name of REPLICAOF)",
    "SAVE": _ADMIN + " (it blocks the server while it writes)",
    "BGSAVE": _ADMIN,
    "BGREWRITEAOF": _ADMIN,
    "SWAPDB": _ADMIN + " (it swaps databases under every client)",
    "PSYNC": _REPLICATION,
    "SYNC": _REPLICATION,
    "REPLCONF": _REPLICATION,
    "RESTORE-ASKING": "cluster internals (sent by MIGRATE between nodes)",
    "MODULE LOAD": _ADMIN,
    "MODULE LOADEX": _ADMIN,
    "MODULE UNLOAD": _ADMIN,
    "ACL DELUSER": _ACL_ADMIN,
    "ACL DRYRUN": _ACL_ADMIN,
    "ACL GENPASS": _ACL_ADMIN,
    "ACL GETUSER": _ACL_ADMIN,
    "ACL LIST": _ACL_ADMIN,
    "ACL LOAD": _ACL_ADMIN,
    "ACL LOG": _ACL_ADMIN,
    "ACL SAVE": _ACL_ADMIN,
    "ACL SETUSER": _ACL_ADMIN,
    "ACL USERS": _ACL_ADMIN,
    "COMMAND DOCS": "redis-py leaves it out; its large nested reply reads well raw (execute)",
    "COMMAND INFO": "redis-py leaves it out; its large nested reply reads well raw (execute)",
    "MEMORY DOCTOR": "a report for humans (redis-cli); redis-py leaves it out too",
    "LATENCY DOCTOR": "a report for humans (redis-cli); redis-py leaves it out too",
    "LATENCY GRAPH": "an ASCII-art graph for humans (redis-cli); redis-py leaves it out too",
    "LATENCY HISTOGRAM": "redis-py leaves it out; its nested reply reads well raw (execute)",
}

_CLIENT_TYPES = ("normal", "master", "replica", "pubsub")
#: CLIENT INFO fields that are numbers (as redis-py converts them).
_CLIENT_INT_FIELDS = frozenset(
    {"id", "age", "idle", "db", "sub", "psub", "multi", "qbuf", "qbuf-free", "obl",
     "argv-mem", "oll", "omem", "tot-mem"}
)  # fmt: skip


# -- parsers -----------------------------------------------------------------------------------


def _is_pong(reply: Any) -> bool:
    return bool(text(reply) == "PONG")


def _info_value(value: str) -> Any:
    """One INFO value typed as redis-py types it: a number, a list, a dict, or the text."""
    if "=" in value:
        fields: dict[str, Any] = {}
        for item in value.split(","):
            if "=" in item:
                name, _, raw = item.rpartition("=")
                fields[name] = _info_value(raw)
            elif item:
                fields[item] = True
        return fields
    if "," in value:
        return [_info_value(item) for item in value.split(",") if item]
    try:
        return float(value) if "." in value else int(value)
    except ValueError:
        return value


def _info(reply: Any) -> dict[str, Any]:
    info: dict[str, Any] = {}
    for line in text(reply).splitlines():
        if not line or line.startswith("#"):
            continue
        if ":" not in line:
            info.setdefault("__raw__", []).append(line)
            continue
        name, _, value = line.partition(":")
        if name == "cmdstat_host":  # the one field whose *name* holds a colon
            name, _, value = line.rpartition(":")
        if name == "module":  # one line per module: collected into a list
            info.setdefault("modules", []).append(_info_value(value))
        else:
            info[name] = _info_value(value)
    return info


def _time(reply: Any) -> tuple[int, int]:
    return int(reply[0]), int(reply[1])


def _lastsave(reply: Any) -> datetime | None:
    try:
        return datetime.fromtimestamp(int(reply)) if reply else None
    except ValueError:
        return None


def _optional_text(reply: Any) -> Any:
    return None if reply is None else text(reply)


def _config(reply: Any) -> dict[Any, Any]:
    pairs = reply.items() if isinstance(reply, dict) else zip(reply[::2], reply[1::2], strict=True)
    return {_optional_text(name): _optional_text(value) for name, value in pairs}


def _stat(value: Any) -> Any:
    # RESP3 sends doubles where RESP2 sends their "%.17g" text (which redis-py keeps as text).
    return format(value, ".17g") if isinstance(value, float) else text(value)


def _memory_stats(reply: Any) -> dict[str, Any]:
    stats: dict[str, Any] = {}
    for name, value in pairs_to_dict(reply).items():
        name = text(name)
        if name.startswith("db.") and isinstance(value, list | dict):
            stats[name] = {text(k): _stat(v) for k, v in pairs_to_dict(value).items()}
        else:
            stats[name] = _stat(value)
    return stats


def _client_info_fields(line: str) -> dict[str, Any]:
    fields: dict[str, Any] = {}
    for token in line.split():
        name, value = token.split("=")
        fields[name] = int(value) if name in _CLIENT_INT_FIELDS else value
    return fields


def _client_info(reply: Any) -> dict[str, Any]:
    return _client_info_fields(text(reply).strip())


def _client_list(reply: Any) -> list[dict[str, str]]:
    clients = []
    for line in text(reply).splitlines():
        fields: dict[str, str] = {}
        last = ""
        for token in line.split(" "):
            name, equals, value = token.partition("=")
            if equals:  # values may hold "=" too: the name ends at the first one
                fields[name] = value
                last = name
            else:  # a value holding a space (a unix socket path): belongs to the last field
                fields[last] += " " + token
        if fields:
            clients.append(fields)
    return clients


def _text_list(reply: Any) -> list[Any]:
    return [text(item) for item in reply]


def _tracking_info(reply: Any) -> list[Any]:
    return [text(item) for item in maps_as_pairs(reply)]


def _raw_bytes(value: Any) -> Any:
    # redis-py reads SLOWLOG GET undecoded: its text is bytes whatever decode_responses says.
    return value.encode("utf-8", "surrogateescape") if isinstance(value, str) else value


def _slowlog(reply: Any) -> list[dict[str, Any]]:
    entries = []
    for item in reply:
        entry: dict[str, Any] = {
            "id": item[0],
            "start_time": int(item[1]),
            "duration": int(item[2]),
        }
        # Redis Enterprise puts a complexity hint before the command's arguments.
        at = 3 if isinstance(item[3], list) else 4
        if at == 4:
            entry["complexity"] = _raw_bytes(item[3])
        entry["command"] = b" ".join(_raw_bytes(arg) for arg in item[at])
        if len(item) >= at + 3:
            entry["client_address"] = _raw_bytes(item[at + 1])
            entry["client_name"] = _raw_bytes(item[at + 2])
        entries.append(entry)
    return entries


def _module_list(reply: Any) -> list[dict[Any, Any]]:
    return [pairs_to_dict(module) for module in reply]


# -- connection --------------------------------------------------------------------------------


def _ping() -> Request[bool]:
    """PING: True when the server answers PONG."""
    return ("PING",), _is_pong


def _echo(value: EncodableT) -> Request[Any]:
    """ECHO: `value` as the server sends it back."""
    return ("ECHO", value), None


def _client_id() -> Request[int]:
    """CLIENT ID: the id of this (shared) connection."""
    return ("CLIENT", "ID"), None


def _client_getname() -> Request[str | None]:
    """CLIENT GETNAME: the connection's name as a str, or None."""
    return ("CLIENT", "GETNAME"), _optional_text


def _client_info_builder() -> Request[dict[str, Any]]:
    """CLIENT INFO: this connection's fields, numbers as ints."""
    return ("CLIENT", "INFO"), _client_info


def _client_list_builder(
    _type: str | None = None, client_id: Sequence[EncodableT] = ()
) -> Request[list[dict[str, str]]]:
    """CLIENT LIST (of one type, or these ids): a dict of text fields per client."""
    args: list[Any] = ["CLIENT", "LIST"]
    if _type is not None:
        if str(_type).lower() not in _CLIENT_TYPES:
            raise ValueError(f"CLIENT LIST _type must be one of {_CLIENT_TYPES!r}")
        args += ("TYPE", _type)
    if client_id:
        args.append("ID")
        args += client_id
    return tuple(args), _client_list


def _client_getredir() -> Request[int]:
    """CLIENT GETREDIR: the client receiving this connection's tracking messages, or -1."""
    return ("CLIENT", "GETREDIR"), None


def _client_unblock(client_id: int, error: bool = False) -> Request[bool]:
    """CLIENT UNBLOCK a client blocked in a command (``error``: with an error): whether it was."""
    if error:
        return ("CLIENT", "UNBLOCK", int(client_id), "ERROR"), to_bool
    return ("CLIENT", "UNBLOCK", int(client_id)), to_bool


def _client_trackinginfo() -> Request[list[Any]]:
    """CLIENT TRACKINGINFO: ``[name, value, ...]`` (names as str)."""
    return ("CLIENT", "TRACKINGINFO"), _tracking_info


# -- server ------------------------------------------------------------------------------------


def _info_builder(section: str | None = None, *args: str) -> Request[dict[str, Any]]:
    """INFO (a section, or several): ``{field: value}``, numbers typed, all sections merged."""
    if section is None:
        return ("INFO",), _info
    return ("INFO", section, *args), _info


def _dbsize() -> Request[int]:
    """DBSIZE: the number of keys in the database."""
    return ("DBSIZE",), None


def _time_builder() -> Request[tuple[int, int]]:
    """TIME: the server's clock as ``(seconds, microseconds)``."""
    return ("TIME",), _time


def _lastsave_builder() -> Request[datetime | None]:
    """LASTSAVE: the last successful save as a local (naive) datetime."""
    return ("LASTSAVE",), _lastsave


def _config_get(pattern: KeyT = "*", *args: KeyT) -> Request[dict[Any, Any]]:
    """CONFIG GET: ``{name: value}`` of the parameters matching the patterns, as str."""
    return ("CONFIG", "GET", pattern, *args), _config


def _config_set(name: KeyT, value: EncodableT, *args: KeyT | EncodableT) -> Request[bool]:
    """CONFIG SET `name` to `value` (and more pairs): True."""
    return ("CONFIG", "SET", name, value, *args), ok


def _config_resetstat() -> Request[bool]:
    """CONFIG RESETSTAT: True."""
    return ("CONFIG", "RESETSTAT"), ok


def _config_rewrite() -> Request[Any]:
    """CONFIG REWRITE the server's config file: ``OK`` as sent."""
    return ("CONFIG", "REWRITE"), None


def _flushdb(asynchronous: bool = False) -> Request[bool]:
    """FLUSHDB (``asynchronous``: in the background): True."""
    return (("FLUSHDB", "ASYNC") if asynchronous else ("FLUSHDB",)), ok


def _flushall(asynchronous: bool = False) -> Request[bool]:
    """FLUSHALL databases (``asynchronous``: in the background): True."""
    return (("FLUSHALL", "ASYNC") if asynchronous else ("FLUSHALL",)), ok


def _memory_usage(key: KeyT, samples: int | None = None) -> Request[int | None]:
    """MEMORY USAGE: the bytes `key` takes (``samples`` nested elements), or None."""
    if isinstance(samples, int):
        return ("MEMORY", "USAGE", key, "SAMPLES", samples), None
    return ("MEMORY", "USAGE", key), None


def _memory_stats_builder() -> Request[dict[str, Any]]:
    """MEMORY STATS: ``{field: value}`` (text as str, ``db.N`` as a dict)."""
    return ("MEMORY", "STATS"), _memory_stats


def _memory_purge() -> Request[bool]:
    """MEMORY PURGE the allocator's dirty pages: True."""
    return ("MEMORY", "PURGE"), ok


def _memory_malloc_stats() -> Request[Any]:
    """MEMORY MALLOC-STATS: the allocator's report, as text."""
    return ("MEMORY", "MALLOC-STATS"), None


def _slowlog_get(num: int | None = None) -> Request[list[dict[str, Any]]]:
    """SLOWLOG GET (the newest `num`): a dict per entry; its text is bytes (as in redis-py)."""
    if num is None:
        return ("SLOWLOG", "GET"), _slowlog
    return ("SLOWLOG", "GET", num), _slowlog


def _slowlog_len() -> Request[int]:
    """SLOWLOG LEN: the number of entries."""
    return ("SLOWLOG", "LEN"), None


def _slowlog_reset() -> Request[bool]:
    """SLOWLOG RESET: True."""
    return ("SLOWLOG", "RESET"), ok


def _command_count() -> Request[int]:
    """COMMAND COUNT: the number of commands the server knows."""
    return ("COMMAND", "COUNT"), None


def _command_list(
    module: str | None = None, category: str | None = None, pattern: str | None = None
) -> Request[list[Any]]:
    """COMMAND LIST (FILTERBY a module, an ACL category or a pattern): the command names."""
    args: list[Any] = ["COMMAND", "LIST"]
    if module is not None or category is not None or pattern is not None:
        args.append("FILTERBY")
        if module is not None:
            args += ("MODULE", module)
        if category is not None:
            args += ("ACLCAT", category)
        if pattern is not None:
            args += ("PATTERN", pattern)
    return tuple(args), None


def _command_getkeys(*args: EncodableT) -> Request[list[Any]]:
    """COMMAND GETKEYS of a whole command: its keys, as str."""
    return ("COMMAND", "GETKEYS", *args), _text_list


def _command_getkeysandflags(*args: EncodableT) -> Request[list[Any]]:
    """COMMAND GETKEYSANDFLAGS of a whole command: ``[key, [flags]]`` per key."""
    return ("COMMAND", "GETKEYSANDFLAGS", *args), None


def _lolwut(*version_numbers: str | float) -> Request[Any]:
    """LOLWUT (a VERSION and its parameters): the server's version and some art, as text."""
    if version_numbers:
        return ("LOLWUT", "VERSION", *version_numbers), None
    return ("LOLWUT",), None


def _role() -> Request[list[Any]]:
    """ROLE: the server's replication role and its details."""
    return ("ROLE",), None


def _latency_history(event: str) -> Request[list[Any]]:
    """LATENCY HISTORY of an event: ``[timestamp, latency]`` pairs."""
    return ("LATENCY", "HISTORY", event), None


def _latency_latest() -> Request[list[Any]]:
    """LATENCY LATEST: ``[event, timestamp, latest, max]`` per event."""
    return ("LATENCY", "LATEST"), None


def _latency_reset(*events: str) -> Request[int]:
    """LATENCY RESET (these events, or all): the number of series reset."""
    return ("LATENCY", "RESET", *events), None


def _module_list_builder() -> Request[list[dict[Any, Any]]]:
    """MODULE LIST: a dict per loaded module."""
    return ("MODULE", "LIST"), _module_list


def _acl_whoami() -> Request[str]:
    """ACL WHOAMI: the user this connection is authenticated as, as a str."""
    return ("ACL", "WHOAMI"), text


def _acl_cat(category: str | None = None) -> Request[list[str]]:
    """ACL CAT: the ACL categories, or the commands of one, as str."""
    if category:
        return ("ACL", "CAT", category), _text_list
    return ("ACL", "CAT"), _text_list


class ServerCommands:
    """Server and connection basics (`command` descriptors)."""

    ping = command(_ping)
    echo = command(_echo)
    client_id = command(_client_id)
    client_getname = command(_client_getname)
    client_info = command(_client_info_builder)
    client_list = command(_client_list_builder)
    client_getredir = command(_client_getredir)
    client_unblock = command(_client_unblock)
    client_trackinginfo = command(_client_trackinginfo)
    info = command(_info_builder)
    dbsize = command(_dbsize)
    time = command(_time_builder)
    lastsave = command(_lastsave_builder)
    config_get = command(_config_get)
    config_set = command(_config_set)
    config_resetstat = command(_config_resetstat)
    config_rewrite = command(_config_rewrite)
    flushdb = command(_flushdb)
    flushall = command(_flushall)
    memory_usage = command(_memory_usage)
    memory_stats = command(_memory_stats_builder)
    memory_purge = command(_memory_purge)
    memory_malloc_stats = command(_memory_malloc_stats)
    slowlog_get = command(_slowlog_get)
    slowlog_len = command(_slowlog_len)
    slowlog_reset = command(_slowlog_reset)
    command_count = command(_command_count)
    command_list = command(_command_list)
    command_getkeys = command(_command_getkeys)
    command_getkeysandflags = command(_command_getkeysandflags)
    lolwut = command(_lolwut)
    role = command(_role)
    latency_history = command(_latency_history)
    latency_latest = command(_latency_latest)
    latency_reset = command(_latency_reset)
    module_list = command(_module_list_builder)
    acl_whoami = command(_acl_whoami)
    acl_cat = command(_acl_cat)
