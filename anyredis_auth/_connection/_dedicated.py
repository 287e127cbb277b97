"""`DedicatedPool`: connections of their own for blocking commands and transactions.

A blocking command (BLPOP, XREAD BLOCK, WAIT...) would stall every sharer of a multiplexed
connection, and a transaction must know that ``MULTI`` was accepted before its commands are
sent. Both run on a dedicated connection taken from this pool and given back when they end well
(a cancelled or failed one is closed: the server may still be blocked on it).

Blocking waits that outlive a token. Azure closes a connection whose token expired, and a
connection blocked in BLPOP cannot send AUTH until the command returns. So, with a credentials
provider, a blocking command whose timeout is 0 (for ever) or longer than one segment runs as a
series of the same command with a shorter timeout (see `anyredis_auth.protocol._blocking`).
Each segment ends before the expiry of the token the connection is logged in with (and after at
most ``Client(blocking_segment=...)``). Before each segment the connection is re-authenticated
through its `Session` when the provider has newer credentials: the AUTH is written together with
the command, in one write. A segment that times out consumed nothing (the server pops, moves or
reads only when it returns an element), so re-issuing it with the remaining time gives the same
result as one long block. ``XREAD ... $`` is resolved first to the stream's current last ID, so
entries added between two segments are not skipped.

Transactions: ``MULTI`` is written (with an AUTH in front when the credentials rotated) and its
reply awaited; only when the server accepted it are the queued commands and ``EXEC`` written, in
one write. A refused ``MULTI`` (an ACL without it, say) raises that error and nothing ran.
"""

from __future__ import annotations

import logging
import time

import anyio
import anyio.abc

from .._credentials import Credentials
from .._errors import ResponseError, TokenRefreshError
from ..protocol import CommandArg, encode_command
from ..protocol._blocking import (
    MAX_SEGMENT,
    MIN_WAIT,
    BlockingPlan,
    dollar_queries,
    plan_blocking,
    resolve_dollars,
    segment_command,
)
from ..protocol._encoder import Pieces, concat
from ..protocol._handshake import auth_command
from ._connector import Connector
from ._link import Link
from ._session import CredentialsSource, Session

__all__ = ["DedicatedPool"]

logger = logging.getLogger("anyredis_auth.connection")

_MULTI = encode_command("MULTI")
_EXEC = encode_command("EXEC")


