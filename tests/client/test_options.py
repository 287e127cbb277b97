"""URL and option parsing: every mistake is named, no password is ever echoed."""

from __future__ import annotations

from datetime import timedelta

import pytest

from anyredis_auth import Client, ConnectionOptions, Credentials
from anyredis_auth._options import options_from_url


def test_full_redis_url() -> None:
    options = options_from_url(
        "redis://alice:p%40ss@cache.example.net:6380/2?protocol=2&client_name=app"
        "&command_timeout=1.5&decode_responses=true"
    )
    assert (options.host, options.port, options.db, options.protocol) == (
        "cache.example.net",
        6380,
        2,
        2,
    )
    assert options.credentials == Credentials("alice", "p@ss")
    assert options.client_name == "app" and options.command_timeout == 1.5
    assert options.decode_responses is True and options.tls is False


def test_rediss_unix_and_defaults() -> None:
    tls = options_from_url("rediss://cache.example.net")
    assert tls.tls and tls.tls_verify and tls.port == 6379 and tls.protocol == 3
    assert tls.build_ssl_context().check_hostname is True
    assert not options_from_url("rediss://h?ssl_cert_reqs=none").tls_verify
    unix = options_from_url("unix:///tmp/redis.sock?db=4")
    assert unix.unix_path == "/tmp/redis.sock" and unix.db == 4
    password_only = options_from_url("redis://:secret@h")
    assert password_only.credentials == Credentials(None, "secret")


def test_keyword_options_win_and_accept_timedelta() -> None:
    options = options_from_url("redis://h/1", db=5, connect_timeout=timedelta(milliseconds=250))
    assert options.db == 5 and options.connect_timeout == 0.25
    assert Client.from_url("redis://h", protocol=2).options.protocol == 2


@pytest.mark.parametrize(
    ("url", "options", "message"),
    [
        ("http://h", {}, "unsupported URL scheme 'http'"),
        ("h:6379", {}, "unsupported URL scheme"),
        ("redis://", {}, "no host name"),
        ("redis://h:notaport", {}, "bad port number"),
        ("redis://h/abc", {}, "database number, got 'abc'"),
        ("redis://h?protocol=4", {}, "'protocol' must be 2 or 3"),
        ("redis://h?frobnicate=1", {}, "unknown query option 'frobnicate'"),
        ("redis://h?db=x", {}, "'db' must be a int, got 'x'"),
        ("redis://h?decode_responses=maybe", {}, "'decode_responses' must be a bool"),
        ("redis://h?password=pw", {}, "user part"),
        ("redis://h", {"bogus": 1}, "unknown option 'bogus'"),
        ("redis://h", {"command_timeout": -1}, "'command_timeout' must be positive"),
        ("redis://h", {"parser": "fast"}, "'parser' must be auto"),
        ("redis://h", {"encoding": "no-such-codec"}, "no-such-codec"),
        ("unix://", {}, "needs the socket path"),
        ("redis://user@h", {}, "no password"),
    ],
)
def test_bad_urls_and_options_name_the_part(
    url: str, options: dict[str, object], message: str
) -> None:
    with pytest.raises((ValueError, LookupError), match=message):
        options_from_url(url, **options)


def test_no_password_in_errors_or_reprs() -> None:
    secret = "s3cr3t-t0ken-value"
    for url in (
        f"redis://user:{secret}@h:99999",
        f"redis://user:{secret}@h/notadb",
        f"redis://user:{secret}@h?nope=1",
        f"ftp://user:{secret}@h",
    ):
        with pytest.raises(ValueError) as caught:
            options_from_url(url)
        assert secret not in str(caught.value)
    options = options_from_url(f"redis://user:{secret}@h")
    client = Client(options)
    for text in (
        repr(options),
        str(options),
        repr(client),
        repr(options.credentials),
        options.address,
    ):
        assert secret not in text
    assert "user" in repr(options.credentials)


def test_connection_options_validate_directly() -> None:
    with pytest.raises(ValueError, match="between 1 and 65535"):
        ConnectionOptions(port=0)
    with pytest.raises(ValueError, match="TLS over a Unix socket"):
        ConnectionOptions(unix_path="/x", tls=True)
