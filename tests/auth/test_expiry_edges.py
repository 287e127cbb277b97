"""Expiry edge cases of the token refresher: non-finite token times, wall-clock jumps, and the
expiry that travels with the credentials."""

from __future__ import annotations

import math
import secrets
import time
from collections.abc import Callable

import anyio
import anyio.lowlevel
import pytest

from anyredis_auth import AccessToken, Credentials
from anyredis_auth._auth import (
    RetryConfig,
    TokenCredentialsProvider,
    TokenRefreshConfig,
    _refresher,
)
from anyredis_auth._errors import TokenRefreshError
from tests import _secrets as secrets_scan

pytestmark = pytest.mark.anyio

NON_FINITE = [math.nan, math.inf, -math.inf]
NON_FINITE_IDS = ["nan", "inf", "-inf"]
RETRY_EVERY = 0.1  # max_delay: the cadence once a round of attempts is exhausted


def make_config(*, ratio: float = 0.8, refresh_before_expiry: float = 5.0) -> TokenRefreshConfig:
    return TokenRefreshConfig(
        expiration_refresh_ratio=ratio,
        retry_config=RetryConfig(max_attempts=2, initial_delay=0.05, max_delay=RETRY_EVERY),
        refresh_before_expiry=refresh_before_expiry,
        min_refresh_interval=0.05,
        request_timeout=2.0,
        refresh_jitter=0.0,
    )


class ScriptedTokens(TokenCredentialsProvider):
    """Tokens whose times the test decides, on the provider's own (injectable) wall clock.

    ``bad = ("expires_on", math.nan)`` makes every later token carry that value; ``failing``
    makes requests fail. ``oid``: a username, as the Entra provider sets one.
    """

    def __init__(
        self,
        config: TokenRefreshConfig | None = None,
        *,
        lifetime: float | None = 30.0,
        clock: Callable[[], float] = time.time,
        oid: str | None = None,
    ) -> None:
        super().__init__(config or make_config(), clock=clock, random=lambda: 0.5)
        self.now = clock
        self.lifetime = lifetime
        self.oid = oid
        self.bad: tuple[str, float] | None = None
        self.failing = False
        self.calls = 0
        self.tokens: list[str] = []
        self.issued: list[AccessToken] = []

    async def _fetch_token(self) -> AccessToken:
        self.calls += 1
        await anyio.lowlevel.checkpoint()
        if self.failing:
            raise ConnectionError("identity provider unreachable")
        token = secrets_scan.issued(f"tok{self.calls}-{secrets.token_urlsafe(16)}")
        self.tokens.append(token)
        times: dict[str, float | None] = {
            "expires_on": None if self.lifetime is None else self.now() + self.lifetime,
            "refresh_on": None,
        }
        if self.bad is not None:
            field, value = self.bad
            times[field] = value
        access = AccessToken(token, times["expires_on"], times["refresh_on"])
        self.issued.append(access)
        return access

    def _credentials_for(self, token: AccessToken) -> Credentials:
        if self.oid is None:
            return super()._credentials_for(token)
        return Credentials(self.oid, token.token)  # as subclasses write it: no expiry here


async def wait_until(predicate: Callable[[], bool]) -> None:
    with anyio.fail_after(3):
        while not predicate():  # noqa: ASYNC110 - polling the test's own counters
            await anyio.sleep(0.005)


def assert_no_token_in(text: str, provider: ScriptedTokens) -> None:
    for token in provider.tokens:
        assert token not in text


# ----------------------------------------------------------------------------- non-finite times


@pytest.mark.parametrize("value", NON_FINITE, ids=NON_FINITE_IDS)
@pytest.mark.parametrize("field", ["expires_on", "refresh_on"])
async def test_non_finite_time_at_the_first_fetch_is_refused(field: str, value: float) -> None:
    provider = ScriptedTokens()
    provider.bad = (field, value)
    with provider.subscribe() as stream:
        async with anyio.create_task_group() as group:
            await group.start(provider.run)
            with anyio.fail_after(2), pytest.raises(TokenRefreshError) as info:
                await provider.current_credentials()
            message = str(info.value)
            assert field in message and "finite" in message
            assert_no_token_in(message, provider)
            assert_no_token_in(provider.stats.last_error or "", provider)
            assert_no_token_in(repr(provider), provider)
            # The normal retry policy, not a hot loop: one attempt per RETRY_EVERY at most.
            calls = provider.calls
            await anyio.sleep(0.4)
            assert provider.calls - calls <= 0.4 / RETRY_EVERY + 2
            assert provider.running  # the refresher did not crash
            assert provider.stats.refreshes == 0
            with pytest.raises(TokenRefreshError):
                await provider.current_credentials()
            # Recovers as soon as the identity provider sends sane tokens again.
            provider.bad = None
            with anyio.fail_after(2):
                while True:
                    item = await stream.receive()
                    if isinstance(item, Credentials):
                        break
                    assert_no_token_in(str(item), provider)
            assert item.password == provider.tokens[-1]
            assert await provider.current_credentials() == item
            group.cancel_scope.cancel()


