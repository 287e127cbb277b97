"""Hypothesis strategies for RESP: wire bytes paired with the reply `Parser` must return.

Every strategy yields *expected* values in the representation documented on
`anyredis_auth.protocol.Parser`: simple and bulk strings as ``bytes`` (``str`` with an
``encoding``), errors as `ResponseError` instances, doubles as floats (NaN included: compare
with `replies_equal`), big numbers as their digits, verbatim strings without their format,
sets as lists, pushes as `Push`, attributes discarded in favour of the value they decorate.
"""

from __future__ import annotations

import functools
import itertools
import math
from collections.abc import Sequence
from typing import NamedTuple

from hypothesis import strategies as st

from anyredis_auth.protocol import CommandArg, Push, ResponseError

__all__ = [
    "argument_bytes",
    "chunkings",
    "commands",
    "replies_equal",
    "resp_streams",
    "resp_values",
]

Pair = tuple[bytes, object]
"""Wire bytes and the reply they encode."""

_INT64 = st.integers(min_value=-(2**63), max_value=2**63 - 1)
_CRLF = b"\r\n"


def replies_equal(a: object, b: object) -> bool:
    """Strict structural equality of two replies.

    Unlike ``==``: types must match exactly (``True`` is not ``1``, ``b"a"`` is not ``"a"``, a
    `Push` is not a ``list``), NaN equals NaN, ``-0.0`` differs from ``0.0``, dicts must have
    their items in the same order. Iterative, so arbitrarily deep replies compare fine.
    """
    pending: list[tuple[object, object]] = [(a, b)]
    while pending:
        x, y = pending.pop()
        if type(x) is not type(y):
            return False
        if isinstance(x, float):
            assert isinstance(y, float)
            if math.isnan(x) or math.isnan(y):
                if not (math.isnan(x) and math.isnan(y)):
                    return False
            elif x != y or math.copysign(1.0, x) != math.copysign(1.0, y):
                return False
        elif isinstance(x, list):
            assert isinstance(y, list)
            if len(x) != len(y):
                return False
            pending.extend(zip(x, y, strict=True))
        elif isinstance(x, dict):
            assert isinstance(y, dict)
            if len(x) != len(y):
                return False
            for (kx, vx), (ky, vy) in zip(x.items(), y.items(), strict=True):
                pending.append((kx, ky))
                pending.append((vx, vy))
        elif x != y:
            return False
    return True


# -- scalars ---------------------------------------------------------------------------------


def _payloads(encoding: str | None, *, max_size: int = 24) -> st.SearchStrategy[bytes]:
    """Raw payload bytes; with an encoding, only bytes that decode with it."""
    if encoding is None:
        return st.binary(max_size=max_size)
    return st.text(st.characters(codec=encoding), max_size=max_size).map(
        lambda text: text.encode(encoding)
    )


def _text_value(raw: bytes, encoding: str | None) -> object:
    return raw if encoding is None else raw.decode(encoding)


def _without_crlf(raw: bytes) -> bytes:
    return raw.replace(b"\r", b"").replace(b"\n", b"")


def _decodes(raw: bytes, encoding: str | None) -> bool:
    if encoding is None:
        return True
    try:
        raw.decode(encoding)
    except UnicodeDecodeError:
        return False
    return True


def _simple_strings(encoding: str | None) -> st.SearchStrategy[Pair]:
    return (
        _payloads(encoding)
        .map(_without_crlf)
        .filter(lambda raw: _decodes(raw, encoding))
        .map(lambda raw: (b"+" + raw + _CRLF, _text_value(raw, encoding)))
    )


def _bulk_strings(encoding: str | None) -> st.SearchStrategy[Pair]:
    return _payloads(encoding).map(
        lambda raw: (b"$%d\r\n%b\r\n" % (len(raw), raw), _text_value(raw, encoding))
    )


def _integers() -> st.SearchStrategy[Pair]:
    return _INT64.map(lambda n: (b":%d\r\n" % n, n))


def _errors() -> st.SearchStrategy[Pair]:
    # Any bytes: messages are decoded as UTF-8 with errors="replace" whatever the encoding.
    return st.binary(max_size=24).map(
        lambda raw: (
            b"-" + _without_crlf(raw) + _CRLF,
            ResponseError(_without_crlf(raw).decode("utf-8", "replace")),
        )
    )


def _bulk_errors() -> st.SearchStrategy[Pair]:
    return st.binary(max_size=24).map(
        lambda raw: (
            b"!%d\r\n%b\r\n" % (len(raw), raw),
            ResponseError(raw.decode("utf-8", "replace")),
        )
    )


def _nulls(protocol: int) -> st.SearchStrategy[Pair]:
    wires = [b"$-1\r\n", b"*-1\r\n"] + ([b"_\r\n"] if protocol == 3 else [])
    return st.sampled_from(wires).map(lambda wire: (wire, None))


