"""Server and connection basics against redis-py (the oracle): direct, pipelined, on a cluster,
drawn; INFO's typed values and SLOWLOG GET's entries on their own."""

from __future__ import annotations

from datetime import datetime

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from anyredis_auth import Client
from tests._servers import ServerProcess
from tests.commands._checks import check_sequence

# The three standard corpus tests, collected here (`corpus` reads this module's CORPUS):
from tests.commands._checks import test_cluster as test_cluster
from tests.commands._checks import test_direct as test_direct
from tests.commands._checks import test_pipelined as test_pipelined
from tests.commands._oracle import OURS_DB, Call, call

pytestmark = pytest.mark.anyio

#: Calls whose answer depends on the server (not on the key's slot) are `single_server`: a
#: cluster routes them to some node, or merges the nodes' answers.
CORPUS: list[Call] = [
    call("ping"),
    call("echo", "hello"),
    call("echo", 12),
    call("set", "{t}k", "value"),
    call("dbsize").single_server(),
    call("time").shape(),
    call("lastsave").shape().single_server(),
    # Every section: its errorstats and commandstats lines come and go between the runs.
    call("info").ignore().single_server(),
    call("info", "server").shape().single_server(),
    call("info", "keyspace").shape().single_server(),
    call("info", "memory", "cpu").shape().single_server(),
    call("info", "commandstats").ignore().single_server(),  # commands differ between the runs
    call("info", "no-such-section").single_server(),
    call("config_get", "maxmemory*").single_server(),
    call("config_get", "maxmemory-policy", "hz").single_server(),
    call("config_get", "no-such-parameter").single_server(),
    call("config_set", "maxmemory-samples", 5).single_server(),  # its default: nothing changes
    call("config_set", "no-such-parameter", 1).single_server(),
    call("config_rewrite").single_server(),  # ERR: the test server has no config file
    call("config_resetstat").single_server(),
    call("memory_usage", "{t}k").shape(),
    call("memory_usage", "{t}k", samples=0).shape(),
    call("memory_usage", "{t}missing"),
    call("memory_stats").shape().single_server(),
    call("memory_purge").single_server(),
    call("memory_malloc_stats").shape().single_server(),
    call("client_id").shape().single_server(),
    call("client_getname").single_server(),
    call("client_info").shape().single_server(),
    call("client_list", _type="pubsub").single_server(),
    call("client_list", client_id=[999_999]).single_server(),
    call("client_getredir").single_server(),
    call("client_unblock", 999_999).single_server(),
    call("client_unblock", 999_999, error=True).single_server(),
    call("client_trackinginfo").single_server(),
    call("slowlog_len").ignore().single_server(),
    call("config_set", "slowlog-log-slower-than", 0).single_server(),
    call("slowlog_reset").single_server(),
    call("get", "{t}k"),
    call("slowlog_get", 1).shape().single_server(),
    call("slowlog_get").ignore().single_server(),
    call("config_set", "slowlog-log-slower-than", 10_000).single_server(),  # the default
    call("slowlog_reset").single_server(),
    call("command_count").single_server(),
    call("command_list").unordered().single_server(),
    call("command_list", pattern="xinfo*").unordered().single_server(),
    call("command_list", category="hyperloglog").unordered().single_server(),
    call("command_getkeys", "MSET", "{t}a", 1, "{t}b", 2).single_server(),
    call("command_getkeys", "PING").single_server(),
    call("command_getkeysandflags", "LMOVE", "{t}a", "{t}b", "LEFT", "RIGHT").single_server(),
    call("lolwut", 5, 1, 1, 1).shape().single_server(),
    call("role").shape().single_server(),
    call("latency_latest").single_server(),
    call("latency_history", "command").single_server(),
    call("latency_reset").single_server(),
    call("module_list").single_server(),
    call("acl_whoami").single_server(),
    call("acl_cat").unordered().single_server(),
    call("acl_cat", "hyperloglog").unordered().single_server(),
    call("flushdb").single_server(),
    call("dbsize").single_server(),
    call("set", "{t}k", "again"),
    call("flushdb", asynchronous=True).single_server(),
    call("get", "{t}k").single_server(),
]


async def test_typed_values(command_server: ServerProcess, protocol: int, decode: bool) -> None:
    """The values the corpus compares by shape: INFO's numbers, lists and dicts, SLOWLOG's bytes,
    MEMORY STATS' text, TIME, LASTSAVE, CLIENT INFO, FLUSHALL."""
    async with Client.from_url(
        command_server.url, db=OURS_DB, protocol=protocol, decode_responses=decode
    ) as client:
        con = await client.get_multiplexed_async_connection()
        await con.set("{t}k", "v", ex=100)
        info = await con.info()
        assert isinstance(info["redis_version"], str)
        assert isinstance(info["uptime_in_seconds"], int)
        assert isinstance(info["used_cpu_sys"], float)
        assert info[f"db{OURS_DB}"]["keys"] >= 1  # "keys=1,expires=1,avg_ttl=..." as a dict
        assert info[f"db{OURS_DB}"]["expires"] >= 1
        seconds, microseconds = await con.time()
        assert seconds > 1_700_000_000
        assert 0 <= microseconds < 1_000_000
        assert isinstance(await con.lastsave(), datetime)
        stats = await con.memory_stats()
        assert isinstance(stats["peak.allocated"], int)
        assert isinstance(stats["fragmentation"], str)  # RESP2's text of a double
        float(stats["fragmentation"])
        assert isinstance(stats[f"db.{OURS_DB}"]["overhead.hashtable.main"], int)
        me = await con.client_info()
        assert me["id"] == await con.client_id()
        assert me["db"] == OURS_DB
        assert any(int(one["id"]) == me["id"] for one in await con.client_list())
        assert await con.ping() is True
        assert await con.config_set("slowlog-log-slower-than", 0) is True
        try:
            await con.slowlog_reset()
            await con.echo("logged \u00e9")
            entries = await con.slowlog_get(1)
        finally:
            assert await con.config_set("slowlog-log-slower-than", 10_000) is True
        assert len(entries) == 1
        entry = entries[0]
        assert entry["command"] == "ECHO logged \u00e9".encode()  # bytes, as redis-py gives them
        assert isinstance(entry["client_address"], bytes)
        assert isinstance(entry["duration"], int)
        assert await con.flushall(asynchronous=True) is True
        assert await con.dbsize() == 0


VALUES = st.one_of(st.text("abc\u00e9", max_size=6), st.integers(-5, 5))
CALLS = st.one_of(
    st.builds(call, st.just("ping")),
    st.builds(call, st.just("echo"), VALUES),
    st.builds(call, st.just("dbsize")),
    st.builds(call, st.just("set"), st.sampled_from(["{t}a", "{t}b"]), VALUES),
    st.builds(lambda k: call("memory_usage", k).shape(), st.sampled_from(["{t}a", "{t}b"])),
    st.builds(lambda p: call("config_get", p), st.sampled_from(["hz", "maxmemory*", "nope"])),
    st.builds(lambda s: call("info", s).shape(), st.sampled_from(["server", "clients", "zzz"])),
    st.builds(call, st.just("flushdb")),
)


@pytest.mark.parametrize("protocol", [2, 3])
@settings(
    max_examples=10, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(st.lists(CALLS, min_size=1, max_size=10))
def test_drawn_sequences(command_server: ServerProcess, protocol: int, corpus: list[Call]) -> None:
    check_sequence(command_server, corpus, protocol)