@pytest.mark.parametrize("value", NON_FINITE, ids=NON_FINITE_IDS)
@pytest.mark.parametrize("field", ["expires_on", "refresh_on"])
async def test_non_finite_time_at_a_later_refresh_is_refused(field: str, value: float) -> None:
    provider = ScriptedTokens(make_config(ratio=0.2, refresh_before_expiry=0.3), lifetime=0.6)
    async with provider:
        first = await provider.current_credentials()
        provider.bad = (field, value)
        with provider.subscribe() as stream:
            assert await stream.receive() == first
            with anyio.fail_after(2):
                error = await stream.receive()  # the refresh round failed
            assert isinstance(error, TokenRefreshError)
            assert field in str(error) and "finite" in str(error)
            assert_no_token_in(str(error), provider)
            if time.time() < (first.expires_on or 0) - 0.05:
                # A failure never withdraws a token that is still valid.
                assert await provider.current_credentials() == first
            calls = provider.calls
            await anyio.sleep(0.4)
            assert provider.calls - calls <= 0.4 / RETRY_EVERY + 2
            assert provider.running
            # Only error items after the first credentials: nothing with a bad expiry.
            while True:
                try:
                    item = stream.receive_nowait()
                except anyio.WouldBlock:
                    break
                assert isinstance(item, TokenRefreshError)
            assert first.expires_on is not None
            await anyio.sleep(max(first.expires_on - time.time(), 0.0) + 0.05)
        # The valid token has expired: nothing valid is left.
        with anyio.fail_after(1), pytest.raises(TokenRefreshError, match="finite"):
            await provider.current_credentials()
        assert provider.stats.refreshes == 1


async def test_a_client_task_group_survives_non_finite_tokens() -> None:
    """Several runners (clients sharing the provider) and waiters: nothing crashes a group."""
    provider = ScriptedTokens()
    provider.bad = ("expires_on", math.inf)
    outcomes: list[BaseException] = []

    async def waiter() -> None:
        try:
            await provider.current_credentials()
        except TokenRefreshError as exc:
            outcomes.append(exc)

    with anyio.fail_after(3):
        async with anyio.create_task_group() as group:
            for _ in range(3):
                await group.start(provider.run)
            async with anyio.create_task_group() as waiters:
                for _ in range(5):
                    waiters.start_soon(waiter)
            await anyio.sleep(0.3)
            group.cancel_scope.cancel()
    assert len(outcomes) == 5
    assert provider.calls <= 0.5 / RETRY_EVERY + 3


# ----------------------------------------------------------------------------- wall-clock jumps


class JumpingClock:
    """The wall clock a provider reads: real time plus an offset the test advances."""

    def __init__(self) -> None:
        self.offset = 0.0

    def __call__(self) -> float:
        return time.time() + self.offset


async def test_current_credentials_after_a_wall_clock_jump_gets_a_fresh_token_at_once() -> None:
    clock = JumpingClock()
    provider = ScriptedTokens(lifetime=30.0, clock=clock)
    async with provider:
        first = await provider.current_credentials()
        await anyio.sleep(0.05)  # the refresher sleeps (on the monotonic clock) until 24 s
        clock.offset = 45.0  # the wall clock jumps past the token's expiry
        with anyio.fail_after(1.5):
            fresh = await provider.current_credentials()
        assert fresh != first
        assert fresh.password == provider.tokens[1]
        assert fresh.expires_on is not None and fresh.expires_on > clock()
        assert provider.calls == 2


async def test_subscribe_after_a_wall_clock_jump_gets_a_fresh_token_at_once() -> None:
    clock = JumpingClock()
    provider = ScriptedTokens(lifetime=30.0, clock=clock)
    async with provider:
        first = await provider.current_credentials()
        await anyio.sleep(0.05)
        clock.offset = 45.0
        with provider.subscribe() as stream, anyio.fail_after(1.5):
            item = await stream.receive()  # not the expired token: the fresh one
        assert isinstance(item, Credentials) and item != first
        assert item.password == provider.tokens[1]


async def test_many_callers_after_a_jump_share_one_request() -> None:
    clock = JumpingClock()
    provider = ScriptedTokens(lifetime=30.0, clock=clock)
    results: list[Credentials] = []

    async def caller() -> None:
        results.append(await provider.current_credentials())

    async with provider:
        await provider.current_credentials()
        await anyio.sleep(0.05)
        clock.offset = 45.0
        with anyio.fail_after(1.5):
            async with anyio.create_task_group() as group:
                for _ in range(20):
                    group.start_soon(caller)
    assert provider.calls == 2
    assert {c.password for c in results} == {provider.tokens[1]}


async def test_a_jump_during_an_outage_keeps_the_retry_policy() -> None:
    """Callers after a jump do not cut the backoff short: the attempts stay bounded."""
    clock = JumpingClock()
    provider = ScriptedTokens(lifetime=30.0, clock=clock)
    errors: list[TokenRefreshError] = []

    async def caller() -> None:
        try:
            await provider.current_credentials()
        except TokenRefreshError as exc:
            errors.append(exc)

    async with provider:
        await provider.current_credentials()
        await anyio.sleep(0.05)
        provider.failing = True
        clock.offset = 45.0
        with anyio.fail_after(2):
            async with anyio.create_task_group() as group:
                for _ in range(20):
                    group.start_soon(caller)
        assert len(errors) == 20
        calls = provider.calls
        for _ in range(20):
            with pytest.raises(TokenRefreshError):
                await provider.current_credentials()
            await anyio.sleep(0.02)
        assert provider.calls - calls <= 0.4 / RETRY_EVERY + 2


