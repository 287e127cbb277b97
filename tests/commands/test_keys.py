"""Keys and generic commands against redis-py (the oracle): direct, pipelined, on a cluster,
drawn."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

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

#: Absolute expiries far in the future: EXPIRETIME and PEXPIRETIME compare exactly.
LATER = 4102444800  # 2100-01-01, in seconds
LATER_DT = datetime(2100, 1, 1, tzinfo=timezone.utc)
#: DUMP of the string "hello" on Redis 7.0 (RDB version 10): not UTF-8 (a byte 0xdf), so a
#: decoding connection must give it back as bytes all the same.
HELLO_DUMP = b"\x00\x05hello\n\x00cr\xdfve4 \n"

CORPUS: list[Call] = [
    # existence, type, deletion
    call("set", "{t}a", "1"),
    call("mset", {"{t}b": "2", "{t}c": "3", "{t}n": 12345}),
    call("rpush", "{t}list", 3, 1, 2),
    call("exists", "{t}a"),
    call("exists", "{t}a", "{t}a", "{t}missing", "{t}list"),
    call("exists"),
    call("touch", "{t}a", "{t}missing", "{t}b"),
    call("type", "{t}a"),
    call("type", "{t}list"),
    call("type", "{t}missing"),
    call("keys", "{t}*").unordered(),
    call("keys", "{t}[ab]").unordered(),
    call("keys", "nothing*"),
    call("randomkey").shape().single_server(),
    # expiry, relative
    call("ttl", "{t}a"),
    call("pttl", "{t}missing"),
    call("expire", "{t}a", 100),
    call("ttl", "{t}a").shape(),
    call("pttl", "{t}a").shape(),
    call("expire", "{t}a", 200, nx=True),
    call("expire", "{t}a", 200, xx=True),
    call("expire", "{t}a", 50, gt=True),
    call("expire", "{t}a", 50, lt=True),
    call("expire", "{t}a", timedelta(seconds=300)),
    call("expire", "{t}missing", 10),
    call("expire", "{t}a", 10, nx=True, xx=True),
    call("expire", "{t}b", 10, xx=True),
    call("pexpire", "{t}b", 100000),
    call("pexpire", "{t}b", 200000, nx=True),
    call("pexpire", "{t}b", 200000, gt=True),
    call("pexpire", "{t}b", timedelta(seconds=150), lt=True),
    call("pexpire", "{t}b", timedelta(seconds=500), xx=True),
    # expiry, absolute
    call("expiretime", "{t}c"),
    call("expiretime", "{t}missing"),
    call("expireat", "{t}c", LATER),
    call("expiretime", "{t}c"),
    call("pexpiretime", "{t}c"),
    call("expireat", "{t}c", LATER_DT, gt=True),
    call("pexpireat", "{t}c", LATER * 1000 + 5000, gt=True),
    call("pexpiretime", "{t}c"),
    call("pexpireat", "{t}c", LATER_DT, lt=True),
    call("pexpiretime", "{t}c"),
    call("expireat", "{t}c", LATER_DT + timedelta(days=1), nx=True),
    call("pexpireat", "{t}missing", LATER * 1000),
    call("pexpiretime", "{t}missing"),
    call("persist", "{t}c"),
    call("persist", "{t}c"),
    call("persist", "{t}missing"),
    call("expiretime", "{t}c"),
    # rename, copy, move
    call("rename", "{t}a", "{t}a2"),
    call("rename", "{t}missing", "{t}x"),
    call("renamenx", "{t}a2", "{t}b"),
    call("renamenx", "{t}a2", "{t}a3"),
    call("get", "{t}a3"),
    call("copy", "{t}b", "{t}b2"),
    call("copy", "{t}b", "{t}b2"),
    call("copy", "{t}c", "{t}b2", replace=True),
    call("get", "{t}b2"),
    call("copy", "{t}missing", "{t}b9"),
    call("copy", "{t}missing", "{t}b9", destination_db=13, replace=True).single_server(),
    call("move", "{t}missing", 13).single_server(),
    # DUMP and RESTORE (the payload's RDB version is the server's: Valkey's differs)
    call("set", "{t}d", "hello"),
    call("dump", "{t}d").single_server(),
    call("dump", "{t}missing"),
    call("restore", "{t}r", 0, HELLO_DUMP),
    call("get", "{t}r"),
    call("restore", "{t}r", 0, HELLO_DUMP),
    call("restore", "{t}r", 0, HELLO_DUMP, replace=True),
    call("restore", "{t}r", 100000, HELLO_DUMP, replace=True),
    call("pttl", "{t}r").shape(),
    call("restore", "{t}r", LATER * 1000, HELLO_DUMP, replace=True, absttl=True),
    call("pexpiretime", "{t}r"),
    call("restore", "{t}r", 0, HELLO_DUMP, replace=True, idletime=10),
    call("restore", "{t}r", 0, HELLO_DUMP, replace=True, frequency=5),
    call("restore", "{t}r2", 0, b"not a dump payload"),
    call("restore", "{t}r3", 0, b"\x00\x05world\n\x00\x00\x00\x00\x00\x00\x00\x00\x00"),
    # OBJECT (encodings are the server's: Valkey's small lists are listpacks)
    call("object", "encoding", "{t}d"),
    call("object", "encoding", "{t}n"),
    call("object", "encoding", "{t}list").single_server(),
    call("object", "encoding", "{t}missing"),
    call("object", "refcount", "{t}d"),
    call("object", "idletime", "{t}d").shape(),
    call("object", "freq", "{t}d"),
    call("object", "nonsense", "{t}d"),
    # SCAN (a cluster sends each SCAN to any primary: single server only)
    call("scan").shape().single_server(),
    call("scan", 0, match="{t}zz*", count=1000).single_server(),
    call("scan", 0, count=1000, _type="list").single_server(),
    call("scan", 0, match="{t}[ab]*", count=1000, _type="string").shape().single_server(),
    # SORT and SORT_RO (Redis 7.0's cluster refuses BY and GET patterns even with the key's
    # hash tag; Valkey's accepts them: single server only)
    call("sort", "{t}list"),
    call("sort", "{t}list", desc=True),
    call("sort", "{t}list", start=1, num=1),
    call("sort", "{t}list", start=1),
    call("rpush", "{t}words", "pear", "apple", "fig"),
    call("sort", "{t}words"),
    call("sort", "{t}words", alpha=True),
    call("sort", "{t}words", alpha=True, desc=True, start=0, num=2),
    call("mset", {"{t}w_1": 30, "{t}w_2": 10, "{t}w_3": 20}),
    call("mset", {"{t}o_1": "one", "{t}o_2": "two", "{t}o_3": "three"}),
    call("sort", "{t}list", by="{t}w_*").single_server(),
    call("sort", "{t}list", by="{t}w_*", get="{t}o_*").single_server(),
    call("sort", "{t}list", by="{t}w_*", get=["{t}o_*", "#"]).single_server(),
    call("sort", "{t}list", get=["#", "{t}o_*", "{t}w_*"], groups=True).single_server(),
    call("sort", "{t}list", get="{t}o_*", groups=True),
    call("sort", "{t}list", store="{t}sorted"),
    call("lrange", "{t}sorted", 0, -1),
    call(
        "sort", "{t}list", by="{t}w_*", get=["{t}o_*"], store="{t}sorted2", desc=True
    ).single_server(),
    call("sort", "{t}missing"),
    call("sort", "{t}missing", get=["#", "{t}o_*"], groups=True).single_server(),
    call("sort", "{t}a3"),
    call("sort_ro", "{t}list"),
    call("sort_ro", "{t}words", alpha=True, desc=True),
    call("sort_ro", "{t}list", by="{t}w_*", get=["{t}o_*", "#"], start=0, num=2).single_server(),
    call("sort_ro", "{t}list", start=0),
    # MIGRATE: none of the keys exists, so the server answers NOKEY without connecting
    call("migrate", "127.0.0.1", 1, "{t}missing", 0, 100),
    call("migrate", "127.0.0.1", 1, ["{t}missing", "{t}missing2"], 0, 100, copy=True),
    call("migrate", "127.0.0.1", 1, [], 0, 100),
    # deletion last
    call("delete", "{t}a3", "{t}missing", "{t}b"),
    call("delete"),
    call("unlink", "{t}b2", "{t}c", "{t}missing"),
    call("unlink", "{t}missing"),
    # iterators (not pipelined: kept at the end)
    call("scan_iter", match="{t}*").iterator().unordered().single_server(),
    call("scan_iter", count=2, _type="string").iterator().unordered(),
    call("scan_iter", match="{t}nothing*").iterator(),
    call("scan_iter").iterator().unordered().single_server(),
    call("scan_iter", match="{t}[abcrdn]*").iterator().unordered(),
]


KEYS = st.sampled_from(["{t}a", "{t}b", "{t}c"])
VALUES = st.one_of(st.text("ab", max_size=4), st.integers(0, 9))
CALLS = st.one_of(
    st.builds(call, st.just("set"), KEYS, VALUES),
    st.builds(call, st.sampled_from(["exists", "touch", "delete", "unlink"]), KEYS, KEYS),
    st.builds(call, st.sampled_from(["type", "persist", "expiretime", "pexpiretime"]), KEYS),
    st.builds(
        lambda name, flags: call("expire", name, 100, **dict.fromkeys(flags, True)),
        KEYS,
        st.sets(st.sampled_from(["nx", "xx", "gt", "lt"]), max_size=2),
    ),
    st.builds(
        lambda name, when, flags: call("pexpireat", name, when, **dict.fromkeys(flags, True)),
        KEYS,
        st.sampled_from([LATER * 1000, LATER * 1000 + 1]),
        st.sets(st.sampled_from(["nx", "xx", "gt", "lt"]), max_size=1),
    ),
    st.builds(call, st.sampled_from(["rename", "renamenx"]), KEYS, KEYS),
    st.builds(lambda a, b, r: call("copy", a, b, replace=r), KEYS, KEYS, st.booleans()),
    st.builds(call, st.just("dump"), KEYS),
    st.builds(call, st.just("keys"), st.sampled_from(["{t}*", "{t}[ab]"])).map(Call.unordered),
)


@pytest.mark.parametrize("protocol", [2, 3])
@settings(
    max_examples=10, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(st.lists(CALLS, min_size=1, max_size=12))
def test_drawn_sequences(command_server: ServerProcess, protocol: int, corpus: list[Call]) -> None:
    check_sequence(command_server, corpus, protocol)
