"""The pure-Python RESP2/RESP3 parser (the ``"python"`` back end).

Design:

* **Iterative.** Open aggregates live on an explicit stack of frames, so hostile nesting can
  exhaust neither the C stack nor the recursion limit (and ``max_depth`` bounds the stack).
* **Incremental without re-parsing.** The stack survives between calls: completed elements of
  an incomplete aggregate are never parsed twice. Only the incomplete item itself (a line, or
  a bulk string with its header) is looked at again, and only once the bytes it needs may be
  there: the parser records how many bytes a bulk string needs, or that a line needs a
  ``\\n``, and ``feed`` merely queues chunks until then. Feeding a large reply one byte at a
  time is therefore linear.
* **Runs of bulk strings at C speed.** Inside an array, set, push or map, a stretch of
  buffered bulk strings (LRANGE, HGETALL, MGET, ...) is cut with one ``bytes.split`` on CRLF
  and taken only where every header matches its payload's length, which is exactly what the
  element-wise parse would accept (`_bulk_run`); anything else (a null, another type, a CRLF
  inside a payload, missing bytes) ends the run and the element-wise loop takes over.
* **Bounded memory.** Lengths and counts are checked at their header; a line (simple string,
  error, number, header) longer than `MAX_LINE_LENGTH` is refused, complete or not.

Values follow hiredis wherever hiredis is sane (see ``Parser``); where it is not, this parser
is stricter: a bulk payload must be followed by CRLF, a big number must be ``-?[0-9]+``, an
attribute cannot be null (``|-1``), a bulk error cannot be null (``!-1``).
"""

from __future__ import annotations

import math
import re
from itertools import repeat
from typing import Any

from .._errors import ProtocolError, ResponseError
from ._parser import DEFAULT_MAX_BULK_LENGTH, HIREDIS_MAX_DEPTH, Parser, failed_state_error
from ._values import NEED_DATA, Push

__all__ = ["MAX_LINE_LENGTH", "PythonParser"]

MAX_LINE_LENGTH = 64 * 1024
"""The longest line (type byte and content, without CRLF) the Python back end accepts."""

_INT64_MIN = -(2**63)
_INT64_MAX = 2**63 - 1
# Decimal spellings of small non-negative numbers -> their value: one dict lookup validates
# and converts the common lengths, counts and integers.
_SMALL: dict[bytes, int] = {b"%d" % n: n for n in range(1024)}
# The same for bulk string headers (with their ``$``): the runs of `_bulk_run`.
_BULK_HEADERS: dict[bytes, int] = {b"$%d" % n: n for n in range(1024)}
_DOUBLE = re.compile(rb"-?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")
_BIGNUM = re.compile(rb"-?[0-9]+")
_NONZERO_DIGIT = re.compile(rb"[1-9]")
_SPECIAL_DOUBLES = {b"inf": math.inf, b"-inf": -math.inf, b"nan": math.nan, b"-nan": math.nan}
_MAX_DOUBLE_LINE = 325  # hiredis refuses longer doubles

# Frame kinds (a frame is a list: cheaper than an object on this path).
_LIST = 0
_MAP = 1
_ATTRIBUTE = 2
_NO_KEY: object = object()

# An aggregate of at least this many elements tries the run-of-bulk-strings fast path.
_RUN = 8

_decode: Any = str  # str(payload, encoding, errors), mapped over a run of bulk strings

_TYPE_BYTES = frozenset(b"$*:+-%_#,(=~>!|")
_AGGREGATE_NAMES = {42: "array", 37: "map", 126: "set", 62: "push", 124: "attribute"}
_BULK_NAMES = {36: "bulk string", 61: "verbatim string", 33: "bulk error"}


