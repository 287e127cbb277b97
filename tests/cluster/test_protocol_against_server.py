"""The cluster's sans-IO pieces against real cluster-mode servers (Redis and Valkey).

One node started with ``--cluster-enabled yes`` and every slot assigned to itself answers
``CLUSTER KEYSLOT``, ``CLUSTER SHARDS``, ``CLUSTER SLOTS``, ``COMMAND`` and ``COMMAND GETKEYS``:
the server's own answers are the oracle for `key_slot`, the topology parsers and the routing
table. Two nodes that met each other give real ``MOVED`` / ``CROSSSLOT`` / ``CLUSTERDOWN`` errors.
"""

from __future__ import annotations

import contextlib
import socket
import time
from collections.abc import Iterator, Sequence
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from anyredis_auth.protocol import NEED_DATA, Parser, ResponseError, encode_commands
from anyredis_auth.protocol._cluster_commands import (
    CommandTable,
    CrossSlotError,
    keys_of,
    merge_split,
    parse_command_reply,
    slot_of,
    split_by_slot,
)
from anyredis_auth.protocol._cluster_redirects import ASK, CLUSTERDOWN, MOVED, parse_redirect
from anyredis_auth.protocol._cluster_slots import SLOT_COUNT, key_slot
from anyredis_auth.protocol._cluster_topology import (
    PRIMARY,
    parse_cluster_shards,
    parse_cluster_slots,
)
from anyredis_auth.protocol._encoder import CommandArg
from anyredis_auth.testing.servers import ServerProcess, free_port
from tests._servers import KINDS, find_binary
from tests.conftest import _binary_or_skip

SHAPES = [(2, None), (2, "utf-8"), (3, None), (3, "utf-8")]
SHAPE_IDS = ["resp2-bytes", "resp2-str", "resp3-bytes", "resp3-str"]


class Conn:
    """A blocking connection that speaks RESP2 or RESP3, decoding text or not."""

    def __init__(self, server: ServerProcess, protocol: int = 2, encoding: str | None = None):
        self.sock = socket.create_connection((server.host, server.port), timeout=30)
        self.parser = Parser(protocol=protocol, backend="python", encoding=encoding)
        if protocol == 3:
            hello = self.run([("HELLO", 3)])[0]
            assert isinstance(hello, dict)

    def run(self, commands: Sequence[Sequence[CommandArg]]) -> list[object]:
        """Send `commands` in one write; their replies, errors as values."""
        self.sock.sendall(encode_commands(commands))
        replies: list[object] = []
        while len(replies) < len(commands):
            reply = self.parser.next_reply()
            if reply is NEED_DATA:
                chunk = self.sock.recv(1 << 20)
                assert chunk, "server closed the connection"
                self.parser.feed(chunk)
                continue
            replies.append(reply)
        return replies

    def one(self, *args: CommandArg) -> object:
        reply = self.run([args])[0]
        if isinstance(reply, ResponseError):
            raise reply
        return reply

    def close(self) -> None:
        self.sock.close()


def start_cluster_node(kind: str) -> ServerProcess:
    # The cluster bus port is given explicitly: the default (port + 10000) would not exist for
    # a free port above 55535.
    return ServerProcess(
        kind,
        _binary_or_skip(kind),
        extra_args=(
            "--cluster-enabled", "yes",
            "--cluster-port", str(free_port()),
            "--cluster-node-timeout", "5000",
        ),
    ).start()  # fmt: skip


def wait_until(predicate: object, what: str, timeout: float = 60.0) -> None:
    """Poll a state the servers reach by themselves (gossip); a generous bound."""
    assert callable(predicate)
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"not reached within {timeout}s: {what}")
        time.sleep(0.05)


def cluster_ok(server: ServerProcess) -> bool:
    info = server.command("CLUSTER", "INFO")
    assert isinstance(info, bytes)
    return b"cluster_state:ok" in info


