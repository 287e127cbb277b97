"""Sorted-set commands: the ZRANGE family, the *STORE commands, ZRANDMEMBER, ZMSCORE, ...

Scores come back as floats, whatever the protocol: RESP2 sends them as text, RESP3 as doubles.
Where redis-py (protocol 2) hands the *text* of a score on (ZDIFF and ZRANDMEMBER with scores,
ZMPOP) or passes it to a ``score_cast_func``, a RESP3 double is written back as the text Redis
7.0 sends on RESP2 (``%.17g``), as bytes or str like the members beside it.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any, Literal, TypeVar, overload

from ..protocol import CommandArg
from ._core import EncodableT, KeysT, KeyT, Request, command, overloaded
from ._replies import key_list, to_float_or_none, to_int

__all__ = ["LEFT_TO_EXECUTE", "SortedSetCommands", "build_zscan"]

#: Sorted-set commands of ``COMMAND DOCS`` without a method: none.
LEFT_TO_EXECUTE: dict[str, str] = {}

#: A score bound: a number, or text such as ``"(1"``, ``"-inf"``, ``"+inf"``.
ZScoreBoundT = float | str | bytes
#: What turns a score into the value returned (``float`` by default, as in redis-py).
ScoreCastT = Callable[[Any], Any]
#: A blocking command's timeout in seconds (0: wait forever).
TimeoutT = int | float

S = TypeVar("S")

_AGGREGATES = frozenset({"SUM", "MIN", "MAX", "COUNT"})


# -- score helpers -----------------------------------------------------------------------------


def _score_text(score: Any, like: Any) -> Any:
    """A RESP3 double as RESP2's text of it (``%.17g``), bytes or str like `like`; text as is."""
    if isinstance(score, float):
        text = format(score, ".17g")
        return text if isinstance(like, str) else text.encode()
    return score


def _caster(cast: ScoreCastT) -> ScoreCastT:
    """`cast`, retried on the score as a float where it cannot take the text (``int`` of
    ``b"1.5"`` or ``b"1e+20"``), as redis-py does."""
    if cast is float:
        return float

    def safe(score: Any) -> Any:
        try:
            return cast(score)
        except (ValueError, TypeError):
            return cast(float(score))

    return safe


def _float_pairs(reply: Any) -> Any:
    """``(member, score)`` tuples from RESP2's flat ``[m, s, ...]`` or RESP3's ``[[m, s], ...]``
    (ZPOPMIN without a count sends a flat pair on RESP3 too)."""
    if not reply:
        return reply
    if isinstance(reply[0], list):
        return [(member, float(score)) for member, score in reply]
    it = iter(reply)
    return list(zip(it, map(float, it), strict=False))


def _cast_pairs(cast: ScoreCastT) -> Callable[[Any], Any]:
    """The parser of ``(member, score)`` tuples with a ``score_cast_func`` of the caller's."""
    if cast is float:
        return _float_pairs
    safe = _caster(cast)

    def parse(reply: Any) -> Any:
        if not reply:
            return reply
        if isinstance(reply[0], list):
            return [(member, safe(_score_text(score, member))) for member, score in reply]
        pairs = zip(reply[::2], reply[1::2], strict=True)
        return [(member, safe(_score_text(score, member))) for member, score in pairs]

    return parse


def _flat_scores(reply: Any) -> Any:
    """RESP2's flat ``[member, score_text, ...]`` (redis-py leaves ZDIFF and ZRANDMEMBER
    WITHSCORES as sent): RESP3's pairs are flattened, their doubles written as text."""
    if not reply or not isinstance(reply[0], list):
        return reply
    flat: list[Any] = []
    for member, score in reply:
        flat += (member, _score_text(score, member))
    return flat


def _zadd_count(reply: Any) -> int | None:
    return None if reply is None else int(reply)


def _parse_zmscore(reply: Any) -> list[float | None]:
    return [None if score is None else float(score) for score in reply]


def _bzpop(reply: Any) -> tuple[Any, Any, float] | None:
    if not reply:
        return None
    return reply[0], reply[1], float(reply[2])


def _parse_zmpop(reply: Any) -> list[Any] | None:
    """``[key, [[member, score_text], ...]]``, as redis-py leaves the RESP2 reply."""
    if reply is None:
        return None
    key, popped = reply
    return [key, [[member, _score_text(score, member)] for member, score in popped]]


