"""The handshake's commands and the check of their replies (`Handshake`), with no socket."""

from __future__ import annotations

import pytest

from anyredis_auth import AuthenticationError, Credentials, RedisError
from anyredis_auth.protocol import ResponseError
from anyredis_auth.protocol._handshake import (
    Handshake,
    auth_command,
    hello_missing,
    is_unknown_command,
    safe_server_message,
)

ADDRESS = "redis://cache.example:6380"
SECRET = "pw-Zq8s3cr3t-token"
ALICE = Credentials("alice", SECRET)
NO_USER = Credentials(None, SECRET)
SETINFO = [
    ["CLIENT", "SETINFO", "LIB-NAME", "anyredis-auth"],
    ["CLIENT", "SETINFO", "LIB-VER", "9.9.9"],
]
HELLO_OK = {b"server": b"redis", b"proto": 3}


def handshake(protocol: int = 3, **changes: object) -> Handshake:
    return Handshake(address=ADDRESS, protocol=protocol, lib_version="9.9.9", **changes)  # type: ignore[arg-type]


# -- commands --------------------------------------------------------------------------------------


def test_resp3_commands_with_everything() -> None:
    commands = handshake(3, client_name="worker-1", db=5).commands(ALICE)
    assert commands == [
        ["HELLO", 3, "AUTH", "alice", SECRET, "SETNAME", "worker-1"],
        ["SELECT", 5],
        *SETINFO,
    ]


def test_resp3_commands_without_username_log_in_as_default() -> None:
    assert handshake(3).commands(NO_USER) == [["HELLO", 3, "AUTH", "default", SECRET], *SETINFO]
    # An empty username is no username either.
    assert handshake(3).commands(Credentials("", SECRET))[0] == [
        "HELLO", 3, "AUTH", "default", SECRET
    ]  # fmt: skip


def test_resp3_commands_without_credentials() -> None:
    assert handshake(3).commands(None) == [["HELLO", 3], *SETINFO]
    assert handshake(3, client_name="app").commands(None)[0] == ["HELLO", 3, "SETNAME", "app"]


def test_resp2_commands_with_everything() -> None:
    commands = handshake(2, client_name="worker-1", db=1).commands(ALICE)
    assert commands == [
        ["AUTH", "alice", SECRET],
        ["CLIENT", "SETNAME", "worker-1"],
        ["SELECT", 1],
        *SETINFO,
    ]


def test_resp2_commands_without_username() -> None:
    assert handshake(2).commands(NO_USER) == [["AUTH", SECRET], *SETINFO]


def test_resp2_commands_without_credentials() -> None:
    assert handshake(2).commands(None) == SETINFO
    assert handshake(2, client_name="n").commands(None) == [["CLIENT", "SETNAME", "n"], *SETINFO]


def test_db_zero_sends_no_select() -> None:
    for protocol in (2, 3):
        assert all(command[0] != "SELECT" for command in handshake(protocol).commands(ALICE))


def test_lib_name_is_sent() -> None:
    commands = handshake(3, lib_name="my-wrapper").commands(None)
    assert ["CLIENT", "SETINFO", "LIB-NAME", "my-wrapper"] in commands


def test_auth_command() -> None:
    assert auth_command(ALICE) == ["AUTH", "alice", SECRET]
    assert auth_command(NO_USER) == ["AUTH", SECRET]


# -- check ----------------------------------------------------------------------------------------


def ok_replies(protocol: int, credentials: Credentials | None, **changes: object) -> list[object]:
    commands = handshake(protocol, **changes).commands(credentials)
    return [HELLO_OK if command[0] == "HELLO" else b"OK" for command in commands]


@pytest.mark.parametrize("protocol", [2, 3])
@pytest.mark.parametrize("credentials", [ALICE, NO_USER, None])
def test_all_ok_passes(protocol: int, credentials: Credentials | None) -> None:
    shake = handshake(protocol, client_name="n", db=2)
    shake.check(credentials, ok_replies(protocol, credentials, client_name="n", db=2))