class PythonParser(Parser):
    """The pure-Python back end of `Parser` (see there for the reply representation)."""

    backend = "python"

    def __init__(
        self,
        protocol: int = 3,
        backend: str = "python",
        *,
        encoding: str | None = None,
        errors: str = "strict",
        max_bulk_length: int = DEFAULT_MAX_BULK_LENGTH,
        max_depth: int = HIREDIS_MAX_DEPTH,
    ) -> None:
        super().__init__(
            protocol,
            backend,
            encoding=encoding,
            errors=errors,
            max_bulk_length=max_bulk_length,
            max_depth=max_depth,
        )
        self._buf = b""  # parsed from self._pos on
        self._pos = 0
        self._chunks: list[bytes] = []  # fed but not yet merged into self._buf
        self._chunks_len = 0
        # Bytes (from self._pos) needed before parsing is worth retrying; -1: a b"\n".
        self._need = 0
        # Open aggregates, outermost first:
        # [container, remaining elements, kind, map key, try runs of bulk strings].
        self._stack: list[list[Any]] = []
        self._base = 0  # stream offset of self._buf[0]
        self._fed = 0  # bytes fed in total
        self._failure: str | None = None
        # Validated lengths and counts within max_bulk_length (the shared table normally).
        self._lengths = (
            _SMALL
            if max_bulk_length >= len(_SMALL)
            else {line: n for line, n in _SMALL.items() if n <= max_bulk_length}
        )
        self._bulk_headers = (
            _BULK_HEADERS
            if max_bulk_length >= len(_BULK_HEADERS)
            else {line: n for line, n in _BULK_HEADERS.items() if n <= max_bulk_length}
        )

    # -- public interface ------------------------------------------------------------------

    def feed(self, data: bytes | bytearray | memoryview) -> None:
        if self._failure is not None:
            raise ProtocolError(failed_state_error(self._failure))
        if type(data) is not bytes:
            data = bytes(data)
        if not data:
            return
        self._fed += len(data)
        buf = self._buf
        if self._pos >= len(buf) and not self._chunks:
            # Everything before was consumed: the chunk becomes the buffer, no copy.
            self._base += len(buf)
            self._buf = data
            self._pos = 0
            return
        self._chunks.append(data)
        self._chunks_len += len(data)
        if self._need < 0 and b"\n" in data:
            self._need = 0

    def next_reply(self) -> object:
        if self._failure is not None:
            raise ProtocolError(failed_state_error(self._failure))
        try:
            if self._chunks and not self._merge():
                return NEED_DATA
            # The parsing loop is inlined here: one call per reply, not two.
            buf = self._buf
            pos = self._pos
            size = len(buf)
            stack = self._stack
            small = _SMALL
            lengths = self._lengths
            bulk_headers = self._bulk_headers
            encoding = self._encoding
            errors = self._errors
            max_bulk = self._max_bulk_length
            max_depth = self._max_depth
            value: object
            while True:
                if pos >= size:
                    self._pos = pos
                    self._need = 0
                    return NEED_DATA
                if stack and buf[pos] == 36:
                    frame = stack[-1]
                    if frame[4] and frame[3] is _NO_KEY:
                        # A run of bulk strings inside a list or map: split them off at C speed.
                        run, pos = _bulk_run(buf, pos, frame, bulk_headers, max_bulk)
                        if run is not None:
                            values: list[Any] = run
                            if encoding is not None:
                                values = list(map(_decode, run, repeat(encoding), repeat(errors)))
                            if frame[2] == _LIST:
                                frame[0].extend(values)
                            else:
                                frame[0].update(zip(values[::2], values[1::2], strict=True))
                            remaining: int = frame[1] - len(values)
                            if remaining:
                                frame[1] = remaining
                                continue
                            stack.pop()
                            value = frame[0]
                            # The aggregate is complete: hand it on like any other value.
                            while stack:
                                frame = stack[-1]
                                frame_kind = frame[2]
                                if frame_kind == _LIST:
                                    frame[0].append(value)
                                elif frame_kind == _MAP:
                                    if frame[3] is _NO_KEY:
                                        frame[3] = value
                                    else:
                                        frame[0][frame[3]] = value
                                        frame[3] = _NO_KEY
                                remaining = frame[1] - 1
                                if remaining:
                                    frame[1] = remaining
                                    break
                                stack.pop()
                                if frame_kind == _ATTRIBUTE:
                                    break
                                value = frame[0]
                            else:
                                self._pos = pos
                                return value
                            continue
                eol = buf.find(b"\r\n", pos)
                if eol < 0:
                    if buf[pos] not in _TYPE_BYTES:
                        raise ProtocolError(f"unknown reply type byte {_describe_byte(buf[pos])}")
                    if size - pos > MAX_LINE_LENGTH + 1:
                        raise ProtocolError(_line_too_long())
                    self._pos = pos
                    self._need = -1
                    return NEED_DATA
                if eol - pos > MAX_LINE_LENGTH:
                    raise ProtocolError(_line_too_long())
                kind = buf[pos]
                if kind == 36:  # $ bulk string
                    line = buf[pos + 1 : eol]
                    length = lengths.get(line)
                    if length is None:
                        length = _bulk_length(line, kind, max_bulk)
                    if length < 0:
                        value = None
                        pos = eol + 2
                    else:
                        start = eol + 2
                        stop = start + length
                        if stop + 2 > size:
                            self._pos = pos
                            self._need = stop + 2 - pos
                            return NEED_DATA
                        if buf[stop] != 13 or buf[stop + 1] != 10:
                            raise ProtocolError(_missing_crlf(kind, length))
                        value = buf[start:stop]
                        if encoding is not None:
                            value = value.decode(encoding, errors)
                        pos = stop + 2
                elif kind == 42 or kind == 37 or kind == 126 or kind == 62 or kind == 124:
                    # * array, % map, ~ set, > push, | attribute
                    if len(stack) >= max_depth:
                        raise ProtocolError(
                            f"reply nesting is deeper than max_depth={max_depth} levels"
                        )
                    line = buf[pos + 1 : eol]
                    count = lengths.get(line)
                    if count is None:
                        count = _aggregate_count(line, kind, max_bulk)
                    pos = eol + 2
                    if count < 0:
                        if kind == 124:
                            raise ProtocolError("attribute with a null (-1) length")
                        value = None
                    else:
                        if kind != 124 and stack:
                            top = stack[-1]
                            if top[2] == _MAP and top[3] is _NO_KEY:
                                raise ProtocolError(
                                    f"map key is an aggregate ({_AGGREGATE_NAMES[kind]}), "
                                    "which cannot be a dict key"
                                )
                        if kind == 42 or kind == 126:
                            container: object = []
                            frame_kind = _LIST
                        elif kind == 37:
                            container = {}
                            frame_kind = _MAP
                            count *= 2
                        elif kind == 62:
                            container = Push()
                            frame_kind = _LIST
                        else:
                            container = None
                            frame_kind = _ATTRIBUTE
                            count *= 2
                        if count:
                            runs = count >= _RUN and frame_kind != _ATTRIBUTE
                            stack.append([container, count, frame_kind, _NO_KEY, runs])
                            continue
                        if frame_kind == _ATTRIBUTE:
                            continue  # an empty attribute decorates the next value
                        value = container
                elif kind == 58:  # : integer
                    line = buf[pos + 1 : eol]
                    value = small.get(line)
                    if value is None:
                        value = _integer(line)
                    pos = eol + 2
                elif kind == 43 or kind == 45:  # + simple string, - error
                    line = buf[pos + 1 : eol]
                    if 13 in line or 10 in line:
                        raise ProtocolError(
                            "simple string or error line contains a bare CR or LF character"
                        )
                    if kind == 45:
                        value = ResponseError(line.decode("utf-8", "replace"))
                    elif encoding is not None:
                        value = line.decode(encoding, errors)
                    else:
                        value = line
                    pos = eol + 2
                elif kind == 95:  # _ null
                    if eol != pos + 1:
                        raise ProtocolError("null (_) reply with content")
                    value = None
                    pos = eol + 2
                elif kind == 35:  # # boolean
                    line = buf[pos + 1 : eol]
                    if line == b"t" or line == b"T":
                        value = True
                    elif line == b"f" or line == b"F":
                        value = False
                    else:
                        raise ProtocolError("boolean reply that is neither #t nor #f")
                    pos = eol + 2
                elif kind == 44:  # , double
                    value = _double(buf[pos + 1 : eol])
                    pos = eol + 2
                elif kind == 40:  # ( big number
                    line = buf[pos + 1 : eol]
                    if _BIGNUM.fullmatch(line) is None:
                        raise ProtocolError("big number reply that is not an integer")
                    value = line if encoding is None else line.decode(encoding, errors)
                    pos = eol + 2
                elif kind == 61 or kind == 33:  # = verbatim string, ! bulk error
                    line = buf[pos + 1 : eol]
                    length = lengths.get(line)
                    if length is None:
                        length = _bulk_length(line, kind, max_bulk)
                    if length < 0:
                        if kind == 33:
                            raise ProtocolError("bulk error with a null (-1) length")
                        value = None
                        pos = eol + 2
                    else:
                        start = eol + 2
                        stop = start + length
                        if stop + 2 > size:
                            self._pos = pos
                            self._need = stop + 2 - pos
                            return NEED_DATA
                        if buf[stop] != 13 or buf[stop + 1] != 10:
                            raise ProtocolError(_missing_crlf(kind, length))
                        if kind == 33:
                            value = ResponseError(buf[start:stop].decode("utf-8", "replace"))
                        else:
                            if length < 4 or buf[start + 3] != 58:
                                raise ProtocolError(
                                    "verbatim string without its 3-byte format and colon"
                                )
                            value = buf[start + 4 : stop]
                            if encoding is not None:
                                value = value.decode(encoding, errors)
                        pos = stop + 2
                else:
                    raise ProtocolError(f"unknown reply type byte {_describe_byte(kind)}")

                # A value is complete: hand it to the open aggregates, innermost first.
                while stack:
                    frame = stack[-1]
                    frame_kind = frame[2]
                    if frame_kind == _LIST:
                        frame[0].append(value)
                    elif frame_kind == _MAP:
                        if frame[3] is _NO_KEY:
                            frame[3] = value
                        else:
                            frame[0][frame[3]] = value
                            frame[3] = _NO_KEY
                    # an attribute's keys and values are discarded
                    remaining = frame[1] - 1
                    if remaining:
                        frame[1] = remaining
                        break
                    stack.pop()
                    if frame_kind == _ATTRIBUTE:
                        break  # the attribute is complete: the value it decorates follows
                    value = frame[0]
                else:
                    self._pos = pos
                    return value

        except ProtocolError as exc:
            self._failure = str(exc)
            raise
        except UnicodeDecodeError as exc:
            message = (
                f"a reply could not be decoded with encoding {self._encoding!r} "
                f"(errors={self._errors!r}): {exc.reason} at offset {exc.start} of a "
                f"{len(exc.object)}-byte string"
            )
            self._failure = message
            raise ProtocolError(message) from None

    # -- used by the hiredis back end ------------------------------------------------------

    def idle(self) -> bool:
        """No reply is partially read and nothing is buffered."""
        return not self._stack and not self._chunks and self._pos >= len(self._buf)

    def consumed(self) -> int:
        """The stream offset just past the last reply returned."""
        return self._base + self._pos

    def fed(self) -> int:
        """The number of bytes fed so far."""
        return self._fed

    def take_rest(self) -> bytes:
        """Remove and return the bytes not yet parsed; only valid between replies."""
        rest = self._buf[self._pos :] + b"".join(self._chunks)
        self._base += len(self._buf) + self._chunks_len
        self._buf = b""
        self._pos = 0
        self._chunks.clear()
        self._chunks_len = 0
        self._need = 0
        return rest

    def fail(self, cause: str) -> None:
        """Put the parser in the failed state."""
        self._failure = cause

    # -- internals -------------------------------------------------------------------------

    def _merge(self) -> bool:
        """Join the queued chunks to the buffer if that can complete the pending item."""
        available = len(self._buf) - self._pos + self._chunks_len
        need = self._need
        if need < 0:  # waiting for the end of a line, and no b"\n" came
            if available > MAX_LINE_LENGTH + 1:
                raise ProtocolError(_line_too_long())
            return False
        if available < need:
            return False
        self._base += self._pos
        # One join, so a big reply is copied once here (not joined, then concatenated).
        chunks = self._chunks
        chunks.insert(0, self._buf[self._pos :])
        self._buf = b"".join(chunks)
        self._pos = 0
        chunks.clear()
        self._chunks_len = 0
        self._need = 0
        return True


