"""The hiredis back end: hiredis for speed, the pure parser where hiredis gets RESP3 wrong.

hiredis 3.x (measured with 3.5) has pitfalls this module routes around, so that both back
ends return identical values for every valid input:

1. a bulk error (``!``) is refused: "got "!" as reply type byte";
2. an attribute (``|``) comes back as a separate reply at the top level, and is mis-nested
   inside an aggregate (``*2 |1 +a +b :1 :2`` gives ``[[[a, b], 1], 2]``);
3. a map with an aggregate key raises ``TypeError`` (unhashable) and breaks the reader;
4. a huge declared bulk length just waits and buffers: hiredis has no limit of its own;
5. RESP3 ``#f`` is ``False``, hiredis' default "no reply yet" value: `NEED_DATA` is passed
   as ``notEnoughData`` instead.

**Two engines, switched at reply boundaries (pitfalls 1 and 2).** Servers practically never
send ``!`` or ``|``, so hiredis parses everything until a fed chunk *may* carry one of them
as a type byte. A type byte always follows the CRLF that ends the previous element (or starts
the stream), so a chunk is suspicious only if it matches ``\r\n[|!]``, itself or across the
junction with the previous chunk. The check is a ``memchr`` for ``|`` and for ``!``, then,
only when one is there, that regular expression: binary payloads, where those bytes are
common, rarely take the slow path (a plain ``chunk.find(b"|")`` would flag nearly every
64 KiB chunk of binary data and send it to the pure parser).

To hand over mid-stream, the back end keeps a *mirror*: the chunks fed since hiredis was last
seen at a reply boundary. That is when ``gets()`` returns a reply and ``has_data()`` is then
false (one C call per reply). Note that ``has_data()`` false after ``gets()`` returned
`NEED_DATA` proves nothing: hiredis consumes the type byte and the header of an aggregate as
soon as they arrive (``*2\r\n:1\r\n`` leaves nothing unread, mid-reply).

On a suspicious chunk, hiredis is first drained of the replies it can still produce from the
bytes it has (they are served first); every complete reply in the mirror has then come out of
hiredis, so a fresh pure parser is fed the mirror, parses and drops all its complete replies,
and is fed the chunk. It serves replies until it stands at a reply boundary past the last
suspicious byte, then hands the unparsed rest of its buffer to a fresh hiredis reader (or
hands back when idle). A suspicious byte that is only payload thus costs a pure parse of that
stretch, nothing more. The mirror holds at most `MIRROR_LIMIT` bytes (it only references
chunks; it empties at every reply boundary): past that (one huge reply, or a long stream
whose chunks never end at a reply boundary) it is invalid until the next boundary, and a
suspicious chunk meanwhile goes to hiredis as is: a ``!`` then fails with `ProtocolError`, an
attribute is mis-nested. That is the documented limitation of this back end; real servers
send neither.

**Guards (pitfalls 3 and 4).** Every exception of ``gets()`` (``hiredis.ProtocolError``,
``TypeError`` for an unhashable key, ``UnicodeDecodeError``, ``MemoryError`` for an absurd
count) becomes our `ProtocolError` and fails the parser. ``Reader.len()`` is the size of
hiredis' buffer, whose consumed part is compacted below 1 KiB on every ``gets()``: after a
drain it is, within 1 KiB, the incomplete reply's pending bytes, and more than
``max_bulk_length`` + 1 MiB of them is refused. Memory stays bounded without seeing headers.
And so that a hostile header (``$99999999999``) fails at once instead of waiting: when a drain
ends on an incomplete reply of at most `HEADER_CHECK_LIMIT` bytes (its start is in the
mirror), a throwaway pure parser checks that stretch and raises what it would raise.

**Known divergences on malformed input only**: hiredis does not check the CRLF after a bulk
payload (it skips two bytes), accepts empty big numbers and lines of any length (up to the
buffer bound above), and bounds aggregate counts at 2**32 - 1 rather than
``max_bulk_length``. hiredis allocates an array's or a push's element slots at its header
(``*100000000`` reserves 800 MB of address space, a push ``>100000000`` touches it): a
hostile server can make this back end use memory the Python back end would refuse to.
"""

from __future__ import annotations

import re
from collections import deque
from collections.abc import Callable
from typing import Any

import hiredis

from .._errors import ProtocolError, ResponseError
from ._parser import DEFAULT_MAX_BULK_LENGTH, HIREDIS_MAX_DEPTH, Parser
from ._pure import PythonParser
from ._values import NEED_DATA, Push

__all__ = ["MIRROR_LIMIT", "HiredisParser"]

MIRROR_LIMIT = 1024 * 1024
#: An incomplete reply this small has its headers checked by the pure parser (pitfall 4).
HEADER_CHECK_LIMIT = 1024
"""The most bytes kept to replay an unfinished stretch into the pure parser."""

_BUFFER_SLACK = 1024 * 1024
_SUSPICIOUS = re.compile(rb"\r\n[|!]")  # a "|" or "!" where a type byte may be
_BOUNDARY_TAIL = b"\r\n"  # what the stream "ends with" at a reply boundary
_PushNotification = hiredis.PushNotification