async def test_the_refresher_rechecks_the_wall_clock_while_it_sleeps(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """With no caller at all, a subscriber gets fresh credentials within one sleep bound."""
    monkeypatch.setattr(_refresher, "_MAX_SLEEP", 0.2)  # our own constant, not the time module
    clock = JumpingClock()
    provider = ScriptedTokens(lifetime=30.0, clock=clock)
    async with provider:
        first = await provider.current_credentials()
        with provider.subscribe() as stream:
            assert await stream.receive() == first
            await anyio.sleep(0.05)
            clock.offset = 45.0
            with anyio.fail_after(1.5):
                item = await stream.receive()
        assert isinstance(item, Credentials) and item.password == provider.tokens[1]


def test_the_refresher_sleeps_only_a_few_seconds_at_once() -> None:
    # A wall-clock step is noticed within this bound even with nobody asking for credentials.
    assert 0 < _refresher._MAX_SLEEP <= 5.0


# ----------------------------------------------------------------------------- expiry travels


def test_credentials_expiry_is_not_part_of_equality_or_secrets() -> None:
    secret = secrets_scan.issued("pw-" + secrets.token_urlsafe(16))
    plain = Credentials("alice", secret)
    assert plain.expires_on is None
    dated = Credentials("alice", secret, expires_on=1_700_000_000.5)
    assert dated == plain and hash(dated) == hash(plain)
    assert Credentials("bob", secret, expires_on=1.0) != plain
    assert len({plain, dated}) == 1
    for text in (repr(dated), str(dated), repr(plain)):
        assert secret not in text and "<redacted>" in text
    assert "1700000000.5" in repr(dated)
    assert repr(plain) == "Credentials(username='alice', password=<redacted>)"


@pytest.mark.parametrize("oid", [None, "oid-1234"])
async def test_published_credentials_carry_the_token_expiry(oid: str | None) -> None:
    provider = ScriptedTokens(make_config(ratio=0.2, refresh_before_expiry=0.3), lifetime=0.8)
    provider.oid = oid
    async with provider:
        first = await provider.current_credentials()
        assert first.username == oid
        assert first.expires_on == provider.issued[0].expires_on == provider.stats.expires_at
        with provider.subscribe() as stream:
            replayed = await stream.receive()
            assert isinstance(replayed, Credentials)
            assert replayed.expires_on == provider.issued[0].expires_on
            with anyio.fail_after(2):
                fresh = await stream.receive()  # the next refresh
        assert isinstance(fresh, Credentials)
        assert fresh.password == provider.tokens[1]
        assert fresh.expires_on == provider.issued[1].expires_on
        assert fresh.expires_on is not None and first.expires_on is not None
        assert fresh.expires_on > first.expires_on


async def test_token_without_expiry_gives_credentials_without_expiry() -> None:
    provider = ScriptedTokens(lifetime=None)
    async with provider:
        credentials = await provider.current_credentials()
    assert credentials.expires_on is None


async def test_same_token_with_a_later_expiry_is_published_with_it() -> None:
    """Equal credentials are not re-published, unless their expiry moved: subscribers (and the
    connections that end blocking segments by it) then learn the new expiry."""
    provider = ScriptedTokens(make_config(ratio=0.2, refresh_before_expiry=0.3), lifetime=0.8)
    same = secrets_scan.issued("same-" + secrets.token_urlsafe(16))
    fixed: list[float] = []

    async def same_token() -> AccessToken:
        provider.calls += 1
        await anyio.lowlevel.checkpoint()
        expires = fixed[0] if fixed else time.time() + 0.8
        provider.issued.append(AccessToken(same, expires))
        return provider.issued[-1]

    provider._fetch_token = same_token  # type: ignore[method-assign]
    async with provider:
        first = await provider.current_credentials()
        with provider.subscribe() as stream:
            assert await stream.receive() == first
            with anyio.fail_after(2):
                later = await stream.receive()
            assert isinstance(later, Credentials)
            assert later == first and later.expires_on != first.expires_on
            assert later.expires_on == provider.issued[-1].expires_on
            fixed.append(time.time() + 60.0)  # from now on: the same token, the same expiry
            await wait_until(lambda: provider.calls >= 3)
            with anyio.fail_after(2):
                third = await stream.receive()  # its expiry moved once more
            assert isinstance(third, Credentials) and third.expires_on == fixed[0]
            await anyio.sleep(0.1)  # past min_refresh_interval
            provider.request_refresh()
            await wait_until(lambda: provider.calls >= 4)
            await anyio.sleep(0.05)
            with pytest.raises(anyio.WouldBlock):
                stream.receive_nowait()  # identical token and expiry: not published again
        assert (await provider.current_credentials()).expires_on == fixed[0]