def _bulk_run(
    buf: bytes, pos: int, frame: list[Any], headers_table: dict[bytes, int], max_bulk: int
) -> tuple[list[bytes] | None, int]:
    """Split off the complete bulk strings at `pos`, up to the frame's remaining count.

    Returns ``(values, new position)``, or ``(None, pos)`` when there is none to take (the
    general loop then parses the next element and reports errors and missing data exactly).

    ``bytes.split`` on CRLF cuts a buffered run of ``$<n>\\r\\n<payload>\\r\\n`` into header,
    payload, header, ...; a pair is taken only if its header is a valid length (as strict as the
    general loop) equal to its payload's length, which is exactly what the element-wise parse
    accepts: a header ends at the first CRLF and its payload is followed by CRLF. The first pair
    that does not verify (a null, another type, a CRLF inside a payload) ends the run and the
    frame stops trying runs, so a mixed aggregate costs one attempt, not one per element.
    """
    count = frame[1]
    if frame[2] == _MAP:
        if count & 1:
            return None, pos
    elif frame[2] != _LIST:
        return None, pos
    # Size the window from the first element, so the unsplit remainder stays small.
    eol = buf.find(b"\r\n", pos, pos + 24)
    if eol < 0:
        return None, pos
    first = headers_table.get(buf[pos:eol])
    if first is None:
        first = _run_length(buf[pos:eol], max_bulk)
        if first is None:
            frame[4] = False
            return None, pos
    span = (eol - pos + 4 + first) * count
    window = buf[pos : pos + span + (span >> 3) + 64]
    parts = window.split(b"\r\n", 2 * count)
    pairs = (len(parts) - 1) >> 1
    headers = parts[0 : 2 * pairs : 2]
    values = parts[1 : 2 * pairs : 2]
    sizes = list(map(len, values))
    # Equal lengths (IDs, hashes, timestamps...): every header is the first one, already
    # validated, and every payload has its length. Cheaper than a lookup per header.
    if not (pairs and headers.count(headers[0]) == pairs and sizes.count(first) == pairs):
        found = list(map(headers_table.get, headers))
        if found != sizes:
            taken = 0
            for expected, actual, header in zip(found, sizes, headers, strict=True):
                if expected != actual and (
                    expected is not None or _run_length(header, max_bulk) != actual
                ):
                    frame[4] = False  # something else than a plain bulk string follows
                    break
                taken += 1
            del values[taken:]
            del headers[taken:]
            pairs = taken
    if pairs == count:  # the common case: all of them, in one window
        return values, pos + len(window) - len(parts[-1])
    if pairs & 1 and frame[2] == _MAP:
        pairs -= 1
        del values[pairs:]
        del headers[pairs:]
    if not pairs:
        return None, pos
    return values, pos + sum(map(len, headers)) + sum(map(len, values)) + 4 * pairs


