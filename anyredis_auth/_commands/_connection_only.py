"""Typed methods only a connection has (not a pipeline): the ``*scan_iter`` iterators, and
`register_script`."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any, Literal, TypeVar, overload

from ._core import EncodableT, KeyT, Request, Runner
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
        async for data in _pages(
            self.execute, lambda cursor: build_hscan(name, cursor, match, count, no_values)
        ):
            for item in data if no_values else data.items():
                yield item

    async def sscan_iter(
        self, name: KeyT, match: EncodableT | None = None, count: int | None = None
    ) -> AsyncIterator[Any]:
        """Every member of the set at `name`, SSCAN cursor by cursor."""
        async for members in _pages(
            self.execute, lambda cursor: build_sscan(name, cursor, match, count)
        ):
            for member in members:
                yield member

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
            async for keys in _pages(
                execute, lambda cursor: build_scan(cursor, match, count, _type)
            ):
                for key in keys:
                    yield key

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
        async for pairs in _pages(
            self.execute, lambda cursor: build_zscan(name, cursor, match, count, score_cast_func)
        ):
            for pair in pairs:
                yield pair


async def _pages(
    execute: Callable[..., Awaitable[Any]], request: Callable[[int], Request[Any]]
) -> AsyncIterator[Any]:
    """Each page of a ``*SCAN`` walk, cursor by cursor until the server says 0: `request` makes
    the command (and its parser, which gives ``(cursor, page)``) for a cursor."""
    cursor = 0
    while True:
        args, parse = request(cursor)
        assert parse is not None  # a scan builder always has its parser
        cursor, page = parse(await execute(*args))
        yield page
        if cursor == 0:
            return