def _zscan_parser(cast: ScoreCastT) -> Callable[[Any], tuple[int, list[tuple[Any, Any]]]]:
    pairs = _cast_pairs(cast)

    def parse(reply: Any) -> tuple[int, list[tuple[Any, Any]]]:
        cursor, found = reply
        return int(cursor), pairs(found) or []

    return parse


_zscan_floats = _zscan_parser(float)


# -- argument helpers --------------------------------------------------------------------------


def _both_or_neither(first: object, second: object, names: str) -> None:
    if (first is None) is not (second is None):
        raise ValueError(f"{names} must both be specified")


def _aggregate_args(
    args: list[Any],
    keys: Sequence[KeyT] | Mapping[Any, float],
    aggregate: str | None,
) -> None:
    """``numkeys key ... [WEIGHTS w ...] [AGGREGATE a]`` appended to `args`."""
    if isinstance(keys, Mapping):
        args.append(len(keys))
        args += keys.keys()
        args.append("WEIGHTS")
        args += keys.values()
    else:
        names = key_list(keys)
        args.append(len(names))
        args += names
    if aggregate:
        if aggregate.upper() not in _AGGREGATES:
            raise ValueError("aggregate can be sum, min, max or count")
        args += ("AGGREGATE", aggregate)


def _pop_side(min: bool | None, max: bool | None) -> str:
    if bool(min) is bool(max):
        raise ValueError("either min or max, but not both, must be set")
    return "MIN" if min else "MAX"


# -- builders ----------------------------------------------------------------------------------


def _zadd(
    name: KeyT,
    mapping: Mapping[Any, EncodableT],
    nx: bool = False,
    xx: bool = False,
    ch: bool = False,
    incr: bool = False,
    gt: bool = False,
    lt: bool = False,
) -> Request[Any]:
    """ZADD: members added (changed with `ch`); with `incr` the new score, None if refused."""
    if not mapping:
        raise ValueError("ZADD requires at least one element/score pair")
    if nx and xx:
        raise ValueError("ZADD allows either 'nx' or 'xx', not both")
    if gt and lt:
        raise ValueError("ZADD allows either 'gt' or 'lt', not both")
    if nx and (gt or lt):
        raise ValueError("ZADD allows only one of 'nx', 'gt' or 'lt'")
    if incr and len(mapping) != 1:
        raise ValueError("ZADD option 'incr' only works with a single element/score pair")
    args: list[Any] = ["ZADD", name]
    if nx:
        args.append("NX")
    if xx:
        args.append("XX")
    if ch:
        args.append("CH")
    if incr:
        args.append("INCR")
    if gt:
        args.append("GT")
    if lt:
        args.append("LT")
    for member, score in mapping.items():
        args += (score, member)
    return tuple(args), to_float_or_none if incr else _zadd_count


class _ZaddShape:
    @overload
    def __call__(
        self,
        name: KeyT,
        mapping: Mapping[Any, EncodableT],
        nx: bool = ...,
        xx: bool = ...,
        ch: bool = ...,
        incr: Literal[False] = ...,
        gt: bool = ...,
        lt: bool = ...,
    ) -> Awaitable[int]: ...
    @overload
    def __call__(
        self,
        name: KeyT,
        mapping: Mapping[Any, EncodableT],
        nx: bool = ...,
        xx: bool = ...,
        ch: bool = ...,
        *,
        incr: Literal[True],
        gt: bool = ...,
        lt: bool = ...,
    ) -> Awaitable[float | None]: ...
    @overload
    def __call__(
        self,
        name: KeyT,
        mapping: Mapping[Any, EncodableT],
        nx: bool,
        xx: bool,
        ch: bool,
        incr: Literal[True],
        gt: bool = ...,
        lt: bool = ...,
    ) -> Awaitable[float | None]: ...
    @overload
    def __call__(
        self,
        name: KeyT,
        mapping: Mapping[Any, EncodableT],
        nx: bool = ...,
        xx: bool = ...,
        ch: bool = ...,
        incr: bool = ...,
        gt: bool = ...,
        lt: bool = ...,
    ) -> Awaitable[int | float | None]: ...
    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        raise NotImplementedError


def _zcard(name: KeyT) -> Request[int]:
    """ZCARD: the number of members (0 for a missing key)."""
    return ("ZCARD", name), to_int


def _zcount(name: KeyT, min: ZScoreBoundT, max: ZScoreBoundT) -> Request[int]:
    """ZCOUNT: the number of members with a score between `min` and `max`."""
    return ("ZCOUNT", name, min, max), to_int


