"""Typed methods only a connection has (not a pipeline): the ``*scan_iter`` iterators, and
`register_script`."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any, Literal, TypeVar, overload

from ._core import EncodableT, KeyT, Runner
from ._hashes import build_hscan
from ._keys import build_scan
from ._scripting import Script
from ._sets import build_sscan
from ._zsets import ScoreCastT, build_zscan

__all__ = ["ConnectionOnlyCommands"]

S = TypeVar("S")


class ConnectionOnlyCommands(Runner):
    """Mixed into `MultiplexedConnection` and `ClusterConnection` after `Commands`."""

    def register_script(self, script: str | bytes) -> Script:
        """A `Script` bound to this connection: EVALSHA, falling back to EVAL on NOSCRIPT."""
        return Script(self, script)

    @overload
    def hscan_iter(
        self,
        name: KeyT,
        match: EncodableT | None = None,
        count: int | None = None,
        no_values: Literal[False] | None = None,
    ) -> AsyncIterator[tuple[Any, Any]]: ...
    @overload
    def hscan_iter(
        self,
        name: KeyT,
        match: EncodableT | None = None,
        count: int | None = None,
        *,
        no_values: Literal[True],
    ) -> AsyncIterator[Any]: ...
    @overload
    def hscan_iter(
        self,
        name: KeyT,
        match: EncodableT | None,
        count: int | None,
        no_values: Literal[True],
    ) -> AsyncIterator[Any]: ...
    @overload
    def hscan_iter(
        self,
        name: KeyT,
        match: EncodableT | None = None,
        count: int | None = None,
        no_values: bool | None = None,
    ) -> AsyncIterator[Any]: ...

    async def hscan_iter(
        self,
        name: KeyT,
        match: EncodableT | None = None,
        count: int | None = None,
        no_values: bool | None = None,
    ) -> AsyncIterator[Any]:
        """Every ``(field, value)`` of the hash at `name` (every field with `no_values`), HSCAN
        cursor by cursor."""
        cursor = 0
        while True:
            args, parse = build_hscan(name, cursor, match, count, no_values)
            assert parse is not None  # a scan builder always has its parser
            cursor, data = parse(await self.execute(*args))
            for item in data if no_values else data.items():
                yield item
            if cursor == 0:
                return

    async def sscan_iter(
        self, name: KeyT, match: EncodableT | None = None, count: int | None = None
    ) -> AsyncIterator[Any]:
        """Every member of the set at `name`, SSCAN cursor by cursor."""
        cursor = 0
        while True:
            args, parse = build_sscan(name, cursor, match, count)
            assert parse is not None  # a scan builder always has its parser
            cursor, members = parse(await self.execute(*args))
            for member in members:
                yield member
            if cursor == 0:
                return

    def _keyspace_parts(self) -> list[Callable[..., Awaitable[Any]]]:
        """Where `scan_iter` walks the keyspace, one SCAN cursor each: this connection (a
        cluster connection overrides it: each primary)."""
        return [self.execute]

    async def scan_iter(
        self,
        match: EncodableT | None = None,
        count: int | None = None,
        _type: str | None = None,
    ) -> AsyncIterator[Any]:
        """Every key (matching `match`, of type `_type`), SCAN cursor by cursor (on a cluster:
        every primary's keys, one primary after the other)."""
        for execute in self._keyspace_parts():
            cursor = 0
            while True:
                args, parse = build_scan(cursor, match, count, _type)
                assert parse is not None  # a scan builder always has its parser
                cursor, keys = parse(await execute(*args))
                for key in keys:
                    yield key
                if cursor == 0:
                    break

    @overload
    def zscan_iter(
        self, name: KeyT, match: EncodableT | None = None, count: int | None = None
    ) -> AsyncIterator[tuple[Any, float]]: ...
    @overload
    def zscan_iter(
        self,
        name: KeyT,
        match: EncodableT | None = None,
        count: int | None = None,
        *,
        score_cast_func: Callable[[Any], S],
    ) -> AsyncIterator[tuple[Any, S]]: ...
    @overload
    def zscan_iter(
        self,
        name: KeyT,
        match: EncodableT | None,
        count: int | None,
        score_cast_func: Callable[[Any], S],
    ) -> AsyncIterator[tuple[Any, S]]: ...

    async def zscan_iter(
        self,
        name: KeyT,
        match: EncodableT | None = None,
        count: int | None = None,
        score_cast_func: ScoreCastT = float,
    ) -> AsyncIterator[tuple[Any, Any]]:
        """Every ``(member, score)`` of the sorted set at `name`, ZSCAN cursor by cursor."""
        cursor = 0
        while True:
            args, parse = build_zscan(name, cursor, match, count, score_cast_func)
            assert parse is not None  # a scan builder always has its parser
            cursor, pairs = parse(await self.execute(*args))
            for pair in pairs:
                yield pair
            if cursor == 0:
                return
