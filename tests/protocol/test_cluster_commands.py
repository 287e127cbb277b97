"""The routing table from hand-written ``COMMAND`` replies, key finding, policies, split/merge."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from anyredis_auth.protocol import ProtocolError, ResponseError
from anyredis_auth.protocol._cluster_commands import (
    AGG_LOGICAL_AND,
    AGG_LOGICAL_OR,
    AGG_MAX,
    AGG_MIN,
    AGG_SUM,
    ALL_SHARDS,
    ALL_SUCCEEDED,
    MULTI_SHARD,
    ONE_SUCCEEDED,
    SPECIAL,
    CommandTable,
    CrossSlotError,
    keys_of,
    merge_replies,
    merge_split,
    parse_command_reply,
    slot_of,
    split_by_slot,
)
from anyredis_auth.protocol._cluster_slots import key_slot
from anyredis_auth.protocol._encoder import CommandArg
from tests.protocol._shapes import SHAPE_IDS, SHAPES, shaped


def spec(begin: dict[str, object], find: dict[str, object], *flags: str) -> dict[str, object]:
    return {"flags": list(flags), "begin_search": begin, "find_keys": find}


def index(i: int) -> dict[str, object]:
    return {"type": "index", "spec": {"index": i}}


def keyword(word: str, startfrom: int) -> dict[str, object]:
    return {"type": "keyword", "spec": {"keyword": word, "startfrom": startfrom}}


def range_(lastkey: int, keystep: int = 1, limit: int = 0) -> dict[str, object]:
    return {"type": "range", "spec": {"lastkey": lastkey, "keystep": keystep, "limit": limit}}


def keynum(keynumidx: int, firstkey: int, keystep: int = 1) -> dict[str, object]:
    return {
        "type": "keynum",
        "spec": {"keynumidx": keynumidx, "firstkey": firstkey, "keystep": keystep},
    }


UNKNOWN: dict[str, object] = {"type": "unknown", "spec": {}}


def entry(
    name: str,
    arity: int,
    flags: list[str],
    fls: tuple[int, int, int],
    specs: list[object] = [],  # noqa: B006 - never mutated
    tips: list[str] = [],  # noqa: B006
    subs: list[object] = [],  # noqa: B006
) -> list[object]:
    return [name, arity, flags, *fls, ["@x"], tips, specs, subs]


COMMAND = [
    entry("get", 2, ["readonly", "fast"], (1, 1, 1), [spec(index(1), range_(0), "RO")]),
    entry(
        "mset", -3, ["write", "denyoom"], (1, -1, 2), [spec(index(1), range_(-1, 2), "OW")],
        ["request_policy:multi_shard", "response_policy:all_succeeded"],
    ),
    entry(
        "xread", -4, ["readonly", "blocking", "movablekeys"], (0, 0, 0),
        [spec(keyword("STREAMS", 1), range_(-1, 1, 2), "RO")],
    ),
    entry(
        "eval", -3, ["noscript", "movablekeys"], (0, 0, 0), [spec(index(2), keynum(0, 1), "RW")]
    ),
    entry(
        "migrate", -6, ["write", "movablekeys"], (3, 3, 1),
        [
            spec(index(3), range_(0), "RW"),
            spec(keyword("KEYS", -2), range_(-1), "RW", "incomplete"),
        ],
    ),
    entry(
        "sort", -2, ["write", "denyoom", "movablekeys"], (1, 1, 1),
        [
            spec(index(1), range_(0), "RO"),
            spec(UNKNOWN, UNKNOWN, "RO"),
            spec(UNKNOWN, UNKNOWN, "OW"),
        ],
    ),
    entry("spublish", 3, ["pubsub", "fast"], (1, 1, 1), [spec(index(1), range_(0), "not_key")]),
    entry(
        "dbsize", 1, ["readonly", "fast"], (0, 0, 0), [],
        ["request_policy:all_shards", "response_policy:agg_sum"],
    ),
    entry(
        "object", -2, [], (0, 0, 0), [], [],
        [
            entry("object|encoding", 3, ["readonly"], (2, 2, 1), [spec(index(2), range_(0), "RO")]),
            entry("object|help", 2, ["loading", "stale"], (0, 0, 0)),
        ],
    ),
    entry(
        "script", -2, [], (0, 0, 0), [], [],
        [
            entry(
                "script|exists", -3, ["noscript"], (0, 0, 0), [],
                ["request_policy:all_shards", "response_policy:agg_logical_and"],
            )
        ],
    ),
    # A Redis 6 entry: no tips, no key specs, no subcommands.
    ["rename", 3, ["write"], 1, 2, 1, ["@keyspace"]],
    ["zunionstore", -4, ["write", "movablekeys"], 0, 0, 0],
    ["legacy_mget", -2, ["readonly"], 1, -1, 1],
    None,  # COMMAND INFO of an unknown name
]  # fmt: skip


@pytest.fixture(params=SHAPES, ids=SHAPE_IDS)
def table(request: pytest.FixtureRequest) -> CommandTable:
    resp, decoded = request.param
    return parse_command_reply(shaped(COMMAND, resp, decoded))


def test_every_shape_gives_the_same_table() -> None:
    tables = [parse_command_reply(shaped(COMMAND, r, d)) for r, d in SHAPES]
    assert all(t == tables[0] for t in tables)
    assert set(tables[0]) == {
        "get", "mset", "xread", "eval", "migrate", "sort", "spublish", "dbsize", "object",
        "object|encoding", "object|help", "script", "script|exists", "rename", "zunionstore",
        "legacy_mget",
    }  # fmt: skip


def test_flags_and_tips(table: CommandTable) -> None:
    assert table["get"].readonly and not table["get"].write
    assert table["GET"] is table["get"] and "Get" in table and "nosuch" not in table
    assert table["mset"].write and not table["mset"].readonly
    assert table["mset"].request_policy == MULTI_SHARD
    assert table["mset"].response_policy == ALL_SUCCEEDED
    assert table["dbsize"].request_policy == ALL_SHARDS
    assert table["dbsize"].response_policy == AGG_SUM
    assert table["script|exists"].response_policy == AGG_LOGICAL_AND
    assert table["get"].request_policy is None and table["get"].response_policy is None
    assert table["xread"].movable_keys and not table["xread"].needs_getkeys
    assert table["zunionstore"].needs_getkeys  # movable keys and no key specs
    assert table["object"].subcommands == ("object|encoding", "object|help")
    assert table["rename"].key_specs == () and table["rename"].tips == ()


@pytest.mark.parametrize(
    ("args", "keys"),
    [
        (("GET", "k"), ["k"]),
        ((b"get", b"k"), [b"k"]),
        (("MSET", "a", 1, "b", 2, "c", 3), ["a", "b", "c"]),
        (("XREAD", "COUNT", 5, "STREAMS", "s1", "s2", "0", "0"), ["s1", "s2"]),
        (("XREAD", "streams", "s1", "$"), ["s1"]),  # keyword case-insensitive
        (("XREAD", "COUNT", 5), []),  # keyword missing: no keys (the server refuses it)
        (("EVAL", "return 1", 2, "k1", "k2", "a"), ["k1", "k2"]),
        (("EVAL", "return 1", "0"), []),
        (("EVAL", "return 1", "x", "k1"), []),  # not a number
        (("EVAL", "return 1", 5, "k1"), []),  # more keys than arguments
        (("MIGRATE", "h", 1, "k", 0, 10), ["k"]),
        (("MIGRATE", "h", 1, "", 0, 10, "COPY", "KEYS", "a", "b"), ["a", "b"]),
        (("MIGRATE", "h", 1, "k", 0, 10, "KEYS", "a"), []),  # both forms: the server refuses
        (("SORT", "k", "BY", "STORE", "GET", "x", "STORE", "d"), ["k", "d"]),
        (("SORT", "k", "LIMIT", 0, 1, "STORE", "d1", "STORE", "d2"), ["k", "d2"]),
        (("SORT", "k", "STORE"), ["k"]),
        (("SPUBLISH", "channel", "msg"), ["channel"]),  # channels route like keys
        (("OBJECT", "ENCODING", "k"), ["k"]),
        (("object", b"encoding", "k"), ["k"]),
        (("OBJECT", "HELP"), []),
        (("OBJECT", "NOSUCH", "k"), []),  # unknown subcommand: the container (keyless)
        (("DBSIZE",), []),
        (("RENAME", "a", "b"), ["a", "b"]),  # legacy first/last/step
        (("LEGACY_MGET", "a", "b", "c"), ["a", "b", "c"]),
        (("ZUNIONSTORE", "d", 2, "a", "b"), []),  # legacy movable keys: unknown here
        (("NOSUCHCOMMAND", "k"), []),
        (("GET",), []),
    ],
)
def test_keys_of(table: CommandTable, args: tuple[CommandArg, ...], keys: list[CommandArg]) -> None:
    assert keys_of(table, args) == keys


def test_slot_of(table: CommandTable) -> None:
    assert slot_of(table, ("GET", "k")) == key_slot("k")
    assert slot_of(table, ("MSET", "{u}a", 1, "{u}b", 2)) == key_slot("u")
    assert slot_of(table, ("MSET", "k", 1, "k", 2)) == key_slot("k")
    assert slot_of(table, ("DBSIZE",)) is None
    assert slot_of(table, ("NOSUCH", "k")) is None
    assert slot_of(table, ()) is None
    with pytest.raises(CrossSlotError) as caught:
        slot_of(table, ("MSET", "a", 1, "b", 2))
    assert caught.value.message == "CROSSSLOT Keys in request don't hash to the same slot"
    assert caught.value.code == "CROSSSLOT"
    assert isinstance(caught.value, ResponseError)


@pytest.mark.parametrize(
    "reply",
    [
        b"x",
        [[b"get", 2]],
        [[b"get", b"two", [], 1, 1, 1]],
        [[b"get", 2, [], 1, 1, 1, [], [], [[b"odd"]]]],
    ],
)
def test_malformed_command_reply(reply: object) -> None:
    with pytest.raises(ProtocolError):
        parse_command_reply(reply)


# -- response policies ------------------------------------------------------------------------


def test_aggregating_policies() -> None:
    assert merge_replies(AGG_SUM, [1, 2, 3]) == 6
    assert merge_replies(AGG_MIN, [3, 1, 2]) == 1
    assert merge_replies(AGG_MAX, [3, 1, 2]) == 3
    assert merge_replies(AGG_MIN, [[1, 5], [2, 3]]) == [1, 3]  # WAITAOF: element-wise
    assert merge_replies(AGG_LOGICAL_AND, [[1, 0, 1], [1, 1, 0]]) == [1, 0, 0]  # SCRIPT EXISTS
    assert merge_replies(AGG_LOGICAL_OR, [[1, 0, 0], [0, 0, 1]]) == [1, 0, 1]
    assert merge_replies(AGG_LOGICAL_AND, [True, False]) is False
    assert merge_replies(AGG_LOGICAL_OR, [False, True]) is True
    assert merge_replies(AGG_SUM, [b"2", "3"]) == 5
    with pytest.raises(ValueError):
        merge_replies(AGG_SUM, [[1], [1, 2]])
    with pytest.raises(ValueError):
        merge_replies(AGG_SUM, [b"x"])


def test_success_policies_and_errors() -> None:
    error = ResponseError("ERR boom")
    assert merge_replies(ALL_SUCCEEDED, [b"OK", b"OK"]) == b"OK"
    assert merge_replies(ALL_SUCCEEDED, [b"OK", error]) is error
    assert merge_replies(AGG_SUM, [1, error]) is error
    assert merge_replies(ONE_SUCCEEDED, [error, b"OK"]) == b"OK"
    other = ResponseError("ERR other")
    assert merge_replies(ONE_SUCCEEDED, [error, other]) is error
    with pytest.raises(ValueError):
        merge_replies(SPECIAL, [1])
    with pytest.raises(ValueError):
        merge_replies(AGG_SUM, [])


def test_default_merge() -> None:
    assert merge_replies(None, [[b"a"], [b"b", b"c"]]) == [b"a", b"b", b"c"]  # KEYS
    assert merge_replies(None, [{b"a": 1}, {b"b": 2}]) == {b"a": 1, b"b": 2}
    assert merge_replies(None, [1, b"x"]) == [1, b"x"]


# -- split and merge --------------------------------------------------------------------------


def test_split_mget_keeps_the_callers_order() -> None:
    args = ("MGET", "a", "{a}x", "b", "a")
    parts = split_by_slot(args)
    assert parts is not None
    assert [(p.slot, p.args, p.indexes) for p in parts] == [
        (key_slot("a"), ("MGET", "a", "{a}x", "a"), (0, 1, 3)),
        (key_slot("b"), ("MGET", "b"), (2,)),
    ]
    assert merge_split("MGET", parts, [[b"1", b"2", b"1"], [None]]) == [b"1", b"2", None, b"1"]


def test_split_mset_keeps_pairs() -> None:
    parts = split_by_slot((b"mset", "a", 1, "b", 2.5, "{a}c", b"3"))
    assert parts is not None
    assert [p.args for p in parts] == [(b"mset", "a", 1, "{a}c", b"3"), (b"mset", "b", 2.5)]
    assert [p.indexes for p in parts] == [(0, 2), (1,)]
    assert merge_split(b"mset", parts, [b"OK", b"OK"]) == b"OK"


@pytest.mark.parametrize("name", ["DEL", "UNLINK", "EXISTS", "TOUCH"])
def test_split_counting_commands_sum(name: str) -> None:
    parts = split_by_slot((name, "a", "b", "c"))
    assert parts is not None
    assert merge_split(name, parts, [1] * len(parts)) == len(parts)


def test_split_refuses_other_or_malformed_commands() -> None:
    assert split_by_slot(("GET", "a")) is None
    assert split_by_slot(("MSETNX", "a", 1, "b", 2)) is None  # atomic: never split
    assert split_by_slot(("MSET", "a", 1, "b")) is None
    assert split_by_slot(("MGET",)) is None
    with pytest.raises(ValueError):
        merge_split("GET", [], [])


def test_merge_split_returns_the_first_error_and_checks_shapes() -> None:
    parts = split_by_slot(("MGET", "a", "b"))
    assert parts is not None and len(parts) == 2
    error = ResponseError("MOVED 1 h:1")
    assert merge_split("MGET", parts, [[b"1"], error]) is error
    with pytest.raises(ValueError):
        merge_split("MGET", parts, [[b"1"]])
    with pytest.raises(ProtocolError):
        merge_split("MGET", parts, [[b"1", b"2"], [b"3"]])


split_keys = st.lists(
    st.one_of(st.text(alphabet="ab{}xyz", max_size=6), st.binary(max_size=4), st.integers(-5, 50)),
    min_size=1,
    max_size=30,
)


@settings(max_examples=300, deadline=None)
@given(keys=split_keys, name=st.sampled_from(["MGET", "mget", b"MGET"]))
def test_split_merge_round_trip_keeps_order(keys: list[CommandArg], name: CommandArg) -> None:
    parts = split_by_slot((name, *keys))
    assert parts is not None
    # Every part is one slot; the slots are distinct; every key appears once, in order.
    assert len({p.slot for p in parts}) == len(parts)
    for part in parts:
        assert part.args[0] == name
        assert {key_slot(k) for k in part.args[1:]} == {part.slot}
        assert list(part.indexes) == sorted(part.indexes)
        assert list(part.args[1:]) == [keys[i] for i in part.indexes]
    assert sorted(i for p in parts for i in p.indexes) == list(range(len(keys)))
    # A fake server: each key's value is its position; merged back, in the caller's order.
    replies = [[f"value-{i}" for i in part.indexes] for part in parts]
    assert merge_split(name, parts, replies) == [f"value-{i}" for i in range(len(keys))]


@settings(max_examples=200, deadline=None)
@given(keys=split_keys)
def test_split_mset_round_trip(keys: list[CommandArg]) -> None:
    args: list[CommandArg] = ["MSET"]
    for i, key in enumerate(keys):
        args += [key, i]
    parts = split_by_slot(args)
    assert parts is not None
    rebuilt: dict[int, tuple[CommandArg, CommandArg]] = {}
    for part in parts:
        pairs = list(zip(part.args[1::2], part.args[2::2], strict=True))
        assert len(pairs) == len(part.indexes)
        rebuilt.update(zip(part.indexes, pairs, strict=True))
    assert [rebuilt[i] for i in range(len(keys))] == [(k, i) for i, k in enumerate(keys)]