def _zincrby(name: KeyT, amount: float, value: EncodableT) -> Request[float | None]:
    """ZINCRBY: the member's new score."""
    return ("ZINCRBY", name, amount, value), to_float_or_none


def _zscore(name: KeyT, value: EncodableT) -> Request[float | None]:
    """ZSCORE: the member's score, or None."""
    return ("ZSCORE", name, value), to_float_or_none


def _zmscore(key: KeyT, members: Sequence[EncodableT]) -> Request[list[float | None]]:
    """ZMSCORE: each member's score, None for a missing one."""
    names = [members] if isinstance(members, str | bytes) else list(members)
    if not names:
        raise ValueError("ZMSCORE members must be a non-empty list")
    return ("ZMSCORE", key, *names), _parse_zmscore


def _zrank(name: KeyT, value: EncodableT) -> Request[int | None]:
    """ZRANK: the member's 0-based rank by ascending score, or None."""
    return ("ZRANK", name, value), None


def _zrevrank(name: KeyT, value: EncodableT) -> Request[int | None]:
    """ZREVRANK: the member's 0-based rank by descending score, or None."""
    return ("ZREVRANK", name, value), None


def _zrem(name: KeyT, *values: EncodableT) -> Request[int]:
    """ZREM: the number of members removed."""
    return ("ZREM", name, *values), to_int


def _zremrangebylex(name: KeyT, min: EncodableT, max: EncodableT) -> Request[int]:
    """ZREMRANGEBYLEX: the number of members removed."""
    return ("ZREMRANGEBYLEX", name, min, max), to_int


def _zremrangebyrank(name: KeyT, min: int, max: int) -> Request[int]:
    """ZREMRANGEBYRANK: the number of members removed."""
    return ("ZREMRANGEBYRANK", name, min, max), to_int


def _zremrangebyscore(name: KeyT, min: ZScoreBoundT, max: ZScoreBoundT) -> Request[int]:
    """ZREMRANGEBYSCORE: the number of members removed."""
    return ("ZREMRANGEBYSCORE", name, min, max), to_int


def _range_args(
    args: list[Any],
    desc: bool,
    byscore: bool,
    bylex: bool,
    withscores: bool,
    offset: int | None,
    num: int | None,
) -> None:
    if byscore and bylex:
        raise ValueError("``byscore`` and ``bylex`` can not be specified together")
    _both_or_neither(offset, num, "``offset`` and ``num``")
    if bylex and withscores:
        raise ValueError("``withscores`` not supported in combination with ``bylex``")
    if byscore:
        args.append("BYSCORE")
    if bylex:
        args.append("BYLEX")
    if desc:
        args.append("REV")
    if offset is not None:
        args += ("LIMIT", offset, num)


def _zrange(
    name: KeyT,
    start: EncodableT,
    end: EncodableT,
    desc: bool = False,
    withscores: bool = False,
    score_cast_func: ScoreCastT = float,
    byscore: bool = False,
    bylex: bool = False,
    offset: int | None = None,
    num: int | None = None,
) -> Request[list[Any]]:
    """ZRANGE: members; with `withscores` ``(member, score)`` tuples."""
    if desc and not byscore and not bylex and offset is None and num is None:
        # redis-py sends ZREVRANGE here (ZRANGE ... REV is newer): the same errors follow
        if withscores:
            return ("ZREVRANGE", name, start, end, "WITHSCORES"), _cast_pairs(score_cast_func)
        return ("ZREVRANGE", name, start, end), None
    args: list[Any] = ["ZRANGE", name, start, end]
    _range_args(args, desc, byscore, bylex, withscores, offset, num)
    if withscores:
        args.append("WITHSCORES")
        return tuple(args), _cast_pairs(score_cast_func)
    return tuple(args), None


def _zrangestore(
    dest: KeyT,
    name: KeyT,
    start: EncodableT,
    end: EncodableT,
    byscore: bool = False,
    bylex: bool = False,
    desc: bool = False,
    offset: int | None = None,
    num: int | None = None,
) -> Request[int]:
    """ZRANGESTORE: the number of members stored in `dest`."""
    args: list[Any] = ["ZRANGESTORE", dest, name, start, end]
    _range_args(args, desc, byscore, bylex, False, offset, num)
    return tuple(args), to_int


def _zrevrange(
    name: KeyT,
    start: int,
    end: int,
    withscores: bool = False,
    score_cast_func: ScoreCastT = float,
) -> Request[list[Any]]:
    """ZREVRANGE: members by descending score; with `withscores` ``(member, score)``."""
    if withscores:
        return ("ZREVRANGE", name, start, end, "WITHSCORES"), _cast_pairs(score_cast_func)
    return ("ZREVRANGE", name, start, end), None


