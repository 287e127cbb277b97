"""Blocking commands that outlive a token: the wait is cut into segments, re-authenticated between.

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

import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING

import anyio

from .._credentials import Credentials
from .._errors import ResponseError, TokenRefreshError
from ..protocol import CommandArg, encode_command
from ..protocol._routing import command_name
from ._connector import auth_command, safe_server_message

if TYPE_CHECKING:
    from .._client import Client
    from ._link import Link

__all__ = ["BlockingPlan", "SegmentedBlocking", "plan_blocking"]

logger = logging.getLogger("anyredis_auth.connection")

#: The longest segment whatever the provider says (its tokens may live for hours).
MAX_SEGMENT = 30.0
#: Below this a segment is not worth sending (and Redis reads a 0 ms timeout as "for ever").
_MIN_WAIT = 0.002

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


class SegmentedBlocking:
    """Runs one planned blocking command on `link` (replaced when a re-auth is refused)."""

    def __init__(self, client: Client, link: Link, plan: BlockingPlan, segment: float) -> None:
        self._client = client
        self.link = link
        self._plan = plan
        self._segment = segment
        #: Segments sent (for tests and curiosity).
        self.segments = 0

    async def run(self) -> object:
        plan = self._plan
        if plan.dollars:
            await self._resolve_dollars()
        deadline = None if plan.timeout == 0 else anyio.current_time() + plan.timeout
        while True:
            wait = self._segment
            if deadline is not None:
                wait = min(wait, deadline - anyio.current_time())
                if wait < _MIN_WAIT:
                    return None  # what the server answers when a block times out
            reply = await self._segment_once(wait)
            if reply is not None:
                return reply

    async def _resolve_dollars(self) -> None:
        plan = self._plan
        for key, id_index in plan.dollars:
            reply = await self.link.submit(
                encode_command("XREVRANGE", plan.args[key], "+", "-", "COUNT", 1)
            ).wait()
            if isinstance(reply, ResponseError):
                raise reply
            last = "0-0"
            if reply:
                assert isinstance(reply, list)
                entry = reply[0]
                last = entry[0] if isinstance(entry, (list, tuple)) else next(iter(entry))
            plan.args[id_index] = last

    async def _segment_once(self, wait: float) -> object:
        plan = self._plan
        args = list(plan.args)
        args[plan.index] = max(1, int(wait * 1000)) if plan.millis else f"{wait:.3f}"
        command = encode_command(*args)
        self.segments += 1
        try:
            credentials: Credentials | None = await self._client._current_credentials()
        except TokenRefreshError:
            credentials = self.link.credentials  # nothing newer: the server decides
        link = self.link
        if credentials is None or credentials == link.credentials:
            return await link.submit(command).wait()
        blob = encode_command(*auth_command(credentials)) + command
        replies = await link.submit_batch(blob, 2).wait()
        assert isinstance(replies, list)
        auth_reply, reply = replies
        if not isinstance(auth_reply, ResponseError):
            link.credentials = credentials
            return reply
        logger.warning(
            "re-authentication of a blocking connection to %s as %r failed (%s); replacing it",
            link.address,
            credentials.username or "default",
            safe_server_message(auth_reply),
        )
        if reply is None:  # nothing was consumed: go on on a fresh session
            self.link = await self._client._open_link(self._client.options, credentials)
            link.close()
        else:
            link.close()  # the reply is the result; never reuse the session
        return reply