def _suspicious_junction(tail: bytes, data: bytes) -> bool:
    """Whether a ``|`` or ``!`` type byte may straddle ``tail`` (the stream's last two bytes)
    and ``data``: CRLF or LF ends ``tail``, and ``data`` starts with it or with LF and it."""
    return _SUSPICIOUS.search(tail + data[:2]) is not None


def _suspicious_end(tail: bytes, data: bytes) -> int:
    """The offset in ``data`` just past the last byte that may be a ``|`` or ``!`` type byte;
    0 if there is none."""
    end = 0
    if 124 in data or 33 in data:
        for match in _SUSPICIOUS.finditer(data):
            end = match.end()
    if not end and data[:1] in (b"|", b"!", b"\n"):
        junction = _SUSPICIOUS.search(tail + data[:2])
        if junction is not None:
            end = junction.end() - len(tail)
    return end


class HiredisParser(Parser):
    """The hiredis back end of `Parser` (see there for the reply representation)."""

    backend = "hiredis"

    def __init__(
        self,
        protocol: int = 3,
        backend: str = "hiredis",
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
        if self._max_depth != HIREDIS_MAX_DEPTH:
            raise ValueError(f"the hiredis back end needs max_depth={HIREDIS_MAX_DEPTH}")
        self._buffer_limit = max_bulk_length + _BUFFER_SLACK
        # The careful engine while it serves replies (or a failed one, once failed); None
        # while hiredis does.
        self._pure: PythonParser | None = None
        self._taint_end = 0  # pure-stream offset just past the last suspicious byte
        self._tail = _BOUNDARY_TAIL  # the last two bytes fed
        self._gets: Callable[[], Any]
        self._hfeed: Callable[[bytes], None]
        self._has_data: Callable[[], bool]
        self._len: Callable[[], int]
        self._mirror: list[bytes] | None
        self._mirror_size: int
        # Replies hiredis still had when the pure parser took over, and the error it raised
        # after them, if any: both are served before the pure parser's replies.
        self._pending: deque[object] = deque()
        self._deferred: str | None = None
        self._new_reader()

    def _new_reader(self) -> None:
        reader = hiredis.Reader(
            replyError=ResponseError,
            notEnoughData=NEED_DATA,
            # hiredis keeps pointers into these two strings: self holds them alive.
            encoding=self._encoding,
            errors=self._errors,
        )
        self._gets = reader.gets
        self._hfeed = reader.feed
        self._has_data = reader.has_data
        self._len = reader.len
        self._mirror = []  # chunks fed since the last reply boundary; None: too many
        self._mirror_size = 0

    # -- hot path ----------------------------------------------------------------------------

    def feed(self, data: bytes | bytearray | memoryview) -> None:
        if self._pure is not None:
            self._feed_pure(data)
            return
        if type(data) is not bytes:
            data = bytes(data)  # the mirror must own its chunks
        if not data:
            return
        if ((124 in data or 33 in data) and _SUSPICIOUS.search(data) is not None) or (
            data[:1] in (b"|", b"!", b"\n") and _suspicious_junction(self._tail, data)
        ):
            self._suspicious_chunk(data)
            return
        self._hfeed(data)
        self._tail = data[-2:] if len(data) >= 2 else (self._tail + data)[-2:]
        mirror = self._mirror
        if mirror is not None:
            size = self._mirror_size + len(data)
            if size > MIRROR_LIMIT:
                self._mirror = None
            else:
                mirror.append(data)
                self._mirror_size = size

    def next_reply(self) -> object:
        if self._pure is not None:
            return self._next_reply_pure()
        try:
            reply = self._gets()
        except Exception as exc:
            raise self._hiredis_failed(exc) from None
        if reply is NEED_DATA:
            self._check_need_data()
            return reply
        if not self._has_data():  # a reply boundary: nothing to replay before it
            self._mirror = []
            self._mirror_size = 0
        if type(reply) is _PushNotification:
            return Push(reply)
        return reply

    def replies(self) -> list[object]:
        # `next_reply` until NEED_DATA without a Python call per reply: hiredis' own loop.
        if self._pure is not None or self._replies_error is not None:
            return super().replies()
        out: list[object] = []
        append = out.append
        gets = self._gets
        has_data = self._has_data
        boundary = False
        try:
            while (reply := gets()) is not NEED_DATA:
                if not has_data():
                    # A reply boundary. Nothing is fed meanwhile, so emptying the mirror once,
                    # after the loop, is what `next_reply` does at each boundary.
                    boundary = True
                append(Push(reply) if type(reply) is _PushNotification else reply)
        except Exception as exc:
            error: Exception = self._hiredis_failed(exc)
        else:
            if boundary:
                self._mirror = []
                self._mirror_size = 0
            try:
                self._check_need_data()
                return out
            except ProtocolError as exc:
                error = exc
        if not out:
            raise error
        self._replies_error = error
        return out

    def _check_need_data(self) -> None:
        """The checks of an incomplete reply (pitfall 4), when hiredis needs more data."""
        if self._len() > self._buffer_limit:
            raise self._fail(
                f"an incomplete reply buffers more than max_bulk_length="
                f"{self._max_bulk_length} bytes (+ 1 MiB)"
            )
        mirror = self._mirror
        if mirror and self._mirror_size <= HEADER_CHECK_LIMIT:
            self._check_incomplete(mirror)

    # -- engine switches ---------------------------------------------------------------------

    def _suspicious_chunk(self, data: bytes) -> None:
        tail = self._tail
        self._tail = data[-2:] if len(data) >= 2 else (tail + data)[-2:]
        mirror = self._mirror
        if mirror is None:
            # No replayable boundary: hiredis it is (see the module documentation).
            self._hfeed(data)
            return
        # Take the replies hiredis can still produce from what it was fed: with those it
        # returned already, they are all the complete replies in the mirror.
        pending = self._pending
        try:
            while (reply := self._gets()) is not NEED_DATA:
                pending.append(Push(reply) if type(reply) is _PushNotification else reply)
        except Exception as exc:
            self._deferred = self._hiredis_error(exc)
        pure = self._new_pure()
        self._pure = pure
        self._mirror = None
        if self._deferred is not None:
            return  # the pending replies, then the error
        for chunk in mirror:
            pure.feed(chunk)
        try:  # skip the complete replies: hiredis produced them
            while pure.next_reply() is not NEED_DATA:
                pass
        except ProtocolError as exc:  # hiredis accepted what the pure parser refuses
            self._deferred = str(exc)
            return
        self._taint_end = self._mirror_size + _suspicious_end(tail, data)
        pure.feed(data)

    def _feed_pure(self, data: bytes | bytearray | memoryview) -> None:
        pure = self._pure
        assert pure is not None
        if type(data) is not bytes:
            data = bytes(data)
        tail = self._tail
        end = _suspicious_end(tail, data)
        if end:
            self._taint_end = pure.fed() + end
        self._tail = data[-2:] if len(data) >= 2 else (tail + data)[-2:]
        pure.feed(data)

    def _next_reply_pure(self) -> object:
        if self._pending:
            return self._pending.popleft()
        if self._deferred is not None:
            cause, self._deferred = self._deferred, None
            raise self._fail(cause)
        pure = self._pure
        assert pure is not None
        reply = pure.next_reply()
        if reply is NEED_DATA:
            if pure.idle():
                self._back_to_hiredis(b"")
            return reply
        if pure.consumed() >= self._taint_end:
            self._back_to_hiredis(pure.take_rest())
        return reply

    def _back_to_hiredis(self, rest: bytes) -> None:
        self._pure = None
        self._new_reader()
        self._tail = _BOUNDARY_TAIL
        if rest:
            self.feed(rest)

    def _check_incomplete(self, mirror: list[bytes]) -> None:
        """Validate the headers of a small incomplete reply with the pure parser (pitfall 4).

        hiredis waits for any declared length, so ``$99999999999`` would hang the connection
        until ``max_bulk_length`` bytes arrived. While the incomplete stretch is small (its
        header is in it) the pure parser checks it exactly; it only raises, its replies are
        dropped. Past `HEADER_CHECK_LIMIT` bytes the buffer bound above still holds.
        """
        checker = PythonParser(
            self._protocol,
            "python",
            max_bulk_length=self._max_bulk_length,
            max_depth=self._max_depth,
        )
        try:
            for chunk in mirror:
                checker.feed(chunk)
                while checker.next_reply() is not NEED_DATA:
                    pass
        except ProtocolError as exc:
            raise self._fail(str(exc)) from None

    def _new_pure(self) -> PythonParser:
        return PythonParser(
            self._protocol,
            "python",
            encoding=self._encoding,
            errors=self._errors,
            max_bulk_length=self._max_bulk_length,
            max_depth=self._max_depth,
        )

    # -- failures ----------------------------------------------------------------------------

    def _fail(self, cause: str) -> ProtocolError:
        """Enter the failed state (for good) and return the error to raise."""
        failed = self._new_pure()
        failed.fail(cause)
        self._pure = failed
        return ProtocolError(cause)

    def _hiredis_failed(self, exc: Exception) -> ProtocolError:
        return self._fail(self._hiredis_error(exc))

    def _hiredis_error(self, exc: Exception) -> str:
        """The message of our ProtocolError for an exception raised by ``Reader.gets()``."""
        if isinstance(exc, hiredis.ProtocolError):
            return f"hiredis: {exc}"
        if isinstance(exc, UnicodeDecodeError):
            return (
                f"a reply could not be decoded with encoding {self._encoding!r} "
                f"(errors={self._errors!r}): {exc.reason} at offset {exc.start} of a "
                f"{len(exc.object)}-byte string"
            )
        if isinstance(exc, TypeError) and "unhashable" in str(exc):
            return "map key is an aggregate, which cannot be a dict key"
        if isinstance(exc, MemoryError):
            return "a reply declares more elements than memory can hold"
        return f"hiredis failed with {type(exc).__name__}: {exc}"