def _by_score(
    verb: str,
    name: KeyT,
    first: ZScoreBoundT,
    second: ZScoreBoundT,
    start: int | None,
    num: int | None,
    withscores: bool,
    score_cast_func: ScoreCastT,
) -> Request[list[Any]]:
    _both_or_neither(start, num, "``start`` and ``num``")
    args: list[Any] = [verb, name, first, second]
    if start is not None:
        args += ("LIMIT", start, num)
    if withscores:
        args.append("WITHSCORES")
        return tuple(args), _cast_pairs(score_cast_func)
    return tuple(args), None


def _zrangebyscore(
    name: KeyT,
    min: ZScoreBoundT,
    max: ZScoreBoundT,
    start: int | None = None,
    num: int | None = None,
    withscores: bool = False,
    score_cast_func: ScoreCastT = float,
) -> Request[list[Any]]:
    """ZRANGEBYSCORE: members; with `withscores` ``(member, score)`` tuples."""
    return _by_score("ZRANGEBYSCORE", name, min, max, start, num, withscores, score_cast_func)


def _zrevrangebyscore(
    name: KeyT,
    max: ZScoreBoundT,
    min: ZScoreBoundT,
    start: int | None = None,
    num: int | None = None,
    withscores: bool = False,
    score_cast_func: ScoreCastT = float,
) -> Request[list[Any]]:
    """ZREVRANGEBYSCORE: members; with `withscores` ``(member, score)`` tuples."""
    return _by_score("ZREVRANGEBYSCORE", name, max, min, start, num, withscores, score_cast_func)


def _zrangebylex(
    name: KeyT,
    min: EncodableT,
    max: EncodableT,
    start: int | None = None,
    num: int | None = None,
) -> Request[list[Any]]:
    """ZRANGEBYLEX: the members between `min` and `max` (``[a``, ``(b``, ``-``, ``+``)."""
    _both_or_neither(start, num, "``start`` and ``num``")
    if start is None:
        return ("ZRANGEBYLEX", name, min, max), None
    return ("ZRANGEBYLEX", name, min, max, "LIMIT", start, num), None  # type: ignore[return-value]


def _zrevrangebylex(
    name: KeyT,
    max: EncodableT,
    min: EncodableT,
    start: int | None = None,
    num: int | None = None,
) -> Request[list[Any]]:
    """ZREVRANGEBYLEX: the members between `max` and `min`, in reverse order."""
    _both_or_neither(start, num, "``start`` and ``num``")
    if start is None:
        return ("ZREVRANGEBYLEX", name, max, min), None
    return ("ZREVRANGEBYLEX", name, max, min, "LIMIT", start, num), None  # type: ignore[return-value]


def _zpopmin(name: KeyT, count: int | None = None) -> Request[list[tuple[Any, float]]]:
    """ZPOPMIN: the popped ``(member, score)`` tuples."""
    if count is None:
        return ("ZPOPMIN", name), _float_pairs
    return ("ZPOPMIN", name, count), _float_pairs


def _zpopmax(name: KeyT, count: int | None = None) -> Request[list[tuple[Any, float]]]:
    """ZPOPMAX: the popped ``(member, score)`` tuples."""
    if count is None:
        return ("ZPOPMAX", name), _float_pairs
    return ("ZPOPMAX", name, count), _float_pairs


def _bzpopmin(keys: KeysT, timeout: TimeoutT | None = 0) -> Request[tuple[Any, Any, float] | None]:
    """BZPOPMIN: ``(key, member, score)``, or None on timeout."""
    return ("BZPOPMIN", *key_list(keys, 0 if timeout is None else timeout)), _bzpop


def _bzpopmax(keys: KeysT, timeout: TimeoutT | None = 0) -> Request[tuple[Any, Any, float] | None]:
    """BZPOPMAX: ``(key, member, score)``, or None on timeout."""
    return ("BZPOPMAX", *key_list(keys, 0 if timeout is None else timeout)), _bzpop


def _zmpop(
    num_keys: int,
    keys: KeysT,
    min: bool | None = False,
    max: bool | None = False,
    count: int | None = 1,
) -> Request[list[Any] | None]:
    """ZMPOP: ``[key, [[member, score_text], ...]]``, or None when every set is empty."""
    args: list[Any] = ["ZMPOP", num_keys, *key_list(keys), _pop_side(min, max)]
    if count != 1:
        args += ("COUNT", count)
    return tuple(args), _parse_zmpop


