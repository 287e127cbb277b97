"""Sorted-set commands against redis-py (the oracle): direct, pipelined, on a cluster, drawn."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests._servers import ServerProcess
from tests.commands._checks import check_sequence

# The three standard corpus tests, collected here (`corpus` reads this module's CORPUS):
from tests.commands._checks import test_cluster as test_cluster
from tests.commands._checks import test_direct as test_direct
from tests.commands._checks import test_pipelined as test_pipelined
from tests.commands._oracle import Call, call

pytestmark = pytest.mark.anyio

Z = "{t}z"
LEX = "{t}lex"

CORPUS: list[Call] = [
    # ZADD and its options; scores that are not exact in binary (0.1) or infinite
    call("zadd", Z, {"a": 1, "b": 2, "c": 3, "d": 4.5}),
    call("zadd", Z, {"a": 10, "e": 0.1}, nx=True),
    call("zadd", Z, {"a": 1.5, "zz": 7}, xx=True, ch=True),
    call("zadd", Z, {"a": 0, "b": 5}, gt=True, ch=True),
    call("zadd", Z, {"a": 0, "c": 1}, lt=True, ch=True),
    call("zadd", Z, {"b": 2.5}, incr=True),
    call("zadd", Z, {"new": 1}, xx=True, incr=True),
    call("zadd", Z, {"a": 1}, nx=True, incr=True),
    call("zadd", Z, {"a": 1, "b": 2}, incr=True),  # client: one pair only
    call("zadd", Z, {"a": 1}, nx=True, xx=True),  # client
    call("zadd", Z, {"a": 1}, gt=True, lt=True),  # client
    call("zadd", Z, {"a": 1}, nx=True, gt=True),  # client
    call("zadd", Z, {}),  # client
    call("zadd", "{t}inf", {"lo": "-inf", "hi": "+inf", "mid": -0.25}),
    call("zadd", Z, {"a": "not a number"}),  # ERR
    # counters and single-member queries
    call("zcard", Z),
    call("zcard", "{t}missing"),
    call("zcount", Z, "-inf", "+inf"),
    call("zcount", Z, "(1", 3),
    call("zincrby", Z, 2.25, "d"),
    call("zincrby", Z, 1, "fresh"),
    call("zscore", Z, "a"),
    call("zscore", Z, "nope"),
    call("zscore", "{t}inf", "hi"),
    call("zmscore", Z, ["a", "nope", "d"]),
    call("zmscore", Z, []),  # client
    call("zrank", Z, "c"),
    call("zrank", Z, "nope"),
    call("zrevrank", Z, "c"),
    call("zrevrank", "{t}missing", "c"),
    # the ZRANGE family
    call("zrange", Z, 0, -1),
    call("zrange", Z, 0, -1, withscores=True),
    call("zrange", Z, 0, 2, True),
    call("zrange", Z, 0, -1, desc=True, withscores=True),
    call("zrange", Z, 0, -1, withscores=True, score_cast_func=int),
    call("zrange", Z, 0, -1, withscores=True, score_cast_func=str),
    call("zrange", "{t}inf", 0, -1, withscores=True),
    call("zrange", "{t}inf", 0, -1, withscores=True, score_cast_func=str),
    call("zrange", Z, 1, 4, byscore=True, withscores=True),
    call("zrange", Z, "(5", "-inf", desc=True, byscore=True),
    call("zrange", Z, "-inf", "+inf", byscore=True, offset=1, num=2, withscores=True),
    call("zrange", Z, 0, -1, desc=True, offset=0, num=2),
    call("zrange", Z, 0, 1, byscore=True, bylex=True),  # client
    call("zrange", Z, 0, 1, offset=1),  # client
    call("zrange", Z, "-", "+", bylex=True, withscores=True),  # client
    call("zrange", Z, "a", "b"),  # ERR: not an integer
    call("zrange", "{t}missing", 0, -1, withscores=True),
    call("zrevrange", Z, 0, 2),
    call("zrevrange", Z, 0, -1, True),
    call("zrevrange", Z, 0, -1, withscores=True, score_cast_func=int),
    call("zrangebyscore", Z, 1, 5),
    call("zrangebyscore", Z, "(1", "+inf", 1, 2, True),
    call("zrangebyscore", Z, "-inf", "+inf", withscores=True, score_cast_func=str),
    call("zrangebyscore", Z, 1, 5, start=1),  # client
    call("zrevrangebyscore", Z, "+inf", 2),
    call("zrevrangebyscore", Z, 10, "(0", 0, 3, withscores=True),
    call("zrangestore", "{t}dst", Z, 0, 2),
    call("zrangestore", "{t}dst", Z, 5, "(1", byscore=True, desc=True, offset=0, num=2),
    call("zrange", "{t}dst", 0, -1, withscores=True),
    call("zrangestore", "{t}dst", Z, 0, 1, bylex=True, byscore=True),  # client
    call("zadd", LEX, {"alpha": 0, "beta": 0, "delta": 0, "gamma": 0, "omega": 0}),
    call("zrangebylex", LEX, "-", "+"),
    call("zrangebylex", LEX, "[b", "(g", 0, 1),
    call("zrangebylex", LEX, "[b", "(g", num=1),  # client
    call("zrangebylex", LEX, "b", "g"),  # ERR: not a valid range item
    call("zrevrangebylex", LEX, "+", "[beta"),
    call("zrevrangebylex", LEX, "+", "-", 1, 2),
    call("zrange", LEX, "[b", "[o", bylex=True),
    call("zrange", LEX, "+", "-", bylex=True, desc=True, offset=1, num=2),
    call("zlexcount", LEX, "-", "+"),
    call("zlexcount", LEX, "[b", "(gamma"),
    call("zrangestore", "{t}dst", LEX, "[b", "+", bylex=True),
    # set operations
    call("zadd", "{t}y", {"a": 100, "b": 200, "x": 1}),
    call("zinter", [Z, "{t}y"]),
    call("zinter", [Z, "{t}y"], withscores=True),
    call("zinter", {Z: 1, "{t}y": 0.5}, "min", True),
    call("zinter", [Z, "{t}y"], aggregate="MAX", withscores=True),
    call("zinter", [Z, "{t}y"], aggregate="median"),  # client
    call("zunion", [Z, "{t}y"]),
    call("zunion", [Z, "{t}y"], withscores=True),
    call("zunion", {Z: 2, "{t}y": 1}, aggregate="sum", withscores=True, score_cast_func=int),
    call("zunion", ("{t}y",), "max", True),
    call("zdiff", [Z, "{t}y"]),
    call("zdiff", [Z, "{t}y"], withscores=True),
    call("zdiff", ["{t}missing", "{t}y"], withscores=True),
    call("zdiffstore", "{t}d2", [Z, "{t}y"]),
    call("zinterstore", "{t}d3", [Z, "{t}y"]),
    call("zinterstore", "{t}d3", {Z: 3, "{t}y": 1}, aggregate="MIN"),
    call("zrange", "{t}d3", 0, -1, withscores=True),
    call("zunionstore", "{t}d4", {Z: 1, "{t}y": -1}),
    call("zunionstore", "{t}d4", [Z, "{t}y"], "max"),
    call("zrange", "{t}d4", 0, -1, withscores=True),
    call("zintercard", 2, [Z, "{t}y"]),
    call("zintercard", 2, [Z, "{t}y"], limit=1),
    # a cluster takes "LIMIT" for the third key: CROSSSLOT there
    call("zintercard", 3, [Z, "{t}y"]).single_server(),  # ERR: numkeys
    # random members: a one-member set answers the same every time
    call("zadd", "{t}one", {"only": 3.5}),
    call("zrandmember", "{t}one"),
    call("zrandmember", "{t}one", 2),
    call("zrandmember", "{t}one", -3, withscores=True),
    call("zrandmember", "{t}one", 1, True),
    call("zrandmember", "{t}missing"),
    call("zrandmember", "{t}missing", 2, withscores=True),
    call("zrandmember", "{t}y", 3, withscores=True).unordered(),
    call("zrandmember", "{t}y", 5).unordered(),
    call("zrandmember", Z).shape(),
    # scans
    call("zscan", "{t}y"),
    call("zscan", "{t}y", 0, "*", 100, score_cast_func=int),
    call("zscan", Z, match="[ab]*"),
    call("zscan", "{t}missing"),
    call("zscan_iter", "{t}y").iterator(),
    # ZSCAN's scores are the server's text: Redis 7.0 writes 0.1 as 0.10000000000000001, Valkey
    # (a cluster kind of the suite) as 0.1
    call("zscan_iter", Z, match="*", count=2, score_cast_func=str).iterator().single_server(),
    # removals and pops
    call("zrem", Z, "zz", "nope"),
    call("zrem", Z, "nope"),
    call("zremrangebyrank", "{t}dst", 0, 0),
    call("zremrangebyscore", "{t}d4", "(1", 100),
    call("zremrangebylex", LEX, "[a", "[beta"),
    call("zrange", LEX, 0, -1),
    call("zpopmin", "{t}y"),
    call("zpopmax", "{t}y", 2),
    call("zpopmin", "{t}missing"),
    call("zpopmax", "{t}missing", 3),
    call("zmpop", 2, ["{t}missing", Z], min=True),
    call("zmpop", 2, ["{t}missing", Z], max=True, count=2),
    call("zmpop", 1, ["{t}missing"], min=True),
    call("zmpop", 1, [Z], min=True, max=True),  # client
    call("zmpop", 1, ["{t}inf"], max=True, count=5),
    # errors of the server
    call("set", "{t}str", "text"),
    call("zadd", "{t}str", {"a": 1}),
    call("zrange", "{t}str", 0, -1, withscores=True),
    call("zcard", "{t}str"),
    call("zpopmin", "{t}str"),
    # blocking commands (not pipelined; their keys are not read by the calls above)
    call("zadd", "{t}b1", {"p": 1, "q": 2, "r": 0.5}),
    call("bzpopmin", "{t}b1", 1).no_pipeline(),
    call("bzpopmax", ["{t}bmissing", "{t}b1"], 1).no_pipeline(),
    call("bzpopmin", "{t}bmissing", 0.05).no_pipeline(),
    call("bzmpop", 1, 2, ["{t}bmissing", "{t}b1"], min=True).no_pipeline(),
    call("bzmpop", 0.05, 1, ["{t}bmissing"], max=True, count=3).no_pipeline(),
    call("bzmpop", 1, 1, ["{t}b1"], min=False).no_pipeline(),  # client
]


KEYS = st.sampled_from(["{t}a", "{t}b"])
MEMBERS = st.sampled_from(["m", "n", "\u00e9"])
SCORES = st.sampled_from([-2, 0, 1, 1.5, 0.1, 1e20, "+inf"])
BOUNDS = st.sampled_from(["-inf", "+inf", "(1", 0, 1.5])
CALLS = st.one_of(
    st.builds(
        lambda k, mapping, flag: call("zadd", k, mapping, **({flag: True} if flag else {})),
        KEYS,
        st.dictionaries(MEMBERS, SCORES, min_size=1, max_size=3),
        st.sampled_from([None, "nx", "xx", "ch", "gt", "lt"]),
    ),
    st.builds(lambda k, m, a: call("zincrby", k, a, m), KEYS, MEMBERS, st.integers(-3, 3)),
    st.builds(lambda k, m: call("zscore", k, m), KEYS, MEMBERS),
    st.builds(lambda k, m: call("zrem", k, m), KEYS, MEMBERS),
    st.builds(
        lambda k, desc, ws: call("zrange", k, 0, -1, desc=desc, withscores=ws),
        KEYS,
        st.booleans(),
        st.booleans(),
    ),
    st.builds(
        lambda k, lo, hi, ws: call("zrangebyscore", k, lo, hi, withscores=ws),
        KEYS,
        BOUNDS,
        BOUNDS,
        st.booleans(),
    ),
    st.builds(lambda k, n: call("zpopmin", k, n), KEYS, st.sampled_from([None, 1, 2])),
    st.builds(lambda k: call("zmpop", 2, [k, "{t}a"], max=True, count=2), KEYS),
    st.builds(lambda ws: call("zunion", ["{t}a", "{t}b"], withscores=ws), st.booleans()),
    st.builds(lambda ws: call("zdiff", ["{t}a", "{t}b"], withscores=ws), st.booleans()),
    st.builds(lambda: call("zinterstore", "{t}a", {"{t}a": 2, "{t}b": 1})),
)


@pytest.mark.parametrize("protocol", [2, 3])
@settings(
    max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(st.lists(CALLS, min_size=1, max_size=12))
def test_drawn_sequences(command_server: ServerProcess, protocol: int, corpus: list[Call]) -> None:
    check_sequence(command_server, corpus, protocol)
