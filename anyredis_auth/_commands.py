"""A small typed surface over `execute` for everyday commands. `execute` stays the primitive.

Replies are normalised so RESP2 and RESP3 give the same Python types (a RESP2 flat list becomes a
dict for HGETALL, a score string becomes a float, ...).
"""

from __future__ import annotations

import builtins
import hashlib
from collections.abc import AsyncIterator, Iterable, Mapping
from typing import Any

from ._errors import ResponseError

__all__ = ["Commands", "Script"]

Value = bytes | str | int | float | bytearray | memoryview
Values = Value | Iterable[Value]
"""Keys (or arguments) where a method takes several: an iterable of them, or one on its own."""

_ONE = (str, bytes, bytearray, memoryview, int, float)


def _values(given: Values) -> list[Value]:
    """`given` as a list: a str, bytes, bytearray, memoryview or number is ONE value.

    ``blpop("queue")`` waits on the key ``queue``, as redis-py does, not on the keys ``q``,
    ``u``, ``e``, ...: iterating a string or a bytes object would split it.
    """
    if isinstance(given, _ONE):
        return [given]
    return list(given)


def _pairs_to_dict(reply: Any) -> dict[Any, Any]:
    if isinstance(reply, dict):
        return reply
    return dict(zip(reply[::2], reply[1::2], strict=True))


def _score(value: Any) -> float | None:
    return None if value is None else float(value)