def _bzmpop(
    timeout: float,
    numkeys: int,
    keys: KeysT,
    min: bool | None = False,
    max: bool | None = False,
    count: int | None = 1,
) -> Request[list[Any] | None]:
    """BZMPOP: ``[key, [[member, score_text], ...]]``, or None on timeout."""
    side = _pop_side(min, max)
    return ("BZMPOP", timeout, numkeys, *key_list(keys), side, "COUNT", count), _parse_zmpop


def _zrandmember(key: KeyT, count: int | None = None, withscores: bool = False) -> Request[Any]:
    """ZRANDMEMBER: a member (or None); with `count` a list (``[m, score_text, ...]`` with
    `withscores`)."""
    if count is None:
        if withscores:
            return ("ZRANDMEMBER", key, "WITHSCORES"), _flat_scores
        return ("ZRANDMEMBER", key), None
    if withscores:
        return ("ZRANDMEMBER", key, count, "WITHSCORES"), _flat_scores
    return ("ZRANDMEMBER", key, count), None


class _ZrandmemberShape:
    @overload
    def __call__(self, key: KeyT, count: None = ..., withscores: bool = ...) -> Awaitable[Any]: ...
    @overload
    def __call__(self, key: KeyT, count: int, withscores: bool = ...) -> Awaitable[list[Any]]: ...
    @overload
    def __call__(
        self, key: KeyT, count: int | None = ..., withscores: bool = ...
    ) -> Awaitable[Any]: ...
    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        raise NotImplementedError


def _zdiff(keys: KeysT, withscores: bool = False) -> Request[list[Any]]:
    """ZDIFF: the members of the first set not in the others (``[m, score_text, ...]`` with
    `withscores`, as redis-py leaves it)."""
    names = key_list(keys)
    if withscores:
        return ("ZDIFF", len(names), *names, "WITHSCORES"), _flat_scores
    return ("ZDIFF", len(names), *names), None


def _zdiffstore(dest: KeyT, keys: KeysT) -> Request[int]:
    """ZDIFFSTORE: the number of members stored in `dest`."""
    names = key_list(keys)
    return ("ZDIFFSTORE", dest, len(names), *names), to_int


def _zinter(
    keys: Sequence[KeyT] | Mapping[Any, float],
    aggregate: str | None = None,
    withscores: bool = False,
) -> Request[list[Any]]:
    """ZINTER: members; with `withscores` ``(member, score)`` tuples. A dict of keys gives
    their weights."""
    args: list[Any] = ["ZINTER"]
    _aggregate_args(args, keys, aggregate)
    if withscores:
        args.append("WITHSCORES")
        return tuple(args), _float_pairs
    return tuple(args), None


def _zunion(
    keys: Sequence[KeyT] | Mapping[Any, float],
    aggregate: str | None = None,
    withscores: bool = False,
    score_cast_func: ScoreCastT = float,
) -> Request[list[Any]]:
    """ZUNION: members; with `withscores` ``(member, score)`` tuples. A dict of keys gives
    their weights."""
    args: list[Any] = ["ZUNION"]
    _aggregate_args(args, keys, aggregate)
    if withscores:
        args.append("WITHSCORES")
        return tuple(args), _cast_pairs(score_cast_func)
    return tuple(args), None


def _zinterstore(
    dest: KeyT,
    keys: Sequence[KeyT] | Mapping[Any, float],
    aggregate: str | None = None,
) -> Request[int]:
    """ZINTERSTORE: the number of members stored in `dest`."""
    args: list[Any] = ["ZINTERSTORE", dest]
    _aggregate_args(args, keys, aggregate)
    return tuple(args), to_int


def _zunionstore(
    dest: KeyT,
    keys: Sequence[KeyT] | Mapping[Any, float],
    aggregate: str | None = None,
) -> Request[int]:
    """ZUNIONSTORE: the number of members stored in `dest`."""
    args: list[Any] = ["ZUNIONSTORE", dest]
    _aggregate_args(args, keys, aggregate)
    return tuple(args), to_int


def _zintercard(numkeys: int, keys: KeysT, limit: int = 0) -> Request[int]:
    """ZINTERCARD: the size of the intersection (at most `limit`, unless 0)."""
    return ("ZINTERCARD", numkeys, *key_list(keys), "LIMIT", limit), to_int