def _run_length(header: bytes, max_bulk: int) -> int | None:
    """The length in a ``$<n>`` header beyond the table, if valid and within `max_bulk`."""
    if header[:1] != b"$":
        return None
    length = _strict_int(header[1:])
    if length is None or length < 0 or length > max_bulk:
        return None
    return length


def _line_too_long() -> str:
    return f"a line of the reply is longer than {MAX_LINE_LENGTH} bytes without CRLF"


def _missing_crlf(kind: int, length: int) -> str:
    return f"the {length}-byte payload of a {_BULK_NAMES[kind]} is not followed by CRLF"


def _describe_byte(byte: int) -> str:
    if 32 < byte < 127:
        return f"{chr(byte)!r} (0x{byte:02x})"
    return f"0x{byte:02x}"


def _strict_int(line: bytes) -> int | None:
    """hiredis' strictness: ``-?[1-9][0-9]*`` or ``0``, within 64 bits; else None."""
    digits = line[1:] if line[:1] == b"-" else line
    if not digits.isdigit() or len(digits) > 19 or (digits[0] == 48 and len(line) > 1):
        return None
    value = int(line)
    if not _INT64_MIN <= value <= _INT64_MAX:
        return None
    return value


def _bulk_length(line: bytes, kind: int, max_bulk: int) -> int:
    """The length of a bulk string, verbatim string or bulk error; -1 for null."""
    length = _strict_int(line)
    name = _BULK_NAMES[kind]
    if length is None or length < -1:
        raise ProtocolError(f"invalid {name} length (not an integer >= -1)")
    if length > max_bulk:
        raise ProtocolError(f"{name} of {length} bytes exceeds max_bulk_length={max_bulk}")
    return length


