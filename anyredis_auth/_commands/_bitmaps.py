"""Bitmap commands: GETBIT, SETBIT, BITCOUNT, BITPOS, BITOP, BITFIELD, BITFIELD_RO."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, Generic, Protocol, TypeVar, overload

from ..protocol import CommandArg
from ._core import KeyT, Queue, Request, Runner, command

__all__ = ["LEFT_TO_EXECUTE", "BitFieldOperation", "BitmapCommands"]

#: Commands of the ``bitmap`` group left to `execute` on purpose (none: every one has a method).
LEFT_TO_EXECUTE: dict[str, str] = {}

R = TypeVar("R")
Q = TypeVar("Q", bound=Queue)
B = TypeVar("B", bound="BitFieldOperation[Any]")

#: A BITFIELD offset: bits, or ``"#n"`` for n times the field's width (redis-py's type).
BitfieldOffsetT = int | str


class BitFieldOperation(Generic[R]):
    """BITFIELD sub-commands gathered for one key, sent as one command by `execute`.

    As redis-py's builder of the same name: ``con.bitfield("k").set("u8", 0, 255).get("u8", 0)``
    then ``await ....execute()`` on a connection gives the list of the sub-commands' results
    (None for an INCRBY refused by ``OVERFLOW FAIL``); on a pipeline ``execute()`` queues the
    command and returns the pipeline, whose own ``execute()`` gives the list in its place.
    """

    def __init__(
        self,
        send: Callable[[tuple[CommandArg, ...]], R],
        key: KeyT,
        default_overflow: str | None = None,
    ) -> None:
        self._send = send
        self.key = key
        self._default_overflow = default_overflow
        self.operations: list[tuple[CommandArg, ...]] = []
        self._last_overflow = "WRAP"
        self.reset()

    def reset(self) -> None:
        """Forget the sub-commands gathered so far (the default overflow stays)."""
        self.operations = []
        self._last_overflow = "WRAP"
        self.overflow(self._default_overflow or self._last_overflow)

    def overflow(self: B, overflow: str) -> B:
        """OVERFLOW WRAP / SAT / FAIL for the INCRBY sub-commands that follow."""
        overflow = overflow.upper()
        if overflow != self._last_overflow:
            self._last_overflow = overflow
            self.operations.append(("OVERFLOW", overflow))
        return self

    def incrby(
        self: B,
        fmt: str,
        offset: BitfieldOffsetT,
        increment: int,
        overflow: str | None = None,
    ) -> B:
        """INCRBY the field of type `fmt` (``u8``, ``i16``, ...) at `offset` by `increment`."""
        if overflow is not None:
            self.overflow(overflow)
        self.operations.append(("INCRBY", fmt, offset, increment))
        return self

    def get(self: B, fmt: str, offset: BitfieldOffsetT) -> B:
        """GET the field of type `fmt` at `offset`."""
        self.operations.append(("GET", fmt, offset))
        return self

    def set(self: B, fmt: str, offset: BitfieldOffsetT, value: int) -> B:
        """SET the field of type `fmt` at `offset` to `value` (its old value is returned)."""
        self.operations.append(("SET", fmt, offset, value))
        return self

    @property
    def command(self) -> list[CommandArg]:
        """The BITFIELD command as it will be sent."""
        args: list[CommandArg] = ["BITFIELD", self.key]
        for operation in self.operations:
            args += operation
        return args

    def execute(self) -> R:
        """Send (or, on a pipeline, queue) the gathered sub-commands as one BITFIELD, and start
        afresh; on a connection, await the result: a list, one item per GET/SET/INCRBY."""
        args = tuple(self.command)
        self.reset()
        return self._send(args)


class _MakeBitField(Protocol[R]):
    def __call__(self, key: KeyT, default_overflow: str | None = None) -> BitFieldOperation[R]: ...


class _BitFieldMethod:
    """``bitfield``: a builder bound to the connection (results awaited) or to the pipeline
    (the command queued), chosen like a `command`'s method by the owner's kind."""

    @overload
    def __get__(self, obj: None, owner: type) -> _BitFieldMethod: ...
    @overload
    def __get__(self, obj: Q, owner: type) -> _MakeBitField[Q]: ...
    @overload
    def __get__(self, obj: Runner, owner: type) -> _MakeBitField[Awaitable[list[int | None]]]: ...
    def __get__(self, obj: object, owner: type) -> Any:
        if obj is None:
            return self
        if isinstance(obj, Queue):
            queue = obj

            def queued(args: tuple[CommandArg, ...]) -> Any:
                return queue._queue(args, None)

            send: Callable[[tuple[CommandArg, ...]], Any] = queued
        elif isinstance(obj, Runner):
            runner = obj

            def run(args: tuple[CommandArg, ...]) -> Any:
                return runner.execute(*args)

            send = run
        else:  # pragma: no cover - every connection kind is a Runner or a Queue
            raise TypeError("bitfield needs a connection or a pipeline")

        def bitfield(key: KeyT, default_overflow: str | None = None) -> BitFieldOperation[Any]:
            """A `BitFieldOperation` on `key`: chain ``get``/``set``/``incrby``, then
            ``execute()``."""
            return BitFieldOperation(send, key, default_overflow)

        return bitfield


# -- builders ------------------------------------------------------------------------------------


def _bitcount(
    key: KeyT, start: int | None = None, end: int | None = None, mode: str | None = None
) -> Request[int]:
    """BITCOUNT: the number of set bits (between bytes, or bits with ``mode="BIT"``)."""
    if start is None and end is None:
        if mode is None:
            return ("BITCOUNT", key), None
        return ("BITCOUNT", key, mode), None
    if start is None or end is None:
        raise ValueError("both start and end must be given")
    if mode is None:
        return ("BITCOUNT", key, start, end), None
    return ("BITCOUNT", key, start, end, mode), None


def _bitfield_ro(
    key: KeyT,
    encoding: str,
    offset: BitfieldOffsetT,
    items: list[tuple[str, BitfieldOffsetT]] | None = None,
) -> Request[list[int]]:
    """BITFIELD_RO: the values of the field `encoding` at `offset` and of each of `items`."""
    args: list[Any] = ["BITFIELD_RO", key, "GET", encoding, offset]
    for more_encoding, more_offset in items or ():
        args += ("GET", more_encoding, more_offset)
    return tuple(args), None


def _bitop(operation: str, dest: KeyT, *keys: KeyT) -> Request[int]:
    """BITOP AND / OR / XOR / NOT of `keys` into `dest`: the length of the result."""
    return ("BITOP", operation, dest, *keys), None


def _bitpos(
    key: KeyT,
    bit: int,
    start: int | None = None,
    end: int | None = None,
    mode: str | None = None,
) -> Request[int]:
    """BITPOS: the position of the first bit equal to `bit` (-1 when there is none)."""
    if bit not in (0, 1):
        raise ValueError("bit must be 0 or 1")
    args: list[Any] = ["BITPOS", key, bit]
    if start is not None:
        args.append(start)
        if end is not None:
            args.append(end)
    elif end is not None:
        raise ValueError("end needs start")
    if mode is not None:
        args.append(mode)
    return tuple(args), None


def _getbit(name: KeyT, offset: int) -> Request[int]:
    """GETBIT: the bit at `offset` (0 past the end)."""
    return ("GETBIT", name, offset), None


def _setbit(name: KeyT, offset: int, value: int) -> Request[int]:
    """SETBIT (any true `value` sets 1): the bit's old value."""
    return ("SETBIT", name, offset, 1 if value else 0), None


class BitmapCommands:
    """Bitmap commands (`command` descriptors; see `anyredis_auth._commands._core`)."""

    bitcount = command(_bitcount)
    bitfield = _BitFieldMethod()
    bitfield_ro = command(_bitfield_ro)
    bitop = command(_bitop)
    bitpos = command(_bitpos)
    getbit = command(_getbit)
    setbit = command(_setbit)
