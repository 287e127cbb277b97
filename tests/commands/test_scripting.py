"""Scripting (EVAL, EVALSHA, SCRIPT *, functions, FCALL) against redis-py (the oracle): direct,
pipelined, on a cluster, drawn; `register_script` and FUNCTION DUMP / RESTORE on their own."""

from __future__ import annotations

import hashlib

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from anyredis_auth import Client, ResponseError
from tests._servers import ServerProcess
from tests.commands._checks import check_sequence

# The three standard corpus tests, collected here (`corpus` reads this module's CORPUS):
from tests.commands._checks import test_cluster as test_cluster
from tests.commands._checks import test_direct as test_direct
from tests.commands._checks import test_pipelined as test_pipelined
from tests.commands._oracle import OURS_DB, Call, call

pytestmark = pytest.mark.anyio

ECHO_KEYS_ARGS = "return {KEYS, ARGV}"
SET_SCRIPT = "return redis.call('SET', KEYS[1], ARGV[1])"
GET_SCRIPT = "return redis.call('GET', KEYS[1])"
LOADED = "return 'loaded'"
LOADED_SHA = hashlib.sha1(LOADED.encode()).hexdigest()
MISSING_SHA = "0" * 40
LIBRARY = """#!lua name=typedlib
redis.register_function('typed_set', function(keys, args)
  return redis.call('SET', keys[1], args[1])
end)
redis.register_function{
  function_name='typed_get',
  callback=function(keys, args) return redis.call('GET', keys[1]) end,
  flags={'no-writes'},
  description='reads one key'
}
"""

CORPUS: list[Call] = [
    call("script_flush"),
    call("eval", "return 1", 0),
    call("eval", "return 3.9", 0),  # a Lua number is an integer reply
    call("eval", "return nil", 0),
    call("eval", "return {1, 'two', {3}}", 0),
    call("eval", ECHO_KEYS_ARGS, 2, "{t}a", "{t}b", "x", 1),
    call("eval", SET_SCRIPT, 1, "{t}k", "v"),
    call("eval", GET_SCRIPT, 1, "{t}k"),
    call("eval", "return redis.status_reply('FINE')", 0),
    call("eval", "return redis.error_reply('MYERR boom')", 0),
    call("eval", "return redis.call('INCR', KEYS[1])", 1, "{t}k"),  # ERR not an integer
    call("eval", "syntax error here", 0),
    call("eval_ro", GET_SCRIPT, 1, "{t}k"),
    call("eval_ro", SET_SCRIPT, 1, "{t}k", "w"),  # a write in a read-only script
    call("script_load", LOADED),
    call("script_exists", LOADED_SHA, MISSING_SHA),
    call("evalsha", LOADED_SHA, 0),
    call("evalsha", LOADED_SHA.upper(), 0),
    call("evalsha_ro", LOADED_SHA, 0),
    call("evalsha", MISSING_SHA, 0),
    call("evalsha_ro", MISSING_SHA, 1, "{t}k"),
    call("script_kill"),  # NOTBUSY
    call("script_flush", "ASYNC"),
    call("script_exists", LOADED_SHA),
    call("script_flush", "SYNC"),
    call("function_flush"),
    call("function_list"),
    call("function_load", LIBRARY),
    call("function_load", LIBRARY),  # exists already
    call("function_load", LIBRARY, replace=True),
    call("function_load", "not a library"),
    call("fcall", "typed_set", 1, "{t}f", "fv"),
    call("fcall", "typed_get", 1, "{t}f"),
    call("fcall_ro", "typed_get", 1, "{t}f"),
    call("fcall_ro", "typed_set", 1, "{t}f", "no"),  # a write in a read-only call
    call("fcall", "no_such_function", 0),
    # A library's functions come in the order of the server's dict: each server has its own.
    call("function_list").single_server(),
    call("function_list", "typed*").single_server(),
    call("function_list", library="nothing*"),
    call("function_list", withcode=True).single_server(),
    # A cluster cannot merge FUNCTION STATS (response policy "special"): ask one node.
    call("function_stats").single_server(),
    call("function_dump").single_server(),  # the payload carries the server's RDB version
    call("function_kill"),  # NOTBUSY
    call("function_delete", "typedlib"),
    call("function_delete", "typedlib"),  # gone
    call("function_flush", "ASYNC"),
    call("function_stats").single_server(),
]


