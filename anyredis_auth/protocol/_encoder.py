"""Command encoding: a command is a RESP array of bulk strings.

Accepted argument types and their wire form:

=================  ===========================================================================
``bytes``          as is
``str``            UTF-8
``int``            decimal (``-12``); ``bool`` is refused even though it is an ``int``
``float``          ``repr()`` so it round-trips (``0.1``, ``1e+16``); ``inf``/``-inf`` as
                   ``inf``/``-inf`` (what Redis accepts); NaN is refused with ``ValueError``
``bytearray``      as is
``memoryview``     its bytes
=================  ===========================================================================

Anything else (``None``, ``bool``, ``dict``, ``list``, ...) raises ``TypeError`` naming the
argument's 1-based position and type: silently sending ``str(None)`` is a classic source of bugs.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from typing import Any, TypeAlias

__all__ = [
    "BIG_PAYLOAD",
    "CommandArg",
    "Pieces",
    "concat",
    "encode_command",
    "encode_commands",
    "encode_pieces",
]

CommandArg: TypeAlias = bytes | str | int | float | bytearray | memoryview
"""One argument of a command."""

_EXPECTED = "expected bytes, str, int, float, bytearray or memoryview"
_CRLF = b"\r\n"
# Preformatted headers for the common small sizes: a table lookup beats formatting.
_BULK_HEADERS: tuple[bytes, ...] = tuple(b"$%d\r\n" % n for n in range(1024))
_ARRAY_HEADERS: tuple[bytes, ...] = tuple(b"*%d\r\n" % n for n in range(64))
#: Commands of fewer arguments than this are "short" (see `encode_pieces`).
_SHORT = 8


#: A payload of at least this many bytes is sent as a buffer of its own, never copied into a join.
BIG_PAYLOAD = 64 * 1024


class Pieces(list[bytes | bytearray | memoryview]):
    """Encoded commands as buffers to write in order: runs of small pieces already joined, each
    big payload (`BIG_PAYLOAD` or more) on its own, so a 1 MiB value reaches the socket without
    being copied into one buffer first."""

    __slots__ = ()

    @property
    def nbytes(self) -> int:
        return sum(len(piece) for piece in self)

    def tobytes(self) -> bytes:
        return b"".join(self)


#: The encoded head of a short command (array header and name), by argument count, then by
#: name: command names are few, so each is encoded once. Each table is bounded (a caller could
#: make up names); beyond the bound a head is encoded each time.
_HEADS: tuple[dict[str | bytes, bytes], ...] = tuple({} for _ in range(_SHORT))
_HEADS_PER_COUNT = 512


def encode_pieces(*args: CommandArg) -> bytes | Pieces:
    """`encode_command`, except that a command with a big payload comes back as `Pieces`."""
    # The hot path (every command of a shared connection). A short command (fewer than
    # `_SHORT` arguments: GET, SET...) named by an exact str or bytes, whose other arguments are
    # exact bytes, str or int of less than 1 KiB: its cached head, then each argument
    # concatenated (cheaper than a join for so few). Fewer than 64 such arguments: one loop
    # with table headers and a join. Anything else (and every error) takes the general path
    # below, which raises the errors.
    count = len(args)
    items: tuple[Any, ...] = args  # dispatched on the exact type below
    if count == 2:
        # A name and a key (GET, INCR, DEL, TTL...), the commonest shape: one join.
        name, key = items
        kind = type(key)
        if (kind is bytes or kind is str) and (type(name) is str or type(name) is bytes):
            head = _HEADS[2].get(name)
            if head is not None:
                try:
                    payload = key if kind is bytes else key.encode()
                except UnicodeEncodeError:
                    return _encode_pieces(args)  # which names the argument
                if len(payload) < 1024:
                    return b"".join((head, _BULK_HEADERS[len(payload)], payload, _CRLF))
    if 0 < count < _SHORT:
        name = items[0]
        kind = type(name)
        if kind is str or kind is bytes:
            out = _HEADS[count].get(name) or _head(count, name)
            if out is not None:
                headers = _BULK_HEADERS
                try:
                    for arg in items[1:]:
                        kind = type(arg)
                        if kind is bytes:
                            payload = arg
                        elif kind is str:
                            payload = arg.encode()
                        elif kind is int:
                            payload = b"%d" % arg
                        else:
                            break
                        size = len(payload)
                        if size >= 1024:
                            break
                        out += headers[size] + payload + b"\r\n"
                    else:
                        return out
                except UnicodeEncodeError:
                    pass  # the general path names the argument
                return _encode_pieces(args)
    if 0 < count < 64:
        small: list[bytes] = [_ARRAY_HEADERS[count]]
        append = small.append
        headers = _BULK_HEADERS
        crlf = _CRLF
        try:
            for arg in items:
                kind = type(arg)
                if kind is bytes:
                    payload = arg
                elif kind is str:
                    payload = arg.encode()
                elif kind is int:
                    payload = b"%d" % arg
                else:
                    break
                size = len(payload)
                if size >= 1024:
                    break
                append(headers[size])
                append(payload)
                append(crlf)
            else:
                return b"".join(small)
        except UnicodeEncodeError:
            pass  # the general path names the argument
    return _encode_pieces(args)


def _head(count: int, name: str | bytes) -> bytes | None:
    """The head of a short command named `name` (cached), or None: the name is no small
    UTF-8 string, for the general path to encode or refuse."""
    try:
        payload = name.encode() if type(name) is str else name
    except UnicodeEncodeError:
        return None
    size = len(payload)
    if size >= 1024:
        return None
    head = _ARRAY_HEADERS[count] + _BULK_HEADERS[size] + payload + _CRLF  # type: ignore[operator]
    heads = _HEADS[count]
    if len(heads) < _HEADS_PER_COUNT:
        heads[name] = head
    return head


def _encode_pieces(args: tuple[CommandArg, ...]) -> bytes | Pieces:
    parts: list[bytes | bytearray | memoryview] = []
    if not _append_command(parts, args, "the command"):
        return b"".join(parts)
    pieces = Pieces()
    small: list[bytes | bytearray | memoryview] = []
    for part in parts:
        if len(part) >= BIG_PAYLOAD:
            if small:
                pieces.append(b"".join(small))
                small.clear()
            pieces.append(part)
        else:
            small.append(part)
    if small:
        pieces.append(b"".join(small))
    return pieces


def concat(*blobs: bytes | Pieces) -> bytes | Pieces:
    """Encoded commands one after the other: bytes when all are bytes, else `Pieces`."""
    if all(type(blob) is bytes for blob in blobs):
        return b"".join(blobs)  # type: ignore[arg-type]
    pieces = Pieces()
    for blob in blobs:
        if isinstance(blob, Pieces):
            pieces.extend(blob)
        elif blob:
            pieces.append(blob)
    return pieces


def encode_command(*args: CommandArg) -> bytes:
    """Encode one command, e.g. ``encode_command("SET", "key", b"value", "EX", 60)``.

    Raises ``ValueError`` for an empty command, a NaN float or a ``str`` that cannot be encoded
    as UTF-8 (a lone surrogate), and ``TypeError`` for an argument of another type than those
    listed in the module documentation; both messages give the argument's 1-based position.
    """
    parts: list[bytes | bytearray | memoryview] = []
    _append_command(parts, args, "the command")
    return b"".join(parts)


def encode_commands(commands: Iterable[Sequence[CommandArg]]) -> bytes:
    """Encode several commands (a pipeline or a transaction) into one buffer.

    ``encode_commands([("SET", "k", 1), ("GET", "k")])`` equals
    ``encode_command("SET", "k", 1) + encode_command("GET", "k")``; errors name the command's
    1-based index as well as the argument's position.
    """
    parts: list[bytes | bytearray | memoryview] = []
    for index, command in enumerate(commands, 1):
        _append_command(parts, command, f"command {index}")
    return b"".join(parts)


def _append_command(
    parts: list[bytes | bytearray | memoryview], args: Sequence[CommandArg], where: str
) -> bool:
    """Append the pieces of one command to `parts`; whether a payload is `BIG_PAYLOAD` or more."""
    big = False
    count = len(args)
    if count == 0:
        raise ValueError(f"{where} is empty: a command needs at least its name")
    parts.append(_ARRAY_HEADERS[count] if count < 64 else b"*%d\r\n" % count)
    append = parts.append
    headers = _BULK_HEADERS
    crlf = _CRLF
    items: Sequence[Any] = args  # dispatched on the exact type below
    try:
        for arg in items:
            kind = type(arg)
            payload: bytes | bytearray | memoryview
            if kind is bytes:
                payload = arg
            elif kind is str:
                payload = arg.encode()
            elif kind is int:
                payload = b"%d" % arg
            else:
                payload = _coerce(arg)
            size = len(payload)
            if size < 1024:
                append(headers[size])
            else:
                append(b"$%d\r\n" % size)
                if size >= BIG_PAYLOAD:
                    big = True
            append(payload)
            append(crlf)
    except _BadArgument as exc:
        position = _position_of(args, exc.arg)
        raise exc.error_type(f"argument {position} of {where} {exc.detail}") from None
    except UnicodeEncodeError:
        position = next(
            i for i, arg in enumerate(args, 1) if isinstance(arg, str) and not _utf8_ok(arg)
        )
        raise ValueError(
            f"argument {position} of {where} is a str that cannot be encoded as UTF-8 "
            "(it holds a lone surrogate)"
        ) from None
    return big


class _BadArgument(Exception):
    """Internal: carries the offending argument out of the hot loop."""

    def __init__(self, arg: object, error_type: type[Exception], detail: str) -> None:
        super().__init__(detail)
        self.arg = arg
        self.error_type = error_type
        self.detail = detail


def _coerce(arg: object) -> bytes | bytearray | memoryview:
    """The slow path: every accepted type but exact bytes, str and int."""
    if isinstance(arg, float):
        if math.isnan(arg):
            raise _BadArgument(arg, ValueError, "is a float NaN, which Redis cannot parse")
        # repr() round-trips and spells the infinities "inf" / "-inf", which Redis accepts.
        return repr(float(arg)).encode()
    if isinstance(arg, (bytes, bytearray)):
        return arg
    if isinstance(arg, memoryview):
        # A flat view of bytes, so that len() is the size in bytes.
        return arg.cast("B") if arg.c_contiguous else arg.tobytes()
    if isinstance(arg, bool):
        raise _BadArgument(
            arg,
            TypeError,
            f"has type bool; {_EXPECTED} (booleans are refused: send 0/1 or a string)",
        )
    if isinstance(arg, int):  # int subclasses such as IntEnum: their integer value
        return b"%d" % int(arg)
    if isinstance(arg, str):  # str subclasses such as StrEnum: their string value
        return str.encode(arg)
    raise _BadArgument(arg, TypeError, f"has type {type(arg).__name__}; {_EXPECTED}")


def _position_of(args: Sequence[object], arg: object) -> int:
    for position, candidate in enumerate(args, 1):
        if candidate is arg:
            return position
    return 0  # unreachable: the argument came from args


def _utf8_ok(text: str) -> bool:
    try:
        text.encode()
    except UnicodeEncodeError:
        return False
    return True
