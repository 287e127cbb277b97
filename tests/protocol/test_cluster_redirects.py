"""`parse_redirect`: MOVED / ASK / TRYAGAIN / CLUSTERDOWN error replies as typed values."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from anyredis_auth.protocol import ResponseError
from anyredis_auth.protocol._cluster_redirects import (
    ASK,
    CLUSTERDOWN,
    MOVED,
    TRYAGAIN,
    Redirect,
    parse_redirect,
)


@pytest.mark.parametrize(
    ("message", "expected"),
    [
        ("MOVED 3999 127.0.0.1:6381", Redirect(MOVED, 3999, "127.0.0.1", 6381)),
        ("ASK 3999 10.0.0.2:7000", Redirect(ASK, 3999, "10.0.0.2", 7000)),
        (
            "MOVED 0 node-3.cache.example.net:10000",
            Redirect(MOVED, 0, "node-3.cache.example.net", 10000),
        ),
        ("MOVED 16383 :6380", Redirect(MOVED, 16383, None, 6380)),
        ("MOVED 12 2001:db8::1:6380", Redirect(MOVED, 12, "2001:db8::1", 6380)),
        ("ASK 12 [2001:db8::1]:6380", Redirect(ASK, 12, "2001:db8::1", 6380)),
        ("TRYAGAIN Multiple keys request during rehashing of slot", Redirect(TRYAGAIN)),
        ("CLUSTERDOWN The cluster is down", Redirect(CLUSTERDOWN)),
        ("CLUSTERDOWN Hash slot not served", Redirect(CLUSTERDOWN)),
    ],
)
def test_redirects(message: str, expected: Redirect) -> None:
    assert parse_redirect(ResponseError(message)) == expected
    assert parse_redirect(message) == expected
    assert parse_redirect(message.encode()) == expected


@pytest.mark.parametrize(
    "reply",
    [
        ResponseError("ERR unknown command"),
        ResponseError("CROSSSLOT Keys in request don't hash to the same slot"),
        ResponseError("MOVED"),
        ResponseError("MOVED 3999"),
        ResponseError("MOVED x 127.0.0.1:6381"),
        ResponseError("MOVED 16384 127.0.0.1:6381"),
        ResponseError("MOVED 1 127.0.0.1"),
        ResponseError("MOVED 1 127.0.0.1:0"),
        ResponseError("MOVED 1 127.0.0.1:port"),
        ResponseError("MOVEDX 1 h:1"),
        ResponseError(""),
        b"OK",
        None,
        42,
    ],
)
def test_not_redirects(reply: object) -> None:
    assert parse_redirect(reply) is None


def test_target_resolves_an_empty_host() -> None:
    assert Redirect(MOVED, 1, None, 6380).target("10.0.0.5") == ("10.0.0.5", 6380)
    assert Redirect(ASK, 1, "h", 1).target("10.0.0.5") == ("h", 1)
    assert Redirect(MOVED, 1, "h", 1).is_redirect and not Redirect(TRYAGAIN).is_redirect
    with pytest.raises(ValueError):
        Redirect(CLUSTERDOWN).target("x")


hosts = st.one_of(
    st.just(""),
    st.ip_addresses().map(str),
    st.from_regex(r"[a-z][a-z0-9-]{0,20}(\.[a-z0-9-]{1,10}){0,3}", fullmatch=True),
)


@given(
    kind=st.sampled_from([MOVED, ASK]),
    slot=st.integers(0, 16383),
    host=hosts,
    port=st.integers(1, 65535),
)
def test_any_redirect_round_trips(kind: str, slot: int, host: str, port: int) -> None:
    redirect = parse_redirect(ResponseError(f"{kind} {slot} {host}:{port}"))
    assert redirect == Redirect(kind, slot, host or None, port)