def _zlexcount(name: KeyT, min: EncodableT, max: EncodableT) -> Request[int]:
    """ZLEXCOUNT: the number of members between `min` and `max`."""
    return ("ZLEXCOUNT", name, min, max), to_int


def build_zscan(
    name: KeyT,
    cursor: int = 0,
    match: EncodableT | None = None,
    count: int | None = None,
    score_cast_func: ScoreCastT = float,
) -> Request[tuple[int, list[tuple[Any, Any]]]]:
    """ZSCAN: ``(next_cursor, [(member, score), ...])``."""
    args: list[CommandArg] = ["ZSCAN", name, cursor]
    if match is not None:
        args += ("MATCH", match)
    if count is not None:
        args += ("COUNT", count)
    parse = _zscan_floats if score_cast_func is float else _zscan_parser(score_cast_func)
    return tuple(args), parse


# -- shapes of the commands whose reply depends on ``withscores`` -------------------------------

Pairs = list[tuple[Any, float]]


class _ZrangeShape:
    @overload
    def __call__(
        self,
        name: KeyT,
        start: EncodableT,
        end: EncodableT,
        desc: bool = ...,
        withscores: Literal[False] = ...,
        score_cast_func: ScoreCastT = ...,
        byscore: bool = ...,
        bylex: bool = ...,
        offset: int | None = ...,
        num: int | None = ...,
    ) -> Awaitable[list[Any]]: ...
    @overload
    def __call__(
        self,
        name: KeyT,
        start: EncodableT,
        end: EncodableT,
        desc: bool = ...,
        *,
        withscores: Literal[True],
        byscore: bool = ...,
        bylex: bool = ...,
        offset: int | None = ...,
        num: int | None = ...,
    ) -> Awaitable[Pairs]: ...
    @overload
    def __call__(
        self,
        name: KeyT,
        start: EncodableT,
        end: EncodableT,
        desc: bool = ...,
        *,
        withscores: Literal[True],
        score_cast_func: Callable[[Any], S],
        byscore: bool = ...,
        bylex: bool = ...,
        offset: int | None = ...,
        num: int | None = ...,
    ) -> Awaitable[list[tuple[Any, S]]]: ...
    @overload
    def __call__(
        self,
        name: KeyT,
        start: EncodableT,
        end: EncodableT,
        desc: bool,
        withscores: Literal[True],
        *,
        byscore: bool = ...,
        bylex: bool = ...,
        offset: int | None = ...,
        num: int | None = ...,
    ) -> Awaitable[Pairs]: ...
    @overload
    def __call__(
        self,
        name: KeyT,
        start: EncodableT,
        end: EncodableT,
        desc: bool,
        withscores: Literal[True],
        score_cast_func: Callable[[Any], S],
        byscore: bool = ...,
        bylex: bool = ...,
        offset: int | None = ...,
        num: int | None = ...,
    ) -> Awaitable[list[tuple[Any, S]]]: ...
    @overload
    def __call__(
        self,
        name: KeyT,
        start: EncodableT,
        end: EncodableT,
        desc: bool = ...,
        withscores: bool = ...,
        score_cast_func: ScoreCastT = ...,
        byscore: bool = ...,
        bylex: bool = ...,
        offset: int | None = ...,
        num: int | None = ...,
    ) -> Awaitable[list[Any]]: ...
    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        raise NotImplementedError


class _ZrevrangeShape:
    @overload
    def __call__(
        self,
        name: KeyT,
        start: int,
        end: int,
        withscores: Literal[False] = ...,
        score_cast_func: ScoreCastT = ...,
    ) -> Awaitable[list[Any]]: ...
    @overload
    def __call__(
        self, name: KeyT, start: int, end: int, withscores: Literal[True]
    ) -> Awaitable[Pairs]: ...
    @overload
    def __call__(
        self,
        name: KeyT,
        start: int,
        end: int,
        withscores: Literal[True],
        score_cast_func: Callable[[Any], S],
    ) -> Awaitable[list[tuple[Any, S]]]: ...
    @overload
    def __call__(
        self,
        name: KeyT,
        start: int,
        end: int,
        withscores: bool = ...,
        score_cast_func: ScoreCastT = ...,
    ) -> Awaitable[list[Any]]: ...
    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        raise NotImplementedError


