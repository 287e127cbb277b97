"""HyperLogLog commands against redis-py (the oracle): direct, pipelined, on a cluster, drawn."""

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

CORPUS: list[Call] = [
    call("pfadd", "{t}h1", "a", "b", "c"),
    call("pfadd", "{t}h1", "a"),
    call("pfadd", "{t}h1"),
    call("pfadd", "{t}fresh"),
    call("pfadd", "{t}h2", "c", "d", 1, 2.5, b"raw"),
    call("pfcount", "{t}h1"),
    call("pfcount", "{t}h1", "{t}h2"),
    call("pfcount", "{t}missing"),
    call("pfmerge", "{t}merged", "{t}h1", "{t}h2"),
    call("pfmerge", "{t}merged"),
    call("pfcount", "{t}merged"),
    call("set", "{t}str", "text"),
    call("pfadd", "{t}str", "a"),
    call("pfcount", "{t}str"),
    call("pfmerge", "{t}merged", "{t}str"),
    call("pfcount"),
]


KEYS = st.sampled_from(["{t}a", "{t}b", "{t}c"])
ELEMENTS = st.lists(st.one_of(st.text("xyz\u00e9", max_size=4), st.integers(0, 50)), max_size=5)
CALLS = st.one_of(
    st.builds(lambda k, items: call("pfadd", k, *items), KEYS, ELEMENTS),
    st.builds(lambda keys: call("pfcount", *keys), st.lists(KEYS, min_size=1, max_size=3)),
    st.builds(lambda dest, keys: call("pfmerge", dest, *keys), KEYS, st.lists(KEYS, max_size=2)),
)


@pytest.mark.parametrize("protocol", [2, 3])
@settings(
    max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(st.lists(CALLS, min_size=1, max_size=12))
def test_drawn_sequences(command_server: ServerProcess, protocol: int, corpus: list[Call]) -> None:
    check_sequence(command_server, corpus, protocol)
