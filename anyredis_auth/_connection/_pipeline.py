"""Pipelines: commands queued locally, written in one go, replies returned in order."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .._commands import Commands, Queue
from .._errors import ExecAbortError, ResponseError
from ..protocol._encoder import Pieces, concat, encode_pieces
from ..protocol._routing import BLOCKING, classify, command_name

if TYPE_CHECKING:
    from collections.abc import Callable
    from types import TracebackType

    from ..protocol import CommandArg

    Parser = Callable[[Any], Any]

    from ._multiplexed import MultiplexedConnection

__all__ = ["Pipeline", "parse_results"]


class Pipeline(Queue, Commands):
    """Commands queued with `execute_command` and sent by `await pipe.execute()` in one write.

    With ``transaction=True`` they are wrapped in MULTI/EXEC and run atomically. The replies come
    back in order; error replies are raised (the first one) unless ``raise_on_error=False``, in
    which case they are returned in place as `ResponseError` values.
    """

    def __init__(self, connection: MultiplexedConnection, transaction: bool = False) -> None:
        self._connection = connection
        self.transaction = transaction
        self._encoded: list[bytes | Pieces] = []
        self._names: list[str] = []
        self._parsers: list[Parser | None] = []  # typed commands turn their replies into values

    def execute_command(self, *args: CommandArg) -> Pipeline:
        """Queue one command (checked and encoded now); returns the pipeline for chaining."""
        check_pipelined(args)
        self._encoded.append(encode_pieces(*args))
        self._names.append(command_name(args[0]))
        self._parsers.append(None)
        return self

    command = execute_command

    def _queue(self, args: tuple[CommandArg, ...], parse: Parser | None) -> Pipeline:
        self.execute_command(*args)
        self._parsers[-1] = parse
        return self

    def __len__(self) -> int:
        return len(self._encoded)

    def reset(self) -> None:
        """Drop the queued commands without sending them."""
        self._encoded.clear()
        self._names.clear()
        self._parsers.clear()

    async def __aenter__(self) -> Pipeline:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.reset()

    async def execute(self, *, raise_on_error: bool = True) -> list[object]:
        """Send the queued commands at once and return their replies in order."""
        encoded, names, parsers = self._encoded, self._names, self._parsers
        self._encoded, self._names, self._parsers = [], [], []
        if not encoded:
            return []
        if not self.transaction:
            replies = await self._connection._execute_batch(concat(*encoded), len(encoded))
            results = replies
        else:
            # On a dedicated connection: MULTI must be accepted before the commands are sent
            # (a refused MULTI raises here and nothing ran).
            replies = await self._connection._execute_transaction(concat(*encoded), len(encoded))
            results = _exec_results(replies, names)
        if raise_on_error:
            raise_first_error(results, names)
        return parse_results(results, parsers)


def parse_results(results: list[object], parsers: list[Parser | None]) -> list[object]:
    """Each reply through its typed command's parser (error replies stay as they are)."""
    for index, parse in enumerate(parsers):
        if parse is not None and not isinstance(results[index], ResponseError):
            results[index] = parse(results[index])
    return results


def check_pipelined(args: tuple[object, ...]) -> None:
    """Refuse a command a pipeline on a shared connection cannot carry (any pipeline's check)."""
    if not args:
        raise TypeError("a command needs at least its name")
    reason = classify(args)
    if reason == BLOCKING:
        reason = "blocking commands cannot run in a pipeline on a shared connection"
    if reason is not None:
        raise ValueError(f"{command_name(args[0])} is not allowed here: {reason}")


def raise_first_error(results: list[object], names: list[str]) -> None:
    """Raise the first error reply of a pipeline's `results`, naming its command."""
    for index, reply in enumerate(results):
        if isinstance(reply, ResponseError):
            raise type(reply)(
                f"command #{index} ({names[index]}) of the pipeline failed: {reply.message}"
            )


def _exec_results(replies: list[object], names: list[str]) -> list[object]:
    """The EXEC reply as a list, or the reason the transaction did not run."""
    exec_reply = replies[-1]
    if isinstance(exec_reply, list):
        return exec_reply
    if isinstance(exec_reply, ResponseError):
        for index, queued in enumerate(replies[1:-1]):
            if isinstance(queued, ResponseError):
                raise ExecAbortError(
                    f"transaction aborted: command #{index} ({names[index]}) was refused: "
                    f"{queued.message}"
                )
        raise ExecAbortError(f"transaction aborted: {exec_reply.message}")
    raise ExecAbortError("transaction aborted: EXEC returned no results")