class DedicatedPool:
    """Dedicated sessions for blocking commands and transactions, kept idle for reuse."""

    def __init__(
        self,
        connector: Connector,
        group: anyio.abc.TaskGroup,
        source: CredentialsSource,
        *,
        segment: float | None,
        refresh_before_expiry: float | None = None,
    ) -> None:
        self._connector = connector
        self._group = group
        self._source = source
        self._segment = segment
        self._refresh_before_expiry = refresh_before_expiry
        self._idle: list[Session] = []
        self._busy: set[Session] = set()
        self._closed = False

    # -- the pool ------------------------------------------------------------------------------

    @property
    def idle_count(self) -> int:
        """Dedicated connections waiting for reuse."""
        return len(self._idle)

    @property
    def open_count(self) -> int:
        """Dedicated connections open now (idle or running a command)."""
        return len(self._idle) + len(self._busy)

    def segment_length(self) -> float | None:
        """The longest segment of a blocking wait (None: no segmenting, no provider)."""
        if not self._source.following:
            return None
        if self._segment is not None:
            return self._segment
        before = self._refresh_before_expiry
        if before is not None and before > 0:
            return min(before / 2.0, MAX_SEGMENT)
        return MAX_SEGMENT

    def close(self) -> None:
        self._closed = True
        for session in [*self._idle, *self._busy]:
            session.close()
        self._idle.clear()
        self._busy.clear()

    async def _acquire(self) -> Session:
        while self._idle:
            session = self._idle.pop()
            if session.link is not None and not session.link.closed:
                self._busy.add(session)
                return session
            session.close()
        session = Session(self._connector, self._group, self._source)
        self._busy.add(session)
        try:
            await session.connect()
        except BaseException:
            self._busy.discard(session)
            session.close()
            raise
        return session

    def _release(self, session: Session, reusable: bool) -> None:
        self._busy.discard(session)
        limit = self._connector.options.max_idle_blocking_connections
        if reusable and not self._closed and len(self._idle) < limit:
            self._idle.append(session)
        else:
            session.close()

    async def _fresh_credentials(self, link: Link) -> Credentials | None:
        """The provider's credentials when they differ from the link's (None: up to date)."""
        if not self._source.following:
            return None
        try:
            credentials = await self._source.current()
        except TokenRefreshError:  # no valid token now: the server decides about the current one
            return None
        return None if credentials == link.credentials else credentials

    async def _submit_logged_in(
        self, session: Session, link: Link, command: bytes | Pieces
    ) -> object:
        """Write `command`, with an AUTH in front when the credentials rotated; its reply.

        A refused AUTH asks for a fresh token and raises nothing here: the command ran as the
        previous identity (still valid for a while); the session is not reused.
        """
        credentials = await self._fresh_credentials(link)
        if credentials is None:
            return await link.submit(command).wait()
        blob = concat(encode_command(*auth_command(credentials)), command)
        replies = await link.submit_batch(blob, 2).wait()
        assert isinstance(replies, list)
        auth_reply, reply = replies
        problem = session.record_auth(link, credentials, auth_reply)
        if problem is not None:
            logger.warning(
                "re-authentication of a dedicated connection to %s failed (%s)",
                link.address,
                problem,
            )
            link.retire()  # never reused: the next command opens a fresh session
        return reply

    # -- blocking commands ---------------------------------------------------------------------

    async def run_blocking(self, data: bytes | Pieces, args: tuple[CommandArg, ...]) -> object:
        """Run one blocking command on a dedicated connection; its reply."""
        segment = self.segment_length()
        plan = plan_blocking(args) if segment is not None and args else None
        session = await self._acquire()
        reusable = False
        try:
            link = await session.connect()
            if plan is None or segment is None:
                reply = await self._submit_logged_in(session, link, data)
            else:
                reply = await self._segmented(session, plan, segment)
            reusable = True
            return reply
        finally:
            # Cancelled or failed mid-block: the server may still be blocked on it. Never reuse.
            self._release(session, reusable)

    def _wait_for(self, credentials: Credentials | None, segment: float) -> float:
        """How long the next segment may block: before the token it runs with expires."""
        expires_on = getattr(credentials, "expires_on", None)
        if not isinstance(expires_on, (int, float)):
            return segment
        remaining = expires_on - time.time()
        margin = min(1.0, max(remaining, 0.0) / 4)
        return max(min(segment, remaining - margin), 0.05)

    async def _segmented(self, session: Session, plan: BlockingPlan, segment: float) -> object:
        if plan.dollars:
            link = await session.connect()
            replies = await link.request_many(dollar_queries(plan))
            for reply in replies:
                if isinstance(reply, ResponseError):
                    raise reply
            resolve_dollars(plan, replies)
        link = await session.connect()
        if 0 < plan.timeout <= self._wait_for(link.credentials, segment):
            # Ends before the token does anyway: one plain command.
            return await self._submit_logged_in(session, link, encode_command(*plan.args))
        deadline = None if plan.timeout == 0 else anyio.current_time() + plan.timeout
        while True:
            link = await session.connect()
            credentials = await self._fresh_credentials(link) or link.credentials
            wait = self._wait_for(credentials, segment)
            if deadline is not None:
                wait = min(wait, deadline - anyio.current_time())
                if wait < MIN_WAIT:
                    return None  # what the server answers when a block times out
            reply = await self._submit_logged_in(session, link, segment_command(plan, wait))
            if reply is not None:
                return reply

    # -- transactions --------------------------------------------------------------------------

    async def run_transaction(self, body: bytes | Pieces, count: int) -> list[object]:
        """MULTI, then (once accepted) `count` encoded commands and EXEC in one write.

        Returns the replies of MULTI, of each queued command and of EXEC. Raises the error
        reply of a refused MULTI: then nothing else was sent.
        """
        session = await self._acquire()
        reusable = False
        try:
            link = await session.connect()
            reply = await self._submit_logged_in(session, link, _MULTI)
            if isinstance(reply, ResponseError):
                reusable = not link.closed
                raise type(reply)(f"MULTI was refused, nothing ran: {reply.message}")
            replies = await link.submit_batch(concat(body, _EXEC), count + 1).wait()
            assert isinstance(replies, list)
            reusable = True
            return [reply, *replies]
        finally:
            self._release(session, reusable)
