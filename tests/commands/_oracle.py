"""The differential harness of the typed commands: redis-py's asyncio client is the oracle.

A *corpus* is a list of `Call`s: a method name, its arguments, and how to compare its result.
The same corpus runs through redis-py (``protocol=2``, its classic shapes) on one fresh
database and through our connection on another; every result must be equal, type included
(``True`` is not ``1``, ``b"1"`` is not ``"1"``, a tuple is not a list). An error must be an
error in both, with the same code (``WRONGTYPE``, ``ERR``, ...).

Conventions for corpus authors:
- every key contains the hash tag ``{t}`` (``"{t}s"``), so the cluster run can send the whole
  corpus to one slot's owner;
- a call whose result is random or time-dependent says how to compare it (`Call.unordered`,
  `Call.approx`, `Call.shape`), or is marked `Call.single_server` when a cluster answers it
  differently (DBSIZE, INFO, ...), `Call.no_pipeline` when it cannot be pipelined (blocking
  commands, ``*scan_iter``).
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Any, Literal

from anyredis_auth import ResponseError

Compare = Literal["exact", "unordered", "approx", "shape", "ignore"]

#: The oracle's database and ours, on the same server (each flushed before a run).
ORACLE_DB = 14
OURS_DB = 15


@dataclass(frozen=True)
class Call:
    method: str
    args: tuple[Any, ...] = ()
    kwargs: dict[str, Any] = field(default_factory=dict)
    compare: Compare = "exact"
    pipeline: bool = True  # may run in a pipeline
    cluster: bool = True  # answered the same by a cluster (one slot's owner)
    iterate: bool = False  # an async iterator (``scan_iter``): collected into a list

    def unordered(self) -> Call:
        """Compare as multisets (a list whose order is the server's whim, at any depth 1)."""
        return replace(self, compare="unordered")

    def approx(self) -> Call:
        """Compare with floats within 1e-6 relative (geo distances, ...)."""
        return replace(self, compare="approx")

    def shape(self) -> Call:
        """Compare only the types, not the values (random members, times, ...)."""
        return replace(self, compare="shape")

    def ignore(self) -> Call:
        """Only run it (both must succeed, or both fail with the same code)."""
        return replace(self, compare="ignore")

    def no_pipeline(self) -> Call:
        return replace(self, pipeline=False)

    def single_server(self) -> Call:
        return replace(self, cluster=False)

    def iterator(self) -> Call:
        return replace(self, iterate=True, pipeline=False)

    def __str__(self) -> str:
        parts = [repr(arg) for arg in self.args] + [f"{k}={v!r}" for k, v in self.kwargs.items()]
        return f"{self.method}({', '.join(parts)})"


def call(method: str, *args: Any, **kwargs: Any) -> Call:
    """``call("set", "{t}k", "v", ex=10)`` is ``con.set("{t}k", "v", ex=10)``."""
    return Call(method, args, kwargs)


@dataclass(frozen=True)
class Outcome:
    """What one call gave: a value, or an error with its code."""

    value: Any = None
    error: str | None = None

    def __repr__(self) -> str:
        return f"error {self.error}" if self.error is not None else f"{self.value!r}"


def error_outcome(exc: BaseException) -> Outcome:
    """A server error by its code; an error raised before sending as ``client``."""
    message = str(exc)
    if isinstance(exc, ResponseError):
        return Outcome(error=exc.code)
    try:
        import redis.exceptions as redis_errors
    except ImportError:  # pragma: no cover - redis-py is a test dependency
        redis_errors = None  # type: ignore[assignment]
    if (
        redis_errors is not None
        and isinstance(exc, redis_errors.ResponseError)
        and not isinstance(exc, redis_errors.DataError)
    ):
        # redis-py strips a known code (ERR, NOSCRIPT, ...) from the message and keeps it apart
        code = getattr(exc, "status_code", None)
        return Outcome(error=code or message.split(" ", 1)[0])
    return Outcome(error="client")


async def run_calls(target: Any, corpus: Sequence[Call]) -> list[Outcome]:
    """Each call on `target` (a redis-py client or our connection), in order."""
    outcomes: list[Outcome] = []
    for one in corpus:
        try:
            method = getattr(target, one.method)
            if one.iterate:
                value: Any = [item async for item in method(*one.args, **one.kwargs)]
            else:
                value = await method(*one.args, **one.kwargs)
            outcomes.append(Outcome(value))
        except Exception as exc:
            outcomes.append(error_outcome(exc))
    return outcomes


async def run_pipelined(connection: Any, corpus: Sequence[Call]) -> list[Outcome | None]:
    """The pipeline-able calls queued on one pipeline (None where a call was not queued)."""
    pipe = connection.pipeline()
    queued: list[int] = []
    outcomes: list[Outcome | None] = [None] * len(corpus)
    for index, one in enumerate(corpus):
        if not one.pipeline:
            continue
        try:
            getattr(pipe, one.method)(*one.args, **one.kwargs)
        except Exception as exc:
            outcomes[index] = error_outcome(exc)
            continue
        queued.append(index)
    results = await pipe.execute(raise_on_error=False)
    for index, result in zip(queued, results, strict=True):
        outcomes[index] = (
            error_outcome(result) if isinstance(result, Exception) else Outcome(result)
        )
    return outcomes


def oracle_outcomes(url: str, corpus: Sequence[Call], decode: bool) -> list[Outcome]:
    """redis-py's asyncio client (protocol 2) on a flushed `ORACLE_DB`, on an asyncio loop of
    its own (called from synchronous code: a fixture, or a synchronous test)."""
    import redis.asyncio

    async def run() -> list[Outcome]:
        client = redis.asyncio.Redis.from_url(
            url, db=ORACLE_DB, protocol=2, decode_responses=decode
        )
        try:
            await client.flushdb()
            return await run_calls(client, corpus)
        finally:
            await client.flushdb()
            await client.aclose()

    return asyncio.run(run())


def differences(
    corpus: Sequence[Call], expected: Sequence[Outcome], got: Sequence[Outcome | None]
) -> list[str]:
    """A line for each call whose outcome differs (calls that did not run are skipped)."""
    lines = []
    for index, (one, want, have) in enumerate(zip(corpus, expected, got, strict=True)):
        if have is None:
            continue
        if not _same_outcome(one.compare, want, have):
            lines.append(f"#{index} {one}: redis-py {want!r}, ours {have!r}")
    return lines


def _same_outcome(compare: Compare, want: Outcome, have: Outcome) -> bool:
    if want.error is not None or have.error is not None:
        return want.error == have.error
    if compare == "ignore":
        return True
    if compare == "shape":
        return same_shape(want.value, have.value)
    if compare == "unordered":
        return same(_sorted(want.value), _sorted(have.value), approx=False)
    return same(want.value, have.value, approx=compare == "approx")


def same(a: Any, b: Any, *, approx: bool = False) -> bool:
    """Equal values of equal types, all the way down (bool is not int, tuple is not list)."""
    if type(a) is not type(b):
        return False
    if isinstance(a, float):
        if approx:
            return math.isclose(a, b, rel_tol=1e-6, abs_tol=1e-9)
        return a == b or (math.isnan(a) and math.isnan(b))
    if isinstance(a, list | tuple):
        pairs = zip(a, b, strict=True)
        return len(a) == len(b) and all(same(x, y, approx=approx) for x, y in pairs)
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(same(a[k], b[k], approx=approx) for k in a)
    if isinstance(a, set | frozenset):
        return a == b and {type(x) for x in a} == {type(x) for x in b}
    return bool(a == b)


def same_shape(a: Any, b: Any) -> bool:
    """The same types all the way down (lengths of lists may differ only if both are empty)."""
    if type(a) is not type(b):
        return False
    if isinstance(a, list | tuple):
        return len(a) == len(b) and all(same_shape(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, dict):
        return all(same_shape(x, y) for x, y in zip(a.values(), b.values(), strict=False))
    return True


def _sorted(value: Any) -> Any:
    if isinstance(value, list):
        return sorted(value, key=repr)
    return value