@pytest.mark.parametrize("protocol", [2, 3])
def test_setinfo_errors_are_ignored(protocol: int) -> None:
    replies = ok_replies(protocol, ALICE, db=3)
    replies[-2] = ResponseError("ERR unknown subcommand 'SETINFO'. Try CLIENT HELP.")
    replies[-1] = ResponseError("ERR unknown subcommand 'SETINFO'. Try CLIENT HELP.")
    handshake(protocol, db=3).check(ALICE, replies)


def raised(shake: Handshake, credentials: Credentials | None, replies: list[object]) -> RedisError:
    with pytest.raises(RedisError) as info:
        shake.check(credentials, replies)
    error = info.value
    # Whatever the server echoed, the secret never reaches the message.
    assert SECRET not in str(error)
    assert SECRET not in repr(error)
    assert all(SECRET not in str(arg) for arg in error.args)
    return error


@pytest.mark.parametrize(
    "text",
    [
        "WRONGPASS invalid username-password pair or user is disabled.",
        "NOPERM User alice has no permissions to run the 'hello' command",
        "INVALIDPASSWORD the password is wrong",
    ],
)
def test_resp3_refused_credentials_raise_authentication_error(text: str) -> None:
    replies = ok_replies(3, ALICE)
    replies[0] = ResponseError(text)
    error = raised(handshake(3), ALICE, replies)
    assert type(error) is AuthenticationError
    assert ADDRESS in str(error)
    assert "'alice'" in str(error)
    assert text in str(error)


def test_resp3_refused_without_username_names_default() -> None:
    replies = ok_replies(3, NO_USER)
    replies[0] = ResponseError("WRONGPASS invalid username-password pair or user is disabled.")
    error = raised(handshake(3), NO_USER, replies)
    assert type(error) is AuthenticationError
    assert "'default'" in str(error)


@pytest.mark.parametrize(
    "text",
    [
        "WRONGPASS invalid username-password pair or user is disabled.",
        # Any error to a plain AUTH is a refusal, whatever its code.
        "ERR AUTH <password> called without any password configured for the default user.",
        "ERR wrong number of arguments for 'auth' command",
    ],
)
@pytest.mark.parametrize("credentials", [ALICE, NO_USER])
def test_resp2_refused_auth_raises_authentication_error(
    text: str, credentials: Credentials
) -> None:
    replies = ok_replies(2, credentials, client_name="n")
    replies[0] = ResponseError(text)
    error = raised(handshake(2, client_name="n"), credentials, replies)
    assert type(error) is AuthenticationError


def test_noauth_later_in_the_handshake_is_an_authentication_error() -> None:
    # No credentials, and the server wants some: SELECT is refused with NOAUTH.
    replies = ok_replies(2, None, db=4)
    replies[0] = ResponseError("NOAUTH Authentication required.")
    error = raised(handshake(2, db=4), None, replies)
    assert type(error) is AuthenticationError
    assert "'default'" in str(error)


@pytest.mark.parametrize(
    "text",
    [
        f"ERR unknown command 'HELLO', with args beginning with: '3' 'AUTH' 'alice' '{SECRET}' ",
        f"ERR unknown command `HELLO`, with args beginning with: `3`, `AUTH`, `{SECRET}`, ",
        "ERR unknown command 'HELLO'",
        # Redis 7.2+ and Valkey refuse any unknown command with NOAUTH before a login.
        "NOAUTH Authentication required.",
    ],
)
def test_resp3_server_without_hello_raises_redis_error(text: str) -> None:
    replies = ok_replies(3, ALICE)
    replies[0] = ResponseError(text)
    error = raised(handshake(3), ALICE, replies)
    assert type(error) is RedisError
    assert "protocol=2" in str(error)
    assert "HELLO" in str(error)


def test_resp3_noauth_without_credentials_is_an_authentication_error() -> None:
    # No credentials were sent, so NOAUTH means "log in first", not "no HELLO here".
    replies = ok_replies(3, None)
    replies[0] = ResponseError("NOAUTH HELLO must be called with the client already authenticated")
    error = raised(handshake(3), None, replies)
    assert type(error) is AuthenticationError
    assert "'default'" in str(error)