@pytest.fixture(scope="module", params=KINDS)
def node(request: pytest.FixtureRequest) -> Iterator[ServerProcess]:
    """A one-node cluster that serves every slot."""
    server = start_cluster_node(str(request.param))
    try:
        assert server.command("CLUSTER", "ADDSLOTSRANGE", 0, SLOT_COUNT - 1) == b"OK"
        wait_until(lambda: cluster_ok(server), "cluster_state:ok")
        yield server
    finally:
        server.close()


@pytest.fixture(scope="module")
def conn(node: ServerProcess) -> Iterator[Conn]:
    c = Conn(node)
    try:
        yield c
    finally:
        c.close()


@pytest.fixture(scope="module")
def table(node: ServerProcess) -> CommandTable:
    c = Conn(node, 3)
    try:
        return parse_command_reply(c.one("COMMAND"))
    finally:
        c.close()


def test_valkey_supports_cluster_mode() -> None:
    """Valkey's bundled binary starts in cluster mode (so every test here runs on both)."""
    if find_binary("valkey") is None:
        pytest.skip("valkey-server is not installed")
    server = start_cluster_node("valkey")
    try:
        info = server.command("INFO", "cluster")
        assert isinstance(info, bytes)
        assert b"cluster_enabled:1" in info
    finally:
        server.close()


# -- slots ------------------------------------------------------------------------------------

tag_text = st.text(alphabet=st.characters(codec="utf-8"), max_size=6)
plain_key = st.one_of(
    st.binary(max_size=40),
    st.text(alphabet=st.characters(codec="utf-8"), max_size=20),
    st.integers(min_value=-(2**63), max_value=2**63 - 1),
    st.floats(allow_nan=False),
)
tagged_key = st.tuples(tag_text, tag_text, tag_text, st.sampled_from(["{}", "{", "}", "}{"])).map(
    lambda p: f"{p[0]}{{{p[1]}}}{p[2]}" if p[3] == "{}" else p[0] + p[3] + p[1] + p[2]
)
binary_tagged_key = st.tuples(
    st.binary(max_size=6), st.binary(max_size=6), st.binary(max_size=6)
).map(lambda p: p[0] + b"{" + p[1] + b"}" + p[2])
any_key = st.one_of(plain_key, tagged_key, binary_tagged_key)


