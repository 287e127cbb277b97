"""The public `Parser`: picks a back end (hiredis or pure Python) and documents the replies."""

from __future__ import annotations

import codecs
from typing import ClassVar

from ._values import NEED_DATA

__all__ = ["DEFAULT_MAX_BULK_LENGTH", "HIREDIS_MAX_DEPTH", "Parser", "hiredis_available"]

DEFAULT_MAX_BULK_LENGTH = 512 * 1024 * 1024
"""Redis' own ``proto-max-bulk-len`` default."""

HIREDIS_MAX_DEPTH = 1024
"""The nesting limit compiled into hiredis; also the largest ``max_depth`` accepted."""

_hiredis_available: bool | None = None


def hiredis_available() -> bool:
    """Whether the hiredis back end can be used (the ``hiredis`` package, 3.0 or later)."""
    global _hiredis_available
    if _hiredis_available is None:
        try:
            import hiredis
        except ImportError:
            _hiredis_available = False
        else:
            _hiredis_available = hasattr(hiredis, "PushNotification")
    return _hiredis_available


class Parser:
    """Incremental, sans-IO RESP2/RESP3 reply parser.

    Feed it the bytes read from the socket with `feed`, then call `next_reply` until it returns
    `NEED_DATA`::

        parser = Parser()
        parser.feed(chunk)
        while (reply := parser.next_reply()) is not NEED_DATA:
            handle(reply)

    **Arguments**

    ``protocol``
        2 or 3: the protocol negotiated with the server (``HELLO``). Either way the parser
        accepts every RESP3 type (RESP2 is a subset of RESP3); the value is only recorded.
    ``backend``
        ``"auto"`` (hiredis when it is installed and ``max_depth`` is the default, else Python),
        ``"hiredis"`` (``ImportError`` when hiredis is missing: install ``anyredis-auth[hiredis]``)
        or ``"python"``. `backend` tells which one was picked. Both return identical values
        for valid input; the hiredis back end hands stretches of the stream that may hold a
        bulk error or an attribute (which hiredis mishandles) to the Python parser, see
        ``anyredis_auth.protocol._hiredis`` for how and for its one limitation.
    ``encoding``, ``errors``
        ``None`` (the default) returns text replies as ``bytes``. An encoding (e.g.
        ``"utf-8"``) decodes simple strings, bulk strings, verbatim strings and big numbers,
        wherever they occur, map keys included, to ``str`` with the ``errors`` handler; a reply
        that does not decode raises `ProtocolError`. Error messages are always decoded as UTF-8
        with ``errors="replace"``, whatever ``encoding`` is.
    ``max_bulk_length``
        The longest bulk string, bulk error or verbatim string accepted (default 512 MiB, the
        server's own default), and the largest aggregate count. The Python back end refuses a
        longer one at its header; the hiredis back end cannot see headers, and fails instead
        once more than ``max_bulk_length`` + 1 MiB of an incomplete reply is buffered.
    ``max_depth``
        The deepest nesting of aggregates accepted, 1 to 1024 (the default, which is hiredis'
        own limit): ``b"*1\\r\\n" * 1024 + b":1\\r\\n"`` is accepted, one level more is not.
        Attributes count as a level while they are read. A smaller limit needs the Python back
        end (``"auto"`` picks it; ``"hiredis"`` raises ``ValueError``).

    **Replies** (``bytes`` become ``str`` when ``encoding`` is set)

    ===================================  ======================================================
    ``+`` simple string                  ``bytes``
    ``-`` error, ``!`` bulk error        a `ResponseError` *instance*, returned, not raised
    ``:`` integer                        ``int`` (signed 64-bit, as the protocol says)
    ``$`` bulk string                    ``bytes``
    ``$-1``, ``*-1``, ``_`` null         ``None`` (also ``%-1``, ``~-1``, ``>-1``, ``=-1``)
    ``*`` array                          ``list``
    ``#`` boolean                        ``True`` / ``False``
    ``,`` double                         ``float``, including ``inf``, ``-inf`` and ``nan``
    ``(`` big number                     ``bytes`` of its digits, e.g. ``b"-1234"``
    ``=`` verbatim string                ``bytes`` of its content *without* the format
                                         (``=8\\r\\ntxt:text\\r\\n`` gives ``b"text"``)
    ``%`` map                            ``dict``, in wire order
    ``~`` set                            ``list``, in wire order
    ``>`` push                           `Push` (a ``list`` subclass)
    ``|`` attribute                      *discarded*: the value it decorates is returned in its
                                         place, at the top level and inside aggregates
    ===================================  ======================================================

    A map key that is an aggregate (unhashable) is a `ProtocolError`. Duplicate map keys are
    invalid RESP; the Python back end keeps the last value, hiredis does something else. A push
    nested in an aggregate (servers send none) comes back as a ``list`` subclass too.

    **Errors.** Malformed input raises `ProtocolError` (from `feed` or `next_reply`): unknown
    type bytes, non-numeric or negative lengths, integers outside 64 bits, a bulk payload not
    followed by CRLF (checked by the Python back end only: hiredis skips those two bytes), a
    simple-string or header line longer than 64 KiB (Python back end; hiredis is bounded by
    ``max_bulk_length`` as above), the limits above. Messages never quote the payload. After a
    `ProtocolError` the parser is failed for good: every later call raises `ProtocolError`
    ("parser is in a failed state"); drop the connection.
    """

    backend: ClassVar[str] = "abstract"
    """``"hiredis"`` or ``"python"``: the back end in use."""

    #: An error met by `replies` after some replies, raised by its next call.
    _replies_error: Exception | None = None

    def __new__(
        cls,
        protocol: int = 3,
        backend: str = "auto",
        *,
        encoding: str | None = None,
        errors: str = "strict",
        max_bulk_length: int = DEFAULT_MAX_BULK_LENGTH,
        max_depth: int = HIREDIS_MAX_DEPTH,
    ) -> Parser:
        if cls is not Parser:  # a back end class built directly (internal use)
            return super().__new__(cls)
        if backend == "auto":
            use_hiredis = hiredis_available() and max_depth == HIREDIS_MAX_DEPTH
        elif backend == "hiredis":
            if not hiredis_available():
                raise ImportError(
                    "the hiredis parser back end needs the hiredis package (3.0 or later): "
                    "install anyredis-auth[hiredis]"
                )
            if max_depth != HIREDIS_MAX_DEPTH:
                raise ValueError(
                    f"the hiredis back end has a fixed nesting limit of {HIREDIS_MAX_DEPTH}; "
                    f"max_depth={max_depth!r} needs backend='python'"
                )
            use_hiredis = True
        elif backend == "python":
            use_hiredis = False
        else:
            raise ValueError(
                f"unknown parser back end {backend!r}: use 'auto', 'hiredis' or 'python'"
            )
        implementation: type[Parser]
        if use_hiredis:
            from ._hiredis import HiredisParser

            implementation = HiredisParser
        else:
            from ._pure import PythonParser

            implementation = PythonParser
        return super().__new__(implementation)

    def __init__(
        self,
        protocol: int = 3,
        backend: str = "auto",
        *,
        encoding: str | None = None,
        errors: str = "strict",
        max_bulk_length: int = DEFAULT_MAX_BULK_LENGTH,
        max_depth: int = HIREDIS_MAX_DEPTH,
    ) -> None:
        if protocol not in (2, 3) or isinstance(protocol, bool):
            raise ValueError(f"protocol must be 2 or 3, not {protocol!r}")
        if encoding is not None:
            try:
                encoding = codecs.lookup(encoding).name
            except (LookupError, TypeError):
                raise ValueError(f"unknown encoding {encoding!r}") from None
        try:
            codecs.lookup_error(errors)
        except (LookupError, TypeError):
            raise ValueError(f"unknown decoding error handler {errors!r}") from None
        if (
            not isinstance(max_bulk_length, int)
            or isinstance(max_bulk_length, bool)
            or not 0 <= max_bulk_length < 2**63
        ):
            raise ValueError(f"max_bulk_length must be an int >= 0, not {max_bulk_length!r}")
        if (
            not isinstance(max_depth, int)
            or isinstance(max_depth, bool)
            or not 1 <= max_depth <= HIREDIS_MAX_DEPTH
        ):
            raise ValueError(
                f"max_depth must be an int from 1 to {HIREDIS_MAX_DEPTH}, not {max_depth!r}"
            )
        # Read-only through properties: hiredis keeps pointers into the encoding strings.
        self._protocol = protocol
        self._encoding = encoding
        self._errors = errors
        self._max_bulk_length = max_bulk_length
        self._max_depth = max_depth

    @property
    def protocol(self) -> int:
        """The protocol version given (2 or 3); both parse every RESP3 type."""
        return self._protocol

    @property
    def encoding(self) -> str | None:
        """The encoding text replies are decoded with (normalized, e.g. ``"utf-8"``), or None."""
        return self._encoding

    @property
    def errors(self) -> str:
        """The decoding error handler."""
        return self._errors

    @property
    def max_bulk_length(self) -> int:
        """The longest bulk string accepted, and the largest aggregate count."""
        return self._max_bulk_length

    @property
    def max_depth(self) -> int:
        """The deepest nesting of aggregates accepted."""
        return self._max_depth

    def feed(self, data: bytes | bytearray | memoryview) -> None:
        """Append bytes received from the server. The parser keeps its own copy when needed."""
        raise NotImplementedError

    def next_reply(self) -> object:
        """Return the next complete reply, or `NEED_DATA` when more bytes are needed."""
        raise NotImplementedError

    def replies(self) -> list[object]:
        """Every complete reply available now, in order; empty when more bytes are needed.

        The same replies as calling `next_reply` until `NEED_DATA`, in one call (a connection's
        reader takes a whole chunk's replies at once). An error met after some replies is
        raised by the next call, so the replies before it are served first: call it until it
        returns an empty list.
        """
        error = self._replies_error
        if error is not None:
            self._replies_error = None
            raise error
        out: list[object] = []
        next_reply = self.next_reply
        try:
            while (reply := next_reply()) is not NEED_DATA:
                out.append(reply)
        except Exception as exc:
            if not out:
                raise
            self._replies_error = exc
        return out

    def __repr__(self) -> str:
        return (
            f"<{type(self).__name__} backend={self.backend!r} protocol={self.protocol} "
            f"encoding={self.encoding!r}>"
        )


def failed_state_error(cause: str) -> str:
    """The message of every call made on a failed parser."""
    return (
        f"parser is in a failed state after an earlier protocol error ({cause}); "
        "the connection must be dropped"
    )
