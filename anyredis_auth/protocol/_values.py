"""The two value types of the codec that are not plain Python values: `NEED_DATA` and `Push`."""

from __future__ import annotations

from typing import Final

__all__ = ["NEED_DATA", "NeedData", "Push"]


class NeedData:
    """The type of `NEED_DATA`: "no complete reply is buffered yet; feed more bytes".

    There is exactly one instance. Compare with ``is``: every reply value, including ``False``
    (RESP3 ``#f``), ``None`` and empty containers, is distinct from it.
    """

    __slots__ = ()
    _instance: NeedData | None = None

    def __new__(cls) -> NeedData:
        instance = cls._instance
        if instance is None:
            instance = cls._instance = super().__new__(cls)
        return instance

    def __repr__(self) -> str:
        return "NEED_DATA"

    def __reduce__(self) -> str:
        # Pickles (and copies) as a reference to the module-level singleton.
        return "NEED_DATA"


NEED_DATA: Final = NeedData()
"""Returned by ``Parser.next_reply()`` when the bytes fed so far hold no complete reply."""


class Push(list[object]):
    """A RESP3 push message (``>``): out-of-band data such as Pub/Sub messages or client-side
    caching invalidations, as opposed to the reply to a command.

    It is a ``list`` of the message's elements (usually the kind first, e.g. ``b"message"``), so
    it compares equal to a list with the same elements; check ``type(reply) is Push`` (or
    ``isinstance``) to route it.
    """

    __slots__ = ()

    def __repr__(self) -> str:
        return f"Push({list.__repr__(self)})"