def _aggregate_count(line: bytes, kind: int, max_bulk: int) -> int:
    count = _strict_int(line)
    name = _AGGREGATE_NAMES[kind]
    if count is None or count < -1:
        raise ProtocolError(f"invalid {name} length (not an integer >= -1)")
    if count > max_bulk:
        raise ProtocolError(
            f"{name} of {count} elements exceeds the limit of {max_bulk} (max_bulk_length)"
        )
    return count


def _integer(line: bytes) -> int:
    value = _strict_int(line)
    if value is None:
        raise ProtocolError("invalid integer reply (not a signed 64-bit decimal integer)")
    return value


def _double(line: bytes) -> float:
    if len(line) > _MAX_DOUBLE_LINE:
        raise ProtocolError(f"double reply longer than {_MAX_DOUBLE_LINE} bytes")
    if len(line) in (3, 4):
        special = _SPECIAL_DOUBLES.get(line.lower())
        if special is not None:
            return special
    if _DOUBLE.fullmatch(line) is None:
        raise ProtocolError("invalid double reply")
    value = float(line)
    if math.isinf(value):
        raise ProtocolError("double reply out of range")
    if value == 0.0 and _NONZERO_DIGIT.search(line.split(b"e")[0].split(b"E")[0]):
        raise ProtocolError("double reply out of range (underflow)")
    return value