async def test_register_script_and_function_restore(
    command_server: ServerProcess, protocol: int, decode: bool
) -> None:
    """A registered script: EVALSHA, EVAL once after NOSCRIPT, on another connection with
    `client=`; FUNCTION DUMP / RESTORE round trip (bytes, even with decode_responses)."""
    async with Client.from_url(
        command_server.url, db=OURS_DB, protocol=protocol, decode_responses=decode
    ) as client:
        con = await client.get_multiplexed_async_connection()
        other = await client.get_multiplexed_async_connection()
        await con.flushdb()
        await con.script_flush()
        body = "return redis.call('INCRBY', KEYS[1], ARGV[1])"
        incr = con.register_script(body)
        assert incr.script == body  # kept as given, as redis-py keeps it
        assert incr.sha == hashlib.sha1(body.encode()).hexdigest()
        assert await incr(keys=["{t}n"], args=[10]) == 10  # NOSCRIPT, then EVAL
        assert await con.script_exists(incr.sha) == [True]
        assert await incr(["{t}n"], [5]) == 15  # EVALSHA
        assert await incr(["{t}n"], [1], client=other) == 16
        pipe = con.pipeline()
        assert await incr(["{t}n"], [4], client=pipe) is pipe  # queued, as in redis-py
        assert await pipe.get("{t}n").execute() == [20, "20" if decode else b"20"]
        echo = con.register_script(ECHO_KEYS_ARGS)
        expect = [["{t}a"], ["v"]] if decode else [[b"{t}a"], [b"v"]]
        assert await echo("{t}a", "v") == expect  # one str key and argument, not characters
        with pytest.raises(ResponseError) as failed:
            await con.register_script("return redis.error_reply('MINE no')")()
        assert failed.value.code == "MINE"

        await con.function_flush()
        assert await con.function_load(LIBRARY) == ("typedlib" if decode else b"typedlib")
        payload = await con.function_dump()
        assert isinstance(payload, bytes)
        assert await con.function_flush() is True
        assert await con.function_list() == []
        assert await con.function_restore(payload) is True
        with pytest.raises(ResponseError):  # APPEND refuses an existing library
            await con.function_restore(payload)
        assert await con.function_restore(payload, "REPLACE") is True
        assert await con.fcall("typed_set", 1, "{t}f", "x") in (b"OK", "OK")
        assert await con.function_flush() is True
        await con.flushdb()


KEYS = st.sampled_from(["{t}a", "{t}b"])
VALUES = st.one_of(st.text("abc\u00e9", max_size=6), st.integers(-5, 5))
SCRIPTS = st.sampled_from(
    [
        SET_SCRIPT,
        GET_SCRIPT,
        "return redis.call('INCRBY', KEYS[1], ARGV[1])",
        "return redis.call('APPEND', KEYS[1], ARGV[1])",
        "return {KEYS[1], ARGV[1], tonumber(ARGV[1])}",
    ]
)
CALLS = st.one_of(
    st.builds(lambda s, k, v: call("eval", s, 1, k, v), SCRIPTS, KEYS, VALUES),
    st.builds(lambda k: call("eval_ro", GET_SCRIPT, 1, k), KEYS),
    st.builds(
        lambda s, k, v: call("evalsha", hashlib.sha1(s.encode()).hexdigest(), 1, k, v),
        SCRIPTS,
        KEYS,
        VALUES,
    ),
    st.builds(call, st.just("script_load"), SCRIPTS),
    st.builds(
        lambda s: call("script_exists", hashlib.sha1(s.encode()).hexdigest(), MISSING_SHA),
        SCRIPTS,
    ),
)


@pytest.mark.parametrize("protocol", [2, 3])
@settings(
    max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(st.lists(CALLS, min_size=1, max_size=10))
def test_drawn_sequences(command_server: ServerProcess, protocol: int, corpus: list[Call]) -> None:
    # The script cache is the server's, shared by the oracle and ours: start both from empty.
    check_sequence(command_server, [call("script_flush"), *corpus], protocol)
