"""HyperLogLog commands: PFADD, PFCOUNT, PFMERGE."""

from __future__ import annotations

from ._core import EncodableT, KeyT, Request, command
from ._replies import ok, to_int

__all__ = ["LEFT_TO_EXECUTE", "HyperLogLogCommands"]

#: HyperLogLog commands of ``COMMAND DOCS`` without a method, and why.
LEFT_TO_EXECUTE: dict[str, str] = {
    "PFDEBUG": "internal debugging command (redis-py has no method for it)",
    "PFSELFTEST": "internal self-test of the server (redis-py has no method for it)",
}


def _pfadd(name: KeyT, *values: EncodableT) -> Request[int]:
    """PFADD: 1 if the estimate changed, else 0."""
    return ("PFADD", name, *values), to_int


def _pfcount(*sources: KeyT) -> Request[int]:
    """PFCOUNT: the estimated number of distinct elements (of the union, for several keys)."""
    return ("PFCOUNT", *sources), to_int


def _pfmerge(dest: KeyT, *sources: KeyT) -> Request[bool]:
    """PFMERGE `sources` into `dest`: True."""
    return ("PFMERGE", dest, *sources), ok


class HyperLogLogCommands:
    """HyperLogLog commands (`command` descriptors; see `anyredis_auth._commands._core`)."""

    pfadd = command(_pfadd)
    pfcount = command(_pfcount)
    pfmerge = command(_pfmerge)