class _ByScoreShape:
    @overload
    def __call__(
        self,
        name: KeyT,
        min: ZScoreBoundT,
        max: ZScoreBoundT,
        start: int | None = ...,
        num: int | None = ...,
        withscores: Literal[False] = ...,
        score_cast_func: ScoreCastT = ...,
    ) -> Awaitable[list[Any]]: ...
    @overload
    def __call__(
        self,
        name: KeyT,
        min: ZScoreBoundT,
        max: ZScoreBoundT,
        start: int | None = ...,
        num: int | None = ...,
        *,
        withscores: Literal[True],
    ) -> Awaitable[Pairs]: ...
    @overload
    def __call__(
        self,
        name: KeyT,
        min: ZScoreBoundT,
        max: ZScoreBoundT,
        start: int | None = ...,
        num: int | None = ...,
        *,
        withscores: Literal[True],
        score_cast_func: Callable[[Any], S],
    ) -> Awaitable[list[tuple[Any, S]]]: ...
    @overload
    def __call__(
        self,
        name: KeyT,
        min: ZScoreBoundT,
        max: ZScoreBoundT,
        start: int | None,
        num: int | None,
        withscores: Literal[True],
    ) -> Awaitable[Pairs]: ...
    @overload
    def __call__(
        self,
        name: KeyT,
        min: ZScoreBoundT,
        max: ZScoreBoundT,
        start: int | None,
        num: int | None,
        withscores: Literal[True],
        score_cast_func: Callable[[Any], S],
    ) -> Awaitable[list[tuple[Any, S]]]: ...
    @overload
    def __call__(
        self,
        name: KeyT,
        min: ZScoreBoundT,
        max: ZScoreBoundT,
        start: int | None = ...,
        num: int | None = ...,
        withscores: bool = ...,
        score_cast_func: ScoreCastT = ...,
    ) -> Awaitable[list[Any]]: ...
    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        raise NotImplementedError


class _RevByScoreShape:
    @overload
    def __call__(
        self,
        name: KeyT,
        max: ZScoreBoundT,
        min: ZScoreBoundT,
        start: int | None = ...,
        num: int | None = ...,
        withscores: Literal[False] = ...,
        score_cast_func: ScoreCastT = ...,
    ) -> Awaitable[list[Any]]: ...
    @overload
    def __call__(
        self,
        name: KeyT,
        max: ZScoreBoundT,
        min: ZScoreBoundT,
        start: int | None = ...,
        num: int | None = ...,
        *,
        withscores: Literal[True],
    ) -> Awaitable[Pairs]: ...
    @overload
    def __call__(
        self,
        name: KeyT,
        max: ZScoreBoundT,
        min: ZScoreBoundT,
        start: int | None = ...,
        num: int | None = ...,
        *,
        withscores: Literal[True],
        score_cast_func: Callable[[Any], S],
    ) -> Awaitable[list[tuple[Any, S]]]: ...
    @overload
    def __call__(
        self,
        name: KeyT,
        max: ZScoreBoundT,
        min: ZScoreBoundT,
        start: int | None,
        num: int | None,
        withscores: Literal[True],
    ) -> Awaitable[Pairs]: ...
    @overload
    def __call__(
        self,
        name: KeyT,
        max: ZScoreBoundT,
        min: ZScoreBoundT,
        start: int | None,
        num: int | None,
        withscores: Literal[True],
        score_cast_func: Callable[[Any], S],
    ) -> Awaitable[list[tuple[Any, S]]]: ...
    @overload
    def __call__(
        self,
        name: KeyT,
        max: ZScoreBoundT,
        min: ZScoreBoundT,
        start: int | None = ...,
        num: int | None = ...,
        withscores: bool = ...,
        score_cast_func: ScoreCastT = ...,
    ) -> Awaitable[list[Any]]: ...
    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        raise NotImplementedError


class _ZinterShape:
    @overload
    def __call__(
        self,
        keys: Sequence[KeyT] | Mapping[Any, float],
        aggregate: str | None = ...,
        withscores: Literal[False] = ...,
    ) -> Awaitable[list[Any]]: ...
    @overload
    def __call__(
        self,
        keys: Sequence[KeyT] | Mapping[Any, float],
        aggregate: str | None = ...,
        *,
        withscores: Literal[True],
    ) -> Awaitable[Pairs]: ...
    @overload
    def __call__(
        self,
        keys: Sequence[KeyT] | Mapping[Any, float],
        aggregate: str | None,
        withscores: Literal[True],
    ) -> Awaitable[Pairs]: ...
    @overload
    def __call__(
        self,
        keys: Sequence[KeyT] | Mapping[Any, float],
        aggregate: str | None = ...,
        withscores: bool = ...,
    ) -> Awaitable[list[Any]]: ...
    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        raise NotImplementedError