class Commands:
    """Typed helpers; every one is a thin wrapper around ``await self.execute(...)``."""

    async def execute(self, *args: Value) -> Any:  # pragma: no cover - provided by the connection
        raise NotImplementedError

    # -- connection ----------------------------------------------------------------------------

    async def ping(self, message: Value | None = None) -> Any:
        """PING: the server's reply as is (``PONG``, or `message` when one is given)."""
        return await (self.execute("PING") if message is None else self.execute("PING", message))

    async def echo(self, message: Value) -> Any:
        """ECHO: `message` as the server sends it back."""
        return await self.execute("ECHO", message)

    async def info(self, section: str | None = None) -> dict[str, str]:
        """INFO parsed into ``{field: value}`` (all sections flattened)."""
        raw = await (self.execute("INFO") if section is None else self.execute("INFO", section))
        text = raw.decode() if isinstance(raw, bytes) else str(raw)
        fields: dict[str, str] = {}
        for line in text.splitlines():
            if line and not line.startswith("#") and ":" in line:
                key, value = line.split(":", 1)
                fields[key] = value
        return fields

    # -- strings -------------------------------------------------------------------------------

    async def get(self, key: Value) -> Any:
        """GET: the value of `key`, or None."""
        return await self.execute("GET", key)

    async def set(
        self,
        key: Value,
        value: Value,
        *,
        ex: float | None = None,
        px: int | None = None,
        nx: bool = False,
        xx: bool = False,
        keepttl: bool = False,
        get: bool = False,
    ) -> Any:
        """SET; returns True when set (None when NX/XX prevented it), or the old value with get."""
        args: list[Value] = ["SET", key, value]
        if ex is not None:
            args += ["PX", int(ex * 1000)] if ex != int(ex) else ["EX", int(ex)]
        if px is not None:
            args += ["PX", px]
        if nx:
            args.append("NX")
        if xx:
            args.append("XX")
        if keepttl:
            args.append("KEEPTTL")
        if get:
            args.append("GET")
        reply = await self.execute(*args)
        if get:
            return reply
        return None if reply is None else True

    async def getdel(self, key: Value) -> Any:
        """GETDEL: the value of `key` (which is then deleted), or None."""
        return await self.execute("GETDEL", key)

    async def mget(self, *keys: Value) -> list[Any]:
        """MGET: the values of `keys` as a list, in order; None for each missing key."""
        return list(await self.execute("MGET", *keys))

    async def mset(self, mapping: Mapping[Value, Value]) -> bool:
        """MSET every key/value pair of `mapping`; returns True."""
        args: list[Value] = ["MSET"]
        for key, value in mapping.items():
            args += [key, value]
        await self.execute(*args)
        return True

    async def incr(self, key: Value, amount: int = 1) -> int:
        """INCR (INCRBY when `amount` is not 1): the new value, as an int."""
        reply = await (
            self.execute("INCR", key) if amount == 1 else self.execute("INCRBY", key, amount)
        )
        return int(reply)

    async def decr(self, key: Value, amount: int = 1) -> int:
        """DECR (DECRBY when `amount` is not 1): the new value, as an int."""
        reply = await (
            self.execute("DECR", key) if amount == 1 else self.execute("DECRBY", key, amount)
        )
        return int(reply)

    async def append(self, key: Value, value: Value) -> int:
        """APPEND `value` to the string at `key`: its new length."""
        return int(await self.execute("APPEND", key, value))

    async def strlen(self, key: Value) -> int:
        """STRLEN: the length of the string at `key` (0 when it is missing)."""
        return int(await self.execute("STRLEN", key))

    # -- keys and expiry -----------------------------------------------------------------------

    async def delete(self, *keys: Value) -> int:
        """DEL: the number of keys removed."""
        return int(await self.execute("DEL", *keys))

    async def unlink(self, *keys: Value) -> int:
        """UNLINK (DEL, memory reclaimed in the background): the number of keys removed."""
        return int(await self.execute("UNLINK", *keys))

    async def exists(self, *keys: Value) -> int:
        """EXISTS: how many of `keys` exist (a key given twice counts twice)."""
        return int(await self.execute("EXISTS", *keys))

    async def expire(self, key: Value, seconds: int) -> bool:
        """EXPIRE: True when the timeout (in seconds) was set, False when it was not."""
        return bool(await self.execute("EXPIRE", key, seconds))

    async def pexpire(self, key: Value, milliseconds: int) -> bool:
        """PEXPIRE: True when the timeout (in milliseconds) was set, False when it was not."""
        return bool(await self.execute("PEXPIRE", key, milliseconds))

    async def persist(self, key: Value) -> bool:
        """PERSIST: True when a timeout was removed, False when there was none (or no key)."""
        return bool(await self.execute("PERSIST", key))

    async def ttl(self, key: Value) -> int:
        """TTL in seconds: -1 when the key has no expiry, -2 when it does not exist."""
        return int(await self.execute("TTL", key))

    async def pttl(self, key: Value) -> int:
        """PTTL in milliseconds: -1 when the key has no expiry, -2 when it does not exist."""
        return int(await self.execute("PTTL", key))

    async def type(self, key: Value) -> Any:
        """TYPE: the type of the value at `key` (``string``, ``hash``, ..., ``none``), as is."""
        return await self.execute("TYPE", key)

    async def scan_iter(
        self, match: Value | None = None, count: int | None = None, type: str | None = None
    ) -> AsyncIterator[Any]:
        """Every key (matching `match`), cursor by cursor."""
        cursor: Any = 0
        while True:
            args: list[Value] = ["SCAN", cursor]
            if match is not None:
                args += ["MATCH", match]
            if count is not None:
                args += ["COUNT", count]
            if type is not None:
                args += ["TYPE", type]
            cursor, keys = await self.execute(*args)
            for key in keys:
                yield key
            if int(cursor) == 0:
                return

    # -- hashes --------------------------------------------------------------------------------

    async def hset(self, key: Value, mapping: Mapping[Value, Value]) -> int:
        """HSET every field/value pair of `mapping`: the number of fields added (not updated)."""
        args: list[Value] = ["HSET", key]
        for field, value in mapping.items():
            args += [field, value]
        return int(await self.execute(*args))

    async def hget(self, key: Value, field: Value) -> Any:
        """HGET: the value of `field` in the hash at `key`, or None."""
        return await self.execute("HGET", key, field)

    async def hmget(self, key: Value, *fields: Value) -> list[Any]:
        """HMGET: the values of `fields` as a list, in order; None for each missing field."""
        return list(await self.execute("HMGET", key, *fields))

    async def hgetall(self, key: Value) -> dict[Any, Any]:
        """HGETALL as a dict (RESP2's flat field/value list is paired up like RESP3's map)."""
        return _pairs_to_dict(await self.execute("HGETALL", key))

    async def hdel(self, key: Value, *fields: Value) -> int:
        """HDEL: the number of fields removed."""
        return int(await self.execute("HDEL", key, *fields))

    async def hexists(self, key: Value, field: Value) -> bool:
        """HEXISTS: whether `field` is in the hash at `key`."""
        return bool(await self.execute("HEXISTS", key, field))

    async def hincrby(self, key: Value, field: Value, amount: int = 1) -> int:
        """HINCRBY: the field's new value, as an int."""
        return int(await self.execute("HINCRBY", key, field, amount))

    async def hlen(self, key: Value) -> int:
        """HLEN: the number of fields (0 when the key is missing)."""
        return int(await self.execute("HLEN", key))

    async def hkeys(self, key: Value) -> list[Any]:
        """HKEYS: the field names, as a list."""
        return list(await self.execute("HKEYS", key))

    # -- lists ---------------------------------------------------------------------------------

    async def lpush(self, key: Value, *values: Value) -> int:
        """LPUSH `values` (each onto the head in turn): the new length of the list."""
        return int(await self.execute("LPUSH", key, *values))

    async def rpush(self, key: Value, *values: Value) -> int:
        """RPUSH `values` (each onto the tail in turn): the new length of the list."""
        return int(await self.execute("RPUSH", key, *values))

    async def lpop(self, key: Value) -> Any:
        """LPOP: the first element, or None when the list is empty or missing."""
        return await self.execute("LPOP", key)

    async def rpop(self, key: Value) -> Any:
        """RPOP: the last element, or None when the list is empty or missing."""
        return await self.execute("RPOP", key)

    async def lrange(self, key: Value, start: int, stop: int) -> list[Any]:
        """LRANGE: the elements from `start` to `stop` inclusive (negative: from the end)."""
        return list(await self.execute("LRANGE", key, start, stop))

    async def llen(self, key: Value) -> int:
        """LLEN: the length of the list (0 when the key is missing)."""
        return int(await self.execute("LLEN", key))

    async def blpop(self, keys: Values, timeout: float = 0) -> tuple[Any, Any] | None:
        """Wait (on a dedicated connection) for an element: ``(key, element)``, None on timeout.

        `keys` is one key (``"queue"``, as a str, bytes, ...) or an iterable of keys.
        """
        reply = await self.execute("BLPOP", *_values(keys), timeout)
        return None if reply is None else (reply[0], reply[1])

    async def brpop(self, keys: Values, timeout: float = 0) -> tuple[Any, Any] | None:
        """Like `blpop`, from the tail: ``(key, element)``, or None on timeout."""
        reply = await self.execute("BRPOP", *_values(keys), timeout)
        return None if reply is None else (reply[0], reply[1])

    # -- sets ----------------------------------------------------------------------------------

    async def sadd(self, key: Value, *members: Value) -> int:
        """SADD: the number of members added (those already there do not count)."""
        return int(await self.execute("SADD", key, *members))

    async def srem(self, key: Value, *members: Value) -> int:
        """SREM: the number of members removed."""
        return int(await self.execute("SREM", key, *members))

    async def smembers(self, key: Value) -> builtins.set[Any]:
        """SMEMBERS as a Python set (from RESP2's array or RESP3's set alike)."""
        return set(await self.execute("SMEMBERS", key))

    async def sismember(self, key: Value, member: Value) -> bool:
        """SISMEMBER: whether `member` is in the set at `key`."""
        return bool(await self.execute("SISMEMBER", key, member))

    async def scard(self, key: Value) -> int:
        """SCARD: the number of members (0 when the key is missing)."""
        return int(await self.execute("SCARD", key))

    # -- sorted sets ---------------------------------------------------------------------------

    async def zadd(self, key: Value, mapping: Mapping[Value, float]) -> int:
        """ZADD every ``member: score`` of `mapping`: the number of members added (not updated)."""
        args: list[Value] = ["ZADD", key]
        for member, score in mapping.items():
            args += [score, member]
        return int(await self.execute(*args))

    async def zscore(self, key: Value, member: Value) -> float | None:
        """ZSCORE as a float (RESP2's string and RESP3's double alike), or None."""
        return _score(await self.execute("ZSCORE", key, member))

    async def zincrby(self, key: Value, amount: float, member: Value) -> float:
        """ZINCRBY: the member's new score, as a float."""
        return float(await self.execute("ZINCRBY", key, amount, member))

    async def zrem(self, key: Value, *members: Value) -> int:
        """ZREM: the number of members removed."""
        return int(await self.execute("ZREM", key, *members))

    async def zcard(self, key: Value) -> int:
        """ZCARD: the number of members (0 when the key is missing)."""
        return int(await self.execute("ZCARD", key))

    async def zrange(
        self, key: Value, start: int, stop: int, *, withscores: bool = False
    ) -> list[Any]:
        """Members by rank; with ``withscores`` a list of ``(member, score)`` pairs."""
        if not withscores:
            return list(await self.execute("ZRANGE", key, start, stop))
        reply = await self.execute("ZRANGE", key, start, stop, "WITHSCORES")
        if reply and isinstance(reply[0], list):  # RESP3: [[member, score], ...]
            return [(member, float(score)) for member, score in reply]
        return [(reply[i], float(reply[i + 1])) for i in range(0, len(reply), 2)]

    # -- pub/sub (publishing only; subscribing needs its own connection) ------------------------

    async def publish(self, channel: Value, message: Value) -> int:
        """PUBLISH: the number of clients that received the message."""
        return int(await self.execute("PUBLISH", channel, message))

    async def spublish(self, channel: Value, message: Value) -> int:
        """SPUBLISH to a shard channel: the number of clients that received the message."""
        return int(await self.execute("SPUBLISH", channel, message))

    # -- scripting -----------------------------------------------------------------------------

    async def eval(self, script: Value, keys: Values = (), args: Values = ()) -> Any:
        """EVAL `script` with `keys` and `args`: the script's reply, as is.

        `keys` and `args` are each an iterable, or one value on its own (a str is one key).
        """
        key_list = _values(keys)
        return await self.execute("EVAL", script, len(key_list), *key_list, *_values(args))

    async def evalsha(self, sha: str, keys: Values = (), args: Values = ()) -> Any:
        """EVALSHA: run the cached script with this SHA1 (NOSCRIPT `ResponseError` if absent)."""
        key_list = _values(keys)
        return await self.execute("EVALSHA", sha, len(key_list), *key_list, *_values(args))

    async def script_load(self, script: Value) -> Any:
        """SCRIPT LOAD into the server's script cache: the SHA1 of the script, as sent back."""
        return await self.execute("SCRIPT", "LOAD", script)

    def register_script(self, script: str | bytes) -> Script:
        """A `Script` bound to this connection: EVALSHA, falling back to EVAL on NOSCRIPT."""
        return Script(self, script)


class Script:
    """A Lua script run by its SHA1 (EVALSHA); sent in full once when the server lacks it."""

    def __init__(self, commands: Commands, script: str | bytes) -> None:
        self._commands = commands
        self.script = script.encode() if isinstance(script, str) else script
        self.sha = hashlib.sha1(self.script).hexdigest()

    async def __call__(self, keys: Values = (), args: Values = ()) -> Any:
        """Run the script with `keys` and `args` (each an iterable, or one value on its own)."""
        key_list, arg_list = _values(keys), _values(args)
        try:
            return await self._commands.evalsha(self.sha, key_list, arg_list)
        except ResponseError as exc:
            if exc.code != "NOSCRIPT":
                raise
        # EVAL both runs the script and caches it, so the next call's EVALSHA finds it.
        return await self._commands.eval(self.script, key_list, arg_list)
