"""Blocking plans (sans-IO): where a blocking command's timeout is, and how to cut it in segments.

Azure closes a connection whose token expired, and a connection blocked in BLPOP cannot send AUTH
until the command returns. So, with a credentials provider, a blocking command whose timeout is 0
(for ever) or longer than one segment runs as a series of the same command with a shorter
timeout, each ending before the current token's refresh deadline. Before each segment the
dedicated connection is re-authenticated when the provider has newer credentials: the AUTH is
written together with the command, in one write. A segment that times out consumed nothing (the
server pops, moves or reads only when it returns an element), so re-issuing it with the remaining
time gives the same result as one long block. ``XREAD ... $`` is resolved first to the stream's
current last ID, so entries added between two segments are not skipped.
"""

from __future__ import annotations

from dataclasses import dataclass

from ._encoder import CommandArg, encode_command
from ._routing import command_name

__all__ = [
    "MAX_SEGMENT",
    "MIN_WAIT",
    "BlockingPlan",
    "dollar_queries",
    "plan_blocking",
    "resolve_dollars",
    "segment_command",
]

#: The longest segment whatever the provider says (its tokens may live for hours).
MAX_SEGMENT = 30.0
#: Below this a segment is not worth sending (and Redis reads a 0 ms timeout as "for ever").
MIN_WAIT = 0.002

_TIMEOUT_LAST = frozenset({"BLPOP", "BRPOP", "BLMOVE", "BRPOPLPUSH", "BZPOPMIN", "BZPOPMAX"})
_TIMEOUT_SECOND = frozenset({"BLMPOP", "BZMPOP"})


@dataclass
class BlockingPlan:
    """Where a blocking command's timeout is, in which unit, and the ``$`` IDs to resolve."""

    args: list[CommandArg]
    index: int
    millis: bool
    #: The user's timeout in seconds; 0 means "for ever".
    timeout: float
    #: (key index, id index) of each ``XREAD ... $``.
    dollars: list[tuple[int, int]]


def _number(value: object) -> float | None:
    try:
        if isinstance(value, (bytes, bytearray, memoryview)):
            return float(bytes(value))
        if isinstance(value, (str, int, float)) and not isinstance(value, bool):
            return float(value)
    except ValueError:
        pass
    return None


def plan_blocking(args: tuple[CommandArg, ...]) -> BlockingPlan | None:
    """The plan for a segmentable blocking command, None for others (WAIT, bad syntax, ...)."""
    name = command_name(args[0])
    dollars: list[tuple[int, int]] = []
    millis = False
    if name in _TIMEOUT_LAST and len(args) >= 3:
        index = len(args) - 1
    elif name in _TIMEOUT_SECOND and len(args) >= 3:
        index = 1
    elif name in ("XREAD", "XREADGROUP"):
        millis = True
        found = _parse_stream_read(args, name == "XREAD")
        if found is None:
            return None
        index, dollars = found
    else:
        return None
    timeout = _number(args[index])
    if timeout is None or timeout < 0:
        return None  # the server gives the error
    if millis:
        timeout /= 1000.0
    return BlockingPlan(list(args), index, millis, timeout, dollars)


def _parse_stream_read(
    args: tuple[CommandArg, ...], resolve_dollar: bool
) -> tuple[int, list[tuple[int, int]]] | None:
    block: int | None = None
    position = 1
    count = len(args)
    while position < count:
        word = command_name(args[position])
        if word == "STREAMS":
            rest = count - position - 1
            if rest == 0 or rest % 2 or block is None:
                return None
            half = rest // 2
            dollars = [
                (key, key + half)
                for key in range(position + 1, position + 1 + half)
                if resolve_dollar and command_name(args[key + half]) == "$"
            ]
            return block, dollars
        if word == "GROUP":
            position += 3
        elif word in ("COUNT", "BLOCK"):
            if word == "BLOCK":
                block = position + 1
            position += 2
        elif word == "NOACK":
            position += 1
        else:
            return None
    return None


def segment_command(plan: BlockingPlan, wait: float) -> bytes:
    """The planned command, encoded with a timeout of `wait` seconds (at least 1 ms)."""
    args = list(plan.args)
    millis = max(1, int(wait * 1000))  # 0 would mean "for ever" to the server
    args[plan.index] = millis if plan.millis else f"{millis / 1000:.3f}"
    return encode_command(*args)


def dollar_queries(plan: BlockingPlan) -> list[list[CommandArg]]:
    """The commands that read each ``$`` stream's last ID (``XREVRANGE key + - COUNT 1``)."""
    return [["XREVRANGE", plan.args[key], "+", "-", "COUNT", 1] for key, _ in plan.dollars]


def resolve_dollars(plan: BlockingPlan, replies: list[object]) -> None:
    """Put each stream's last ID (from `dollar_queries` replies) in place of its ``$``."""
    for (_, id_index), reply in zip(plan.dollars, replies, strict=True):
        last: CommandArg = "0-0"
        if isinstance(reply, list) and reply:
            entry = reply[0]
            last = entry[0] if isinstance(entry, (list, tuple)) else next(iter(entry))
        elif isinstance(reply, dict) and reply:
            last = next(iter(reply))
        plan.args[id_index] = last