class _ZunionShape:
    @overload
    def __call__(
        self,
        keys: Sequence[KeyT] | Mapping[Any, float],
        aggregate: str | None = ...,
        withscores: Literal[False] = ...,
        score_cast_func: ScoreCastT = ...,
    ) -> Awaitable[list[Any]]: ...
    @overload
    def __call__(
        self,
        keys: Sequence[KeyT] | Mapping[Any, float],
        aggregate: str | None = ...,
        *,
        withscores: Literal[True],
    ) -> Awaitable[Pairs]: ...
    @overload
    def __call__(
        self,
        keys: Sequence[KeyT] | Mapping[Any, float],
        aggregate: str | None = ...,
        *,
        withscores: Literal[True],
        score_cast_func: Callable[[Any], S],
    ) -> Awaitable[list[tuple[Any, S]]]: ...
    @overload
    def __call__(
        self,
        keys: Sequence[KeyT] | Mapping[Any, float],
        aggregate: str | None,
        withscores: Literal[True],
    ) -> Awaitable[Pairs]: ...
    @overload
    def __call__(
        self,
        keys: Sequence[KeyT] | Mapping[Any, float],
        aggregate: str | None,
        withscores: Literal[True],
        score_cast_func: Callable[[Any], S],
    ) -> Awaitable[list[tuple[Any, S]]]: ...
    @overload
    def __call__(
        self,
        keys: Sequence[KeyT] | Mapping[Any, float],
        aggregate: str | None = ...,
        withscores: bool = ...,
        score_cast_func: ScoreCastT = ...,
    ) -> Awaitable[list[Any]]: ...
    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        raise NotImplementedError


class _ZscanShape:
    @overload
    def __call__(
        self,
        name: KeyT,
        cursor: int = ...,
        match: EncodableT | None = ...,
        count: int | None = ...,
    ) -> Awaitable[tuple[int, Pairs]]: ...
    @overload
    def __call__(
        self,
        name: KeyT,
        cursor: int = ...,
        match: EncodableT | None = ...,
        count: int | None = ...,
        *,
        score_cast_func: Callable[[Any], S],
    ) -> Awaitable[tuple[int, list[tuple[Any, S]]]]: ...
    @overload
    def __call__(
        self,
        name: KeyT,
        cursor: int,
        match: EncodableT | None,
        count: int | None,
        score_cast_func: Callable[[Any], S],
    ) -> Awaitable[tuple[int, list[tuple[Any, S]]]]: ...
    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        raise NotImplementedError


class SortedSetCommands:
    """Sorted-set commands (`command` descriptors; see `anyredis_auth._commands._core`)."""

    zadd = overloaded(_zadd, _ZaddShape)
    zcard = command(_zcard)
    zcount = command(_zcount)
    zincrby = command(_zincrby)
    zscore = command(_zscore)
    zmscore = command(_zmscore)
    zrank = command(_zrank)
    zrevrank = command(_zrevrank)
    zrem = command(_zrem)
    zremrangebylex = command(_zremrangebylex)
    zremrangebyrank = command(_zremrangebyrank)
    zremrangebyscore = command(_zremrangebyscore)
    zrange = overloaded(_zrange, _ZrangeShape)
    zrangestore = command(_zrangestore)
    zrevrange = overloaded(_zrevrange, _ZrevrangeShape)
    zrangebyscore = overloaded(_zrangebyscore, _ByScoreShape)
    zrevrangebyscore = overloaded(_zrevrangebyscore, _RevByScoreShape)
    zrangebylex = command(_zrangebylex)
    zrevrangebylex = command(_zrevrangebylex)
    zpopmin = command(_zpopmin)
    zpopmax = command(_zpopmax)
    bzpopmin = command(_bzpopmin)
    bzpopmax = command(_bzpopmax)
    zmpop = command(_zmpop)
    bzmpop = command(_bzmpop)
    zrandmember = overloaded(_zrandmember, _ZrandmemberShape)
    zdiff = command(_zdiff)
    zdiffstore = command(_zdiffstore)
    zinter = overloaded(_zinter, _ZinterShape)
    zinterstore = command(_zinterstore)
    zunion = overloaded(_zunion, _ZunionShape)
    zunionstore = command(_zunionstore)
    zintercard = command(_zintercard)
    zlexcount = command(_zlexcount)
    zscan = overloaded(build_zscan, _ZscanShape)