def test_hello_missing() -> None:
    unknown = ResponseError("ERR unknown command 'HELLO', with args beginning with: '3' ")
    noauth = ResponseError("NOAUTH Authentication required.")
    assert hello_missing(unknown, None)
    assert hello_missing(unknown, ALICE)
    assert hello_missing(noauth, ALICE)
    assert not hello_missing(noauth, None)
    assert not hello_missing(ResponseError("WRONGPASS invalid username-password pair"), ALICE)
    assert not hello_missing(HELLO_OK, ALICE)


def test_unknown_command_later_than_hello_is_a_response_error() -> None:
    replies = ok_replies(3, None, db=2)
    replies[1] = ResponseError("ERR unknown command 'SELECT', with args beginning with: '2' ")
    error = raised(handshake(3, db=2), None, replies)
    assert type(error) is ResponseError


@pytest.mark.parametrize("protocol", [2, 3])
def test_busy_on_select_raises_response_error(protocol: int) -> None:
    replies = ok_replies(protocol, ALICE, db=7)
    busy = "BUSY Redis is busy running a script. You can only call SCRIPT KILL or SHUTDOWN NOSAVE."
    replies[-3] = ResponseError(busy)
    error = raised(handshake(protocol, db=7), ALICE, replies)
    assert type(error) is ResponseError
    assert busy in str(error)
    assert ADDRESS in str(error)


def test_resp2_setname_error_raises_response_error() -> None:
    replies = ok_replies(2, ALICE, client_name="bad name")
    replies[1] = ResponseError("ERR Client names cannot contain spaces, newlines or special chars.")
    error = raised(handshake(2, client_name="bad name"), ALICE, replies)
    assert type(error) is ResponseError


def test_resp2_setname_error_without_credentials_is_not_a_refusal() -> None:
    replies = ok_replies(2, None, client_name="bad name")
    replies[0] = ResponseError("ERR Client names cannot contain spaces, newlines or special chars.")
    error = raised(handshake(2, client_name="bad name"), None, replies)
    assert type(error) is ResponseError


def test_first_error_wins() -> None:
    replies = ok_replies(2, ALICE, db=1)
    replies[0] = ResponseError("WRONGPASS invalid username-password pair or user is disabled.")
    replies[1] = ResponseError("BUSY Redis is busy running a script.")
    assert type(raised(handshake(2, db=1), ALICE, replies)) is AuthenticationError


@pytest.mark.parametrize("protocol", [2, 3])
def test_echoing_errors_never_carry_the_secret(protocol: int) -> None:
    # Every setup reply replaced by an error that echoes the arguments back.
    shake = handshake(protocol, client_name="n", db=1)
    commands = shake.commands(ALICE)
    for index in range(len(commands) - 2):
        name, *rest = (str(word) for word in commands[index])  # the commands hold str and int
        args = " ".join(f"'{arg}'" for arg in rest)
        replies = ok_replies(protocol, ALICE, client_name="n", db=1)
        replies[index] = ResponseError(
            f"ERR unknown command '{name}', with args beginning with: {args} "
        )
        raised(shake, ALICE, replies)


# -- helpers --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "safe"),
    [
        (
            f"ERR unknown command 'HELLO', with args beginning with: '3' 'AUTH' 'u' '{SECRET}' ",
            "ERR unknown command 'HELLO'",
        ),
        (
            f"ERR unknown command `HELLO`, with args beginning with: `3`, `AUTH`, `{SECRET}`, ",
            "ERR unknown command `HELLO`",
        ),
        (
            f"ERR unknown command 'AUTH' with args beginning with: '{SECRET}'",
            "ERR unknown command 'AUTH'",
        ),
        ("WRONGPASS invalid username-password pair", "WRONGPASS invalid username-password pair"),
        ("", ""),
    ],
)
def test_safe_server_message(text: str, safe: str) -> None:
    assert safe_server_message(ResponseError(text)) == safe


def test_is_unknown_command() -> None:
    assert is_unknown_command(ResponseError("ERR unknown command 'HELLO'"))
    assert is_unknown_command(ResponseError("ERR Unknown Command 'HELLO', with args ..."))
    assert not is_unknown_command(ResponseError("ERR unknown subcommand 'SETINFO'"))
    assert not is_unknown_command(ResponseError("WRONGPASS invalid username-password pair"))
    assert not is_unknown_command("ERR unknown command 'HELLO'")  # a string is not an error reply
    assert not is_unknown_command(None)