@settings(
    max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(keys=st.lists(any_key, min_size=1, max_size=16))
def test_key_slot_matches_cluster_keyslot(conn: Conn, keys: list[CommandArg]) -> None:
    replies = conn.run([("CLUSTER", "KEYSLOT", key) for key in keys])
    assert [key_slot(key) for key in keys] == replies


def test_key_slot_of_known_keys_matches_server(conn: Conn) -> None:
    keys: list[CommandArg] = [
        "", "foo", "{user1000}.following", "{user1000}.followers", "foo{}{bar}", "foo{{bar}}zap",
        "foo{bar}{zap}", "{}", "}{", b"\xff\x00{\x01}", memoryview(b"abc{x}"), bytearray(b"q"),
        0, -1, 1.5, float("inf"),
    ]  # fmt: skip
    replies = conn.run([("CLUSTER", "KEYSLOT", key) for key in keys])
    assert [key_slot(key) for key in keys] == replies


# -- topology ---------------------------------------------------------------------------------


@pytest.mark.parametrize(("protocol", "encoding"), SHAPES, ids=SHAPE_IDS)
def test_topology_of_a_one_node_cluster_parses(
    node: ServerProcess, protocol: int, encoding: str | None
) -> None:
    c = Conn(node, protocol, encoding)
    try:
        shards_reply, slots_reply, my_id = c.run(
            [("CLUSTER", "SHARDS"), ("CLUSTER", "SLOTS"), ("CLUSTER", "MYID")]
        )
    finally:
        c.close()
    my_id = my_id.decode() if isinstance(my_id, bytes) else my_id
    for slot_map in (
        parse_cluster_shards(shards_reply, node.host),
        parse_cluster_slots(slots_reply, node.host),
    ):
        [only] = slot_map.nodes()
        # A lone node does not know its own IP: the address it was reached on stands in.
        assert only.address == (node.host, node.port)
        assert only.id == my_id
        assert only.role == PRIMARY
        assert only.slots == ((0, SLOT_COUNT - 1),)
        assert slot_map.uncovered_slots() == ()
        for slot in (0, 1234, SLOT_COUNT - 1):
            assert slot_map.primary_for(slot) == only
            assert slot_map.replicas_for(slot) == ()
        assert slot_map.primaries() == (only,)


# -- the command table --------------------------------------------------------------------------


def _text(value: object) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


@pytest.mark.parametrize(("protocol", "encoding"), SHAPES, ids=SHAPE_IDS)
def test_command_table_agrees_with_command(
    node: ServerProcess, protocol: int, encoding: str | None, table: CommandTable
) -> None:
    c = Conn(node, protocol, encoding)
    try:
        raw, names = c.run([("COMMAND",), ("COMMAND", "LIST")])
    finally:
        c.close()
    parsed = parse_command_reply(raw)
    assert isinstance(names, list)
    # Every command and subcommand the server lists, and nothing else.
    assert set(parsed) == {_text(n).lower() for n in names}
    assert parsed == table  # the four reply shapes give the same table

    def walk(entries: list[Any]) -> Iterator[list[Any]]:
        for entry in entries:
            assert isinstance(entry, list)
            yield entry
            if len(entry) > 9 and entry[9]:
                yield from walk(entry[9])

    assert isinstance(raw, list)
    for entry in walk(raw):
        info = parsed[_text(entry[0])]
        flags = {_text(f) for f in entry[2]}
        assert info.arity == entry[1]
        assert info.readonly == ("readonly" in flags)
        assert info.write == ("write" in flags)
        assert (info.first_key, info.last_key, info.step) == tuple(entry[3:6])
        tips = [_text(t) for t in entry[7]]
        assert info.request_policy == next(
            (t.split(":", 1)[1] for t in tips if t.startswith("request_policy:")), None
        )
        assert info.response_policy == next(
            (t.split(":", 1)[1] for t in tips if t.startswith("response_policy:")), None
        )
        assert len(info.key_specs) == len(entry[8])
    # Sample tips that the router relies on.
    assert table["dbsize"].request_policy == "all_shards"
    assert table["dbsize"].response_policy == "agg_sum"
    assert table["mset"].request_policy == "multi_shard"
    assert table["script|exists"].response_policy == "agg_logical_and"
    assert table["get"].readonly and not table["get"].write
    assert table["set"].write and not table["set"].readonly


SAMPLES: list[tuple[CommandArg, ...]] = [
    ("GET", "k1"),
    ("SET", "k1", "v", "EX", 10, "GET"),
    ("MSET", "k1", "v1", "k2", "v2", "k3", "v3"),
    ("MGET", "k1", "k2", "k3"),
    ("DEL", "k1", "k2"),
    ("RENAME", "src", "dst"),
    ("LMOVE", "src", "dst", "LEFT", "RIGHT"),
    ("XREAD", "COUNT", 2, "STREAMS", "s1", "s2", "0", "0"),
    ("XREAD", "BLOCK", 0, "STREAMS", "streams", "$"),
    ("XREADGROUP", "GROUP", "g", "c", "COUNT", 1, "STREAMS", "s1", "s2", ">", ">"),
    ("XINFO", "STREAM", "s1", "FULL"),
    ("XGROUP", "CREATE", "s1", "g", "$", "MKSTREAM"),
    ("EVAL", "return 1", 2, "k1", "k2", "arg1", "arg2"),
    ("EVAL_RO", "return 1", 1, "k1", "arg1"),
    ("EVALSHA", "a" * 40, 3, "k1", "k2", "k3"),
    ("FCALL", "fn", 2, "k1", "k2", "a"),
    ("ZUNIONSTORE", "dst", 2, "z1", "z2", "WEIGHTS", 1, 2),
    ("ZINTERSTORE", "dst", 3, "z1", "z2", "z3", "AGGREGATE", "MAX"),
    ("ZUNION", 2, "z1", "z2", "WITHSCORES"),
    ("ZDIFFSTORE", "dst", 1, "z1"),
    ("SINTERCARD", 2, "s1", "s2", "LIMIT", 5),
    ("LMPOP", 2, "l1", "l2", "LEFT", "COUNT", 2),
    ("BLMPOP", 0, 2, "l1", "l2", "RIGHT"),
    ("BZMPOP", 1, 1, "z1", "MIN"),
    ("MIGRATE", "127.0.0.1", 6379, "k1", 0, 5000),
    ("MIGRATE", "127.0.0.1", 6379, "", 0, 5000, "COPY", "REPLACE", "KEYS", "k1", "k2", "k3"),
    ("MIGRATE", "127.0.0.1", 6379, "", 0, 5000, "AUTH", "pw", "KEYS", "k1"),
    ("OBJECT", "ENCODING", "k1"),
    ("OBJECT", "FREQ", "k1"),
    ("MEMORY", "USAGE", "k1", "SAMPLES", 5),
    ("SORT", "k1", "BY", "w_*", "LIMIT", 0, 10, "GET", "o_*", "STORE", "dst"),
    ("SORT", "k1", "STORE", "d1", "STORE", "d2"),
    ("SORT_RO", "k1", "BY", "nosort"),
    ("BITOP", "AND", "dst", "k1", "k2"),
    ("BITFIELD", "k1", "GET", "u8", 0),
    ("GEORADIUS", "g", 0, 0, 10, "km", "STORE", "dst"),
    ("GEOSEARCHSTORE", "dst", "src", "FROMMEMBER", "m", "BYRADIUS", 1, "km"),
    ("BLPOP", "l1", "l2", 0),
    ("BRPOPLPUSH", "src", "dst", 0),
    ("PFMERGE", "dst", "h1", "h2"),
    ("COPY", "src", "dst", "REPLACE"),
    ("SMOVE", "s1", "s2", "m"),
    ("SUNIONSTORE", "dst", "s1", "s2"),
    ("LCS", "k1", "k2", "LEN"),
    ("GETEX", "k1", "PERSIST"),
    ("HSET", "h", "f", "v", "f2", "v2"),
    ("WATCH", "k1", "k2"),
    ("TOUCH", "k1", "k2", "k3"),
    ("EXISTS", "k1", "k1"),
]


@pytest.mark.parametrize("args", SAMPLES, ids=[" ".join(map(str, a[:2])) for a in SAMPLES])
def test_key_positions_agree_with_command_getkeys(
    conn: Conn, table: CommandTable, args: tuple[CommandArg, ...]
) -> None:
    expected = conn.one("COMMAND", "GETKEYS", *args)
    assert isinstance(expected, list)
    assert [k.encode() if isinstance(k, str) else bytes(k) for k in keys_of(table, args)] == (  # type: ignore[arg-type]
        expected
    )


KEYLESS: list[tuple[CommandArg, ...]] = [
    ("PING",),
    ("DBSIZE",),
    ("CLIENT", "LIST"),
    ("CLUSTER", "INFO"),
    ("SCRIPT", "EXISTS", "a" * 40),
    ("EVAL", "return 1", 0),
    ("KEYS", "*"),
    ("FLUSHALL",),
]


@pytest.mark.parametrize("args", KEYLESS, ids=[" ".join(map(str, a[:2])) for a in KEYLESS])
def test_keyless_commands_have_no_keys_nor_slot(
    conn: Conn, table: CommandTable, args: tuple[CommandArg, ...]
) -> None:
    [server_keys] = conn.run([("COMMAND", "GETKEYS", *args)])
    # The server finds no key either: an error ("no key arguments") or an empty list.
    assert isinstance(server_keys, ResponseError) or server_keys == []
    assert keys_of(table, args) == []
    assert slot_of(table, args) is None


key_names = st.text(alphabet="abcdefghij{}:", min_size=1, max_size=8)


@st.composite
def movable_commands(draw: st.DrawFn) -> tuple[CommandArg, ...]:
    """Commands whose key positions depend on their arguments, with random keys and counts."""
    keys = draw(st.lists(key_names, min_size=1, max_size=6))
    n = len(keys)
    shape = draw(st.sampled_from(["xread", "eval", "zunionstore", "lmpop", "mset", "migrate"]))
    if shape == "xread":
        return ("XREAD", "COUNT", 1, "STREAMS", *keys, *["0"] * n)
    if shape == "eval":
        extra = draw(st.lists(key_names, max_size=3))
        return ("EVAL", "return 1", n, *keys, *extra)
    if shape == "zunionstore":
        return ("ZUNIONSTORE", "dst", n, *keys, "AGGREGATE", "SUM")
    if shape == "lmpop":
        return ("LMPOP", n, *keys, "LEFT")
    if shape == "mset":
        return ("MSET", *[part for key in keys for part in (key, "v")])
    return ("MIGRATE", "127.0.0.1", 1, "", 0, 100, "KEYS", *keys)


@settings(
    max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(args=movable_commands())
def test_movable_key_positions_agree_with_command_getkeys(
    conn: Conn, table: CommandTable, args: tuple[CommandArg, ...]
) -> None:
    expected = conn.one("COMMAND", "GETKEYS", *args)
    assert [str(k).encode() for k in keys_of(table, args)] == expected


# -- cross-slot, split and merge, against the server -------------------------------------------


def test_crossslot_wording_matches_the_server(conn: Conn, table: CommandTable) -> None:
    args: tuple[CommandArg, ...] = ("MSET", "a", "1", "b", "2")  # slots 15495 and 3300
    [server_error] = conn.run([args])
    assert isinstance(server_error, ResponseError)
    with pytest.raises(CrossSlotError) as caught:
        slot_of(table, args)
    assert caught.value.message == server_error.message
    assert slot_of(table, ("MSET", "{t}a", "1", "{t}b", "2")) == key_slot("t")


def test_split_mset_mget_del_round_trip_through_the_server(conn: Conn) -> None:
    keys = [f"split:{i}" for i in range(12)]
    mset = ("MSET", *[part for i, key in enumerate(keys) for part in (key, f"v{i}")])
    parts = split_by_slot(mset)
    assert parts is not None and len(parts) > 1
    assert merge_split("MSET", parts, conn.run([p.args for p in parts])) == b"OK"
    wanted = [*reversed(keys), "split:missing", keys[0]]
    mget = ("MGET", *wanted)
    parts = split_by_slot(mget)
    assert parts is not None
    merged = merge_split("MGET", parts, conn.run([p.args for p in parts]))
    # Even one node holding every slot refuses the unsplit command: splitting is needed.
    assert conn.run([mget]) == [ResponseError(CrossSlotError().message)]
    assert merged == [f"v{keys.index(k)}".encode() if k in keys else None for k in wanted]
    exists = ("EXISTS", *wanted)
    parts = split_by_slot(exists)
    assert parts is not None
    assert merge_split("EXISTS", parts, conn.run([p.args for p in parts])) == 13
    delete = ("DEL", *keys, "split:missing")
    parts = split_by_slot(delete)
    assert parts is not None
    assert merge_split("DEL", parts, conn.run([p.args for p in parts])) == 12


# -- two nodes: real redirects ---------------------------------------------------------------


@pytest.fixture(scope="module", params=KINDS)
def pair(request: pytest.FixtureRequest) -> Iterator[tuple[ServerProcess, ServerProcess]]:
    """Two primaries that met: slots 0-8191 on the first, 8192-16383 on the second."""
    kind = str(request.param)
    first = start_cluster_node(kind)
    second = start_cluster_node(kind)
    try:
        first.command("CLUSTER", "ADDSLOTSRANGE", 0, 8191)
        second.command("CLUSTER", "ADDSLOTSRANGE", 8192, SLOT_COUNT - 1)
        bus_port = second.extra_args[second.extra_args.index("--cluster-port") + 1]
        first.command("CLUSTER", "MEET", second.host, second.port, bus_port)
        wait_until(lambda: cluster_ok(first) and cluster_ok(second), "two nodes see each other")
        yield first, second
    finally:
        first.close()
        second.close()


def test_moved_ask_and_topology_of_two_nodes(pair: tuple[ServerProcess, ServerProcess]) -> None:
    first, second = pair
    key = "moved-key"  # slot 9218 here: served by the second node
    slot = key_slot(key)
    assert slot >= 8192
    c = Conn(first, 3)
    try:
        [error] = c.run([("GET", key)])
        assert isinstance(error, ResponseError)
        redirect = parse_redirect(error)
        assert redirect is not None
        assert (redirect.kind, redirect.slot) == (MOVED, slot)
        assert redirect.target(first.host) == (second.host, second.port)
        # Every node gives the same map, with the address each node announces.
        for raw, parse in (
            (c.one("CLUSTER", "SHARDS"), parse_cluster_shards),
            (c.one("CLUSTER", "SLOTS"), parse_cluster_slots),
        ):
            slot_map = parse(raw, first.host)
            assert {n.address for n in slot_map.primaries()} == {
                (first.host, first.port),
                (second.host, second.port),
            }
            owner = slot_map.primary_for(slot)
            assert owner is not None and owner.address == (second.host, second.port)
            moved = slot_map.with_moved(slot, first.host, first.port)
            assert moved.primary_for(slot) == slot_map.primary_for(0)
        # ASK: the second node migrates the slot to the first; a key it no longer has is asked
        # for on the first.
        ids = []
        for node in (first, second):
            with contextlib.closing(Conn(node, 2, "utf-8")) as conn:
                ids.append(conn.one("CLUSTER", "MYID"))
        second.command("CLUSTER", "SETSLOT", slot, "MIGRATING", str(ids[0]))
        try:
            first.command("CLUSTER", "SETSLOT", slot, "IMPORTING", str(ids[1]))
            with contextlib.closing(Conn(second, 2)) as conn:
                error = conn.run([("GET", key)])[0]
            redirect = parse_redirect(error)
            assert redirect is not None
            assert (redirect.kind, redirect.slot) == (ASK, slot)
            assert redirect.target(second.host) == (first.host, first.port)
        finally:
            second.command("CLUSTER", "SETSLOT", slot, "STABLE")
            first.command("CLUSTER", "SETSLOT", slot, "STABLE")
    finally:
        c.close()


def test_clusterdown_for_an_unserved_slot_is_recognised(node: ServerProcess) -> None:
    key = "unserved"
    slot = key_slot(key)
    c = Conn(node, 2)
    try:
        assert c.one("CLUSTER", "DELSLOTS", slot) == b"OK"
        try:
            [error] = c.run([("GET", key)])
            redirect = parse_redirect(error)
            assert redirect is not None and redirect.kind == CLUSTERDOWN
            slot_map = parse_cluster_shards(c.one("CLUSTER", "SHARDS"), node.host)
            assert slot_map.primary_for(slot) is None
            assert slot_map.uncovered_slots() == ((slot, slot),)
        finally:
            c.one("CLUSTER", "ADDSLOTS", slot)
            wait_until(lambda: cluster_ok(node), "cluster_state:ok again")
    finally:
        c.close()
