"""The Redis username from a token: the JWT's oid claim."""

from __future__ import annotations

import base64
import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from anyredis_auth import AuthenticationError
from anyredis_auth._entra import jwt_claims, oid_from_token


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def jwt(claims: object) -> str:
    return f"{b64(b'{}')}.{b64(json.dumps(claims).encode())}.{b64(b'sig')}"


@pytest.mark.parametrize("pad", range(4))
def test_oid_with_every_padding_length(pad: int) -> None:
    claims = {"oid": "1234-abcd", "x": "y" * pad}
    assert oid_from_token(jwt(claims)) == "1234-abcd"
    assert jwt_claims(jwt(claims)) == claims


def test_url_safe_alphabet() -> None:
    claims = {"oid": "o", "n": "\u00ff\u00fe>>>???"}  # encodes to '-' and '_'
    token = jwt(claims)
    assert "-" in token or "_" in token
    assert oid_from_token(token) == "o"


SECRETISH = "eyJhbGciOi-SECRET-PART"


@pytest.mark.parametrize(
    ("token", "message"),
    [
        (SECRETISH, "not a JWT"),
        (f"{SECRETISH}.{SECRETISH}", "not a JWT"),
        (f"a.{SECRETISH}!.c", "not base64url-encoded JSON"),
        (f"a.{b64(b'[1, 2]')}.c", "not a JSON object"),
        (jwt({"sub": SECRETISH}), "no 'oid' claim"),
        (jwt({"oid": ""}), "not a non-empty string"),
        (jwt({"oid": 42}), "not a non-empty string"),
    ],
)
def test_bad_tokens_give_a_clear_error_without_the_token(token: str, message: str) -> None:
    with pytest.raises(AuthenticationError, match=message) as caught:
        oid_from_token(token)
    assert SECRETISH not in str(caught.value)
    assert token not in str(caught.value)


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(),
    lambda children: (
        st.lists(children, max_size=3) | st.dictionaries(st.text(), children, max_size=3)
    ),
    max_leaves=8,
)


@given(
    oid=st.text(min_size=1).filter(lambda text: text.strip() != ""),
    extra=st.dictionaries(st.text().filter(lambda key: key != "oid"), json_values, max_size=5),
)
def test_oid_round_trip(oid: str, extra: dict[str, object]) -> None:
    claims = dict(extra, oid=oid)
    assert oid_from_token(jwt(claims)) == oid
    assert jwt_claims(jwt(claims)) == claims


@given(st.text())
def test_any_text_gives_a_token_free_error_or_an_oid(text: str) -> None:
    token = "\u00a7" + text  # a character none of our messages has
    message = ""
    try:
        oid_from_token(token)
    except AuthenticationError as exc:
        message = str(exc)
    assert token not in message
