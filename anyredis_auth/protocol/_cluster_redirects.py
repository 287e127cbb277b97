"""Cluster redirections and retryable states, read from error replies: pure values.

``MOVED <slot> <host>:<port>``: the slot lives elsewhere for good (update the map, retry there).
``ASK <slot> <host>:<port>``: this one command goes to the target, after ``ASKING``.
``TRYAGAIN``: a multi-key command met a slot being migrated; retry after a pause.
``CLUSTERDOWN``: the cluster cannot serve (no quorum, uncovered slot); retry after a pause.

The host may be empty (``MOVED 3999 :6380``: the same host as the node that replied, which the
server says when it does not know its own address) and may be an IPv6 address
(``MOVED 3999 2001:db8::1:6380``: the port follows the last colon).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from .._errors import ResponseError

__all__ = ["ASK", "CLUSTERDOWN", "MOVED", "TRYAGAIN", "Redirect", "parse_redirect"]

MOVED: Final = "MOVED"
ASK: Final = "ASK"
TRYAGAIN: Final = "TRYAGAIN"
CLUSTERDOWN: Final = "CLUSTERDOWN"


@dataclass(frozen=True)
class Redirect:
    """What an error reply asks of a cluster client.

    ``kind`` is `MOVED`, `ASK`, `TRYAGAIN` or `CLUSTERDOWN`; ``slot``, ``host`` and ``port`` are
    set for `MOVED` and `ASK` (``host`` is None when the server left it empty: use `target`).
    """

    kind: str
    slot: int | None = None
    host: str | None = None
    port: int | None = None

    @property
    def is_redirect(self) -> bool:
        """`MOVED` or `ASK`: the command goes to another node."""
        return self.kind in (MOVED, ASK)

    def target(self, current_host: str) -> tuple[str, int]:
        """``(host, port)`` to go to; an empty host means `current_host` (the replying node's)."""
        if self.port is None:
            raise ValueError(f"{self.kind} names no node")
        return (self.host or current_host, self.port)


def parse_redirect(error: object) -> Redirect | None:
    """The `Redirect` an error reply asks for, or None for any other reply or error.

    Accepts a `ResponseError` (as the parser returns it) or its message as ``str`` / ``bytes``.
    """
    if isinstance(error, ResponseError):
        message = error.message
    elif isinstance(error, str):
        message = error
    elif isinstance(error, (bytes, bytearray)):
        message = bytes(error).decode("utf-8", "replace")
    else:
        return None
    code, _, rest = message.partition(" ")
    if code == TRYAGAIN:
        return Redirect(TRYAGAIN)
    if code == CLUSTERDOWN:
        return Redirect(CLUSTERDOWN)
    if code not in (MOVED, ASK):
        return None
    parts = rest.split()
    if len(parts) < 2:
        return None
    slot_text, address = parts[0], parts[1]
    host, sep, port_text = address.rpartition(":")
    if not sep or not slot_text.isdigit() or not port_text.isdigit():
        return None
    slot, port = int(slot_text), int(port_text)
    if not 0 <= slot < 16384 or not 0 < port < 65536:
        return None
    if host.startswith("[") and host.endswith("]"):  # a bracketed IPv6 address
        host = host[1:-1]
    return Redirect(code, slot, host or None, port)