def _booleans() -> st.SearchStrategy[Pair]:
    return st.booleans().map(lambda flag: (b"#t\r\n" if flag else b"#f\r\n", flag))


def _double_wire(value: float) -> bytes:
    if math.isnan(value):
        return b",nan\r\n"
    if math.isinf(value):
        return b",inf\r\n" if value > 0 else b",-inf\r\n"
    return b",%b\r\n" % repr(value).encode()


def _doubles() -> st.SearchStrategy[Pair]:
    floats = st.floats(allow_nan=True, allow_infinity=True) | st.integers(-(10**6), 10**6).map(
        float
    )
    return floats.map(lambda value: (_double_wire(value), value))


def _big_numbers(encoding: str | None) -> st.SearchStrategy[Pair]:
    return st.integers().map(lambda n: (b"(%d\r\n" % n, _text_value(b"%d" % n, encoding)))


def _verbatim_strings(encoding: str | None) -> st.SearchStrategy[Pair]:
    def build(fmt: bytes, raw: bytes) -> Pair:
        content = fmt + b":" + raw
        return b"=%d\r\n%b\r\n" % (len(content), content), _text_value(raw, encoding)

    return st.builds(build, st.sampled_from([b"txt", b"mkd"]), _payloads(encoding))


def _scalars(protocol: int, encoding: str | None) -> st.SearchStrategy[Pair]:
    resp2 = [
        _simple_strings(encoding),
        _errors(),
        _integers(),
        _bulk_strings(encoding),
        _nulls(protocol),
    ]
    if protocol == 2:
        return st.one_of(resp2)
    resp3 = [
        _booleans(),
        _doubles(),
        _big_numbers(encoding),
        _verbatim_strings(encoding),
        _bulk_errors(),
    ]
    return st.one_of(resp2 + resp3)


def _map_keys(encoding: str | None) -> st.SearchStrategy[Pair]:
    """Scalars that are hashable and never equal one another across types."""
    return st.one_of(_bulk_strings(encoding), _simple_strings(encoding), _integers())


# -- aggregates ------------------------------------------------------------------------------
# Built with composite strategies that recurse by depth: their repr stays short (nested
# one_of() trees have reprs exponential in the depth) and they shrink towards scalars.


@functools.cache
def _scalar_strategy(protocol: int, encoding: str | None) -> st.SearchStrategy[Pair]:
    return _scalars(protocol, encoding)


@functools.cache
def _key_strategy(encoding: str | None) -> st.SearchStrategy[Pair]:
    return _map_keys(encoding)


class _Parts(NamedTuple):
    """The strategies one `_value` level draws from, built once per configuration."""

    kinds: tuple[str, ...]
    kind: st.SearchStrategy[int]
    child: st.SearchStrategy[Pair]
    items: st.SearchStrategy[list[Pair]]
    keys: st.SearchStrategy[list[Pair]]
    attribute: st.SearchStrategy[list[tuple[Pair, Pair]]]
    decorated: st.SearchStrategy[Pair]


@functools.cache
def _parts(
    protocol: int, depth: int, encoding: str | None, attributes: bool, max_size: int
) -> _Parts:
    resp3 = protocol == 3
    kinds = ["scalar"]
    if depth > 0:
        kinds += ["array", "map", "set"] if resp3 else ["array"]
        if resp3 and attributes:
            kinds.append("attribute")
    child = _values(protocol, max(depth - 1, 0), encoding, attributes, max_size)
    return _Parts(
        kinds=tuple(kinds),
        kind=st.integers(0, len(kinds) - 1),
        child=child,
        items=st.lists(child, max_size=max_size),
        keys=st.lists(_key_strategy(encoding), max_size=max_size, unique_by=_second),
        attribute=st.lists(st.tuples(child, child), max_size=2),
        decorated=_values(protocol, depth, encoding, False, max_size),
    )


def _second(pair: Pair) -> object:
    return pair[1]


@functools.cache
def _values(
    protocol: int, depth: int, encoding: str | None, attributes: bool, max_size: int
) -> st.SearchStrategy[Pair]:
    return _value(protocol, depth, encoding, attributes, max_size)


@st.composite
def _value(
    draw: st.DrawFn,
    protocol: int,
    depth: int,
    encoding: str | None,
    attributes: bool,
    max_size: int,
) -> Pair:
    """One value nested at most ``depth`` aggregate levels deep (never a push)."""
    parts = _parts(protocol, depth, encoding, attributes, max_size)
    kind = parts.kinds[draw(parts.kind)]
    if kind == "scalar":
        return draw(_scalar_strategy(protocol, encoding))
    if kind == "attribute":
        entries = draw(parts.attribute)
        decorated = draw(parts.decorated)
        wire = b"|%d\r\n" % len(entries)
        wire += b"".join(key[0] + item[0] for key, item in entries)
        return wire + decorated[0], decorated[1]
    if kind == "map":
        keys = draw(parts.keys)
        values = [draw(parts.child) for _ in keys]
        wire = b"%%%d\r\n" % len(keys)
        wire += b"".join(key[0] + item[0] for key, item in zip(keys, values, strict=True))
        return wire, {key[1]: item[1] for key, item in zip(keys, values, strict=True)}
    items = draw(parts.items)
    header = b"*%d\r\n" if kind == "array" else b"~%d\r\n"
    return _join(header % len(items), items), [value for _, value in items]


@st.composite
def _push(
    draw: st.DrawFn, depth: int, encoding: str | None, attributes: bool, max_size: int
) -> Pair:
    items = draw(_parts(3, depth, encoding, attributes, max_size).items.filter(bool))
    return _join(b">%d\r\n" % len(items), items), Push(value for _, value in items)


def _join(header: bytes, items: Sequence[Pair]) -> bytes:
    return header + b"".join(wire for wire, _ in items)


def resp_values(
    protocol: int = 3,
    *,
    max_depth: int = 3,
    allow_push: bool = True,
    allow_attributes: bool = True,
    encoding: str | None = None,
    max_size: int = 4,
) -> st.SearchStrategy[tuple[bytes, object]]:
    """``(wire_bytes, expected_reply)`` pairs: one complete reply of any type.

    ``protocol=2`` limits the types to RESP2's (simple string, error, integer, bulk string,
    null, array); 3 adds booleans, doubles (with ``inf``, ``-inf``, ``nan``), big numbers,
    verbatim strings, bulk errors, maps (with distinct hashable keys), sets, attributes (before
    any value but a push: the expected reply is the decorated value) and, at the top level only,
    pushes. ``max_depth`` bounds the nesting of aggregates (attributes included), ``max_size``
    their element counts. With ``encoding``, payloads are text in that encoding and expected
    strings are ``str``: parse with ``Parser(encoding=...)``.
    """
    if protocol not in (2, 3):
        raise ValueError("protocol must be 2 or 3")
    if max_depth < 0:
        raise ValueError("max_depth must be >= 0")
    attributes = allow_attributes and protocol == 3
    values = _values(protocol, max_depth, encoding, attributes, max_size)
    if protocol == 3 and allow_push and max_depth >= 1:
        return values | _push(max_depth, encoding, attributes, max_size)
    return values


def resp_streams(
    protocol: int = 3,
    *,
    min_size: int = 1,
    max_size: int = 6,
    max_depth: int = 3,
    allow_push: bool = True,
    allow_attributes: bool = True,
    encoding: str | None = None,
) -> st.SearchStrategy[tuple[bytes, list[object]]]:
    """``(wire_bytes, expected_replies)``: several `resp_values` back to back."""
    values = resp_values(
        protocol,
        max_depth=max_depth,
        allow_push=allow_push,
        allow_attributes=allow_attributes,
        encoding=encoding,
    )
    return st.lists(values, min_size=min_size, max_size=max_size).map(
        lambda pairs: (b"".join(wire for wire, _ in pairs), [value for _, value in pairs])
    )


def chunkings(data: bytes, *, max_chunks: int = 20) -> st.SearchStrategy[list[bytes]]:
    """Ways to split ``data`` into consecutive chunks (empty chunks included) that join back
    to ``data``: use with ``st.data()`` or ``flatmap``."""

    def split(cuts: list[int]) -> list[bytes]:
        points = [0, *sorted(cuts), len(data)]
        return [data[start:stop] for start, stop in itertools.pairwise(points)]

    return st.lists(st.integers(0, len(data)), max_size=max_chunks - 1).map(split)


# -- commands --------------------------------------------------------------------------------


def _arguments() -> st.SearchStrategy[CommandArg]:
    return st.one_of(
        st.binary(max_size=32),
        st.text(max_size=16),
        st.integers(),
        st.floats(allow_nan=False),
        st.binary(max_size=16).map(bytearray),
        st.binary(max_size=16).map(_view),
    )


def _view(raw: bytes) -> memoryview:
    return memoryview(raw)


def commands(*, max_args: int = 8) -> st.SearchStrategy[tuple[CommandArg, ...]]:
    """Argument tuples accepted by ``encode_command`` (its name first: any argument works)."""
    return st.lists(_arguments(), min_size=1, max_size=max_args).map(tuple)


def argument_bytes(arg: CommandArg) -> bytes:
    """The bytes ``encode_command`` sends for one argument (what the server receives)."""
    if isinstance(arg, bool):
        raise TypeError("booleans are not command arguments")
    if isinstance(arg, str):
        return arg.encode()
    if isinstance(arg, int):
        return b"%d" % arg
    if isinstance(arg, float):
        return repr(arg).encode()
    return bytes(arg)
