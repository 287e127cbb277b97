"""The token refresher loop, with a fake identity provider and short real delays."""

from __future__ import annotations

import logging
import secrets
import time
from collections.abc import Callable

import anyio
import anyio.abc
import pytest

from anyredis_auth._auth import (
    AccessToken,
    RetryConfig,
    StreamingCredentialsProvider,
    TokenCredentialsProvider,
    TokenRefreshConfig,
)
from anyredis_auth._credentials import Credentials
from anyredis_auth._errors import TokenRefreshError

pytestmark = pytest.mark.anyio


def make_config(
    *,
    ratio: float = 0.1,
    max_attempts: int = 2,
    max_delay: float = 0.05,
    request_timeout: float = 5.0,
    keep_retrying: bool = True,
) -> TokenRefreshConfig:
    """Tokens of a few seconds refreshed after a tenth of their lifetime; retries in ms."""
    return TokenRefreshConfig(
        expiration_refresh_ratio=ratio,
        retry_config=RetryConfig(
            max_attempts=max_attempts, initial_delay=0.01, max_delay=max_delay
        ),
        refresh_before_expiry=0.3,
        min_refresh_interval=0.05,
        request_timeout=request_timeout,
        keep_retrying=keep_retrying,
        refresh_jitter=0.0,
    )


class FakeIdentityProvider(TokenCredentialsProvider):
    """Issues ``tok<n>-<random>`` tokens; fails, hangs or misbehaves on demand."""

    def __init__(
        self,
        config: TokenRefreshConfig | None = None,
        *,
        lifetime: float = 1.0,
        fetch_delay: float = 0.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        super().__init__(config or make_config(), clock=clock, random=lambda: 0.5)
        self.lifetime: float | None = lifetime
        self.fetch_delay = fetch_delay
        self.failing = False
        self.hang = False
        self.expired = False
        self.same_token: str | None = None
        self.calls = 0
        self.in_flight = 0
        self.max_in_flight = 0
        self.tokens: list[str] = []
        self.fetch_tasks: list[int] = []  # which runner task made each request

    async def _fetch_token(self) -> AccessToken:
        self.calls += 1
        self.fetch_tasks.append(anyio.get_current_task().id)
        self.in_flight += 1
        self.max_in_flight = max(self.max_in_flight, self.in_flight)
        try:
            if self.fetch_delay:
                await anyio.sleep(self.fetch_delay)
            if self.hang:
                await anyio.sleep_forever()
            if self.failing:
                # A careless identity provider that echoes the token it was asked to refresh.
                last = self.tokens[-1] if self.tokens else "nothing"
                raise ConnectionError(f"identity provider unavailable (refreshing {last})")
            token = self.same_token or f"tok{len(self.tokens) + 1}-{secrets.token_urlsafe(16)}"
            self.tokens.append(token)
            now = time.time()
            if self.expired:
                return AccessToken(token, now - 1.0)
            expires = None if self.lifetime is None else now + self.lifetime
            return AccessToken(token, expires)
        finally:
            self.in_flight -= 1


async def wait_until(predicate: Callable[[], bool]) -> None:
    """Poll a condition of the fake (at most 3 s)."""
    with anyio.fail_after(3):
        while not predicate():  # noqa: ASYNC110 - polling the test's own counters
            await anyio.sleep(0.005)


async def next_credentials(
    stream: anyio.abc.ObjectReceiveStream[Credentials | TokenRefreshError],
) -> Credentials:
    """The next credentials item, skipping error items."""
    with anyio.fail_after(3):
        while True:
            item = await stream.receive()
            if isinstance(item, Credentials):
                return item


# ----------------------------------------------------------------------------- basics


async def test_is_a_streaming_credentials_provider() -> None:
    assert isinstance(FakeIdentityProvider(), StreamingCredentialsProvider)


async def test_started_at_once_and_current_credentials_waits_for_the_first_token() -> None:
    provider = FakeIdentityProvider(fetch_delay=0.1)
    async with anyio.create_task_group() as group:
        with anyio.fail_after(0.05):
            await group.start(provider.run)  # does not wait for the token
        assert provider.running
        assert provider.stats.refreshes == 0
        with anyio.fail_after(2):
            credentials = await provider.current_credentials()
        assert credentials == Credentials(None, provider.tokens[0])
        assert provider.stats.refreshes == 1
        assert provider.stats.expires_at is not None
        assert provider.stats.last_refresh_at is not None
        group.cancel_scope.cancel()
    assert not provider.running


async def test_subscriber_sees_current_then_each_refresh_before_expiry() -> None:
    provider = FakeIdentityProvider(make_config(ratio=0.3), lifetime=1.0)
    async with provider:
        first = await provider.current_credentials()
        with provider.subscribe() as stream:
            assert await stream.receive() == first
            previous = first
            previous_expiry = provider.stats.expires_at
            for _ in range(3):
                fresh = await next_credentials(stream)
                assert previous_expiry is not None
                assert time.time() < previous_expiry  # the new token came in time
                assert fresh != previous
                assert fresh.password == provider.tokens[-1]
                previous, previous_expiry = fresh, provider.stats.expires_at
    assert provider.stats.refreshes >= 4
    assert provider.max_in_flight == 1


async def test_credentials_for_is_used_and_its_failures_count() -> None:
    class OidProvider(FakeIdentityProvider):
        bad = True

        def _credentials_for(self, token: AccessToken) -> Credentials:
            if self.bad:
                self.bad = False
                raise ValueError("token has no oid claim")
            return Credentials("oid-1234", token.token)

    provider = OidProvider(make_config(max_attempts=3))
    async with provider:
        credentials = await provider.current_credentials()
    assert credentials.username == "oid-1234"
    assert provider.stats.failures == 1
    assert provider.stats.last_error == "ValueError: token has no oid claim"


async def test_identical_token_is_not_published_twice() -> None:
    provider = FakeIdentityProvider(lifetime=1.0)
    provider.same_token = "cached-" + secrets.token_urlsafe(8)
    async with provider:
        with provider.subscribe() as stream:
            await wait_until(lambda: provider.stats.refreshes >= 3)
            items = []
            while True:
                try:
                    items.append(stream.receive_nowait())
                except anyio.WouldBlock:
                    break
    assert items == [Credentials(None, provider.same_token)]


async def test_token_without_expiry_refreshes_only_on_request() -> None:
    provider = FakeIdentityProvider()
    provider.lifetime = None
    async with provider:
        await provider.current_credentials()
        await anyio.sleep(0.2)
        assert provider.calls == 1
        assert provider.stats.next_refresh_at is None
        provider.request_refresh()
        await wait_until(lambda: provider.calls == 2)
        assert (await provider.current_credentials()).password == provider.tokens[1]


async def test_expired_token_is_never_published() -> None:
    provider = FakeIdentityProvider(make_config(max_attempts=2))
    provider.expired = True
    with provider.subscribe() as stream:
        async with provider:
            with anyio.fail_after(2), pytest.raises(TokenRefreshError, match="expired"):
                await provider.current_credentials()
            item = await stream.receive()
            assert isinstance(item, TokenRefreshError)
            assert provider.stats.refreshes == 0
            provider.expired = False
            assert isinstance(await stream.receive(), Credentials)


async def test_start_arms_the_retry_policy_and_returns_at_once() -> None:
    provider = FakeIdentityProvider()
    assert provider.start(RetryConfig(max_attempts=7)) is None  # type: ignore[func-returns-value]
    assert provider.refresh_config.retry_config.max_attempts == 7
    assert provider.refresh_config.refresh_before_expiry == 0.3  # the rest is kept
    assert not provider.running  # no task was started
    with pytest.raises(TypeError):
        provider.start({"max_attempts": 2})  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        FakeIdentityProvider(RetryConfig())  # type: ignore[arg-type]


# ----------------------------------------------------------------------------- failures


async def test_exhausted_publishes_error_keeps_retrying_and_recovers(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG, logger="anyredis_auth.auth")
    provider = FakeIdentityProvider(make_config(max_attempts=2, max_delay=0.05), lifetime=3.0)
    async with provider:
        first = await provider.current_credentials()
        with provider.subscribe() as one, provider.subscribe() as two:
            assert await one.receive() == first
            assert await two.receive() == first
            provider.failing = True
            for stream in (one, two):
                with anyio.fail_after(2):
                    error = await stream.receive()
                assert isinstance(error, TokenRefreshError)
                assert "after 2 attempt(s)" in str(error)
                assert "ConnectionError" in str(error)
            # The old token is still valid: it is still what new connections get.
            assert await provider.current_credentials() == first
            assert provider.stats.consecutive_failures >= 2
            assert (provider.stats.last_error or "").startswith("ConnectionError")
            # Keeps retrying at max_delay intervals, publishing each failure.
            calls = provider.calls
            await wait_until(lambda: provider.calls >= calls + 3)
            provider.failing = False
            recovered = await next_credentials(one)
            assert recovered != first
            assert await next_credentials(two) == recovered
        assert await provider.current_credentials() == recovered
        assert provider.stats.consecutive_failures == 0
        assert provider.stats.failures >= 5
    messages = [record.getMessage() for record in caplog.records]
    assert any("token refreshed" in m and "expires at" in m for m in messages)
    assert any("attempt 1/2" in m and "retry 1/1" in m for m in messages)
    assert any("exhausted after 2 attempt(s)" in m for m in messages)
    assert any("recovered" in m for m in messages)


async def test_first_token_failing_raises_from_current_credentials() -> None:
    provider = FakeIdentityProvider(make_config(max_attempts=3))
    provider.failing = True
    async with provider:
        with anyio.fail_after(2), pytest.raises(TokenRefreshError, match="after 3 attempt"):
            await provider.current_credentials()
        assert provider.calls == 3
        provider.failing = False
        await wait_until(lambda: provider.stats.refreshes == 1)
        assert (await provider.current_credentials()).password == provider.tokens[0]


async def test_keep_retrying_false_stops_for_good() -> None:
    provider = FakeIdentityProvider(make_config(max_attempts=3, keep_retrying=False))
    provider.failing = True
    with anyio.fail_after(2):
        await provider.run()  # returns once it gave up
    assert provider.stopped
    assert provider.calls == 3
    with pytest.raises(TokenRefreshError, match="after 3 attempt"):
        await provider.current_credentials()
    provider.failing = False
    with anyio.fail_after(1):
        await provider.run()  # still stopped: returns at once, no request
    assert provider.calls == 3
    # start() re-arms it.
    provider.start()
    assert not provider.stopped
    async with provider:
        assert (await provider.current_credentials()).password == provider.tokens[0]


async def test_keep_retrying_false_keeps_a_valid_token_until_it_expires() -> None:
    offset = [0.0]
    provider = FakeIdentityProvider(
        make_config(keep_retrying=False),
        lifetime=3.0,
        clock=lambda: time.time() + offset[0],
    )
    async with provider:
        first = await provider.current_credentials()
        provider.failing = True
        await wait_until(lambda: provider.stopped)
        assert await provider.current_credentials() == first
        offset[0] = 10.0  # the wall clock passes the token's expiry
        with pytest.raises(TokenRefreshError):
            await provider.current_credentials()
        # No expired credentials for a new subscriber.
        with provider.subscribe() as stream, pytest.raises(anyio.WouldBlock):
            stream.receive_nowait()


async def test_request_timeout_is_applied() -> None:
    provider = FakeIdentityProvider(
        make_config(max_attempts=2, request_timeout=0.05, keep_retrying=False)
    )
    provider.hang = True
    start = time.monotonic()
    with anyio.fail_after(2):
        await provider.run()
    assert time.monotonic() - start < 1.0
    assert provider.calls == 2
    assert provider.stats.last_error == "TimeoutError: token request timed out after 0.05 s"
    with pytest.raises(TokenRefreshError, match="timed out"):
        await provider.current_credentials()


# ----------------------------------------------------------------------------- runners


async def test_one_fetch_in_flight_and_takeover_when_the_active_group_ends() -> None:
    provider = FakeIdentityProvider(lifetime=1.0, fetch_delay=0.02)
    scopes: list[anyio.CancelScope] = []

    async def client(*, task_status: anyio.abc.TaskStatus[None]) -> None:
        with anyio.CancelScope() as scope:
            scopes.append(scope)
            async with anyio.create_task_group() as group:
                await group.start(provider.run)
                task_status.started()
                await anyio.sleep_forever()

    with anyio.fail_after(10):
        async with anyio.create_task_group() as outer:
            for _ in range(3):
                await outer.start(client)
            async with provider:  # a fourth runner, standing by
                await wait_until(lambda: provider.stats.refreshes >= 3)
                assert provider.max_in_flight == 1
                # The first client's group is the active one; end it in the middle of a fetch.
                await wait_until(lambda: provider.in_flight == 1)
                first_runner = set(provider.fetch_tasks)
                assert len(first_runner) == 1
                refreshes, calls = provider.stats.refreshes, provider.calls
                scopes[0].cancel()
                await wait_until(lambda: provider.stats.refreshes >= refreshes + 3)
                assert provider.running
                # Another runner took over (the interrupted request was made again by it).
                assert not first_runner & set(provider.fetch_tasks[calls:])
                assert len(set(provider.fetch_tasks[calls:])) == 1
                scopes[1].cancel()
                scopes[2].cancel()
                refreshes = provider.stats.refreshes
                await wait_until(lambda: provider.stats.refreshes >= refreshes + 2)
            assert not provider.running  # every runner is gone
            outer.cancel_scope.cancel()
    assert provider.max_in_flight == 1


async def test_nested_async_with_in_one_task() -> None:
    provider = FakeIdentityProvider()
    async with provider:
        async with provider:
            await provider.current_credentials()
            assert provider.running
        assert provider.running
        calls = provider.calls
        provider.request_refresh()
        await wait_until(lambda: provider.calls > calls)
    assert not provider.running


async def test_shutdown_in_the_middle_of_a_fetch_is_prompt() -> None:
    provider = FakeIdentityProvider(make_config(request_timeout=30.0))
    provider.hang = True
    with anyio.fail_after(1):
        async with provider:
            await wait_until(lambda: provider.in_flight == 1)
            start = time.monotonic()
        assert time.monotonic() - start < 0.2
    assert provider.in_flight == 0
    # The same with a client-style group running it with start_soon.
    with anyio.fail_after(1):
        async with anyio.create_task_group() as group:
            group.start_soon(provider.run)
            await wait_until(lambda: provider.in_flight == 1)
            group.cancel_scope.cancel()
    assert provider.in_flight == 0
    assert not provider.running


# ----------------------------------------------------------------------------- secrets


async def test_no_token_in_logs_reprs_errors_or_stats(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    provider = FakeIdentityProvider(make_config(max_attempts=2, request_timeout=0.05))
    seen: list[str] = []
    async with provider:
        with provider.subscribe() as stream:
            for _ in range(3):
                credentials = await next_credentials(stream)
                seen += [repr(credentials), str(credentials)]
            provider.failing = True  # its errors quote the last token
            error = await stream.receive()
            assert isinstance(error, TokenRefreshError)
            seen += [str(error), repr(error), provider.stats.last_error or ""]
            assert "<redacted>" in str(error)
            provider.failing = False
            provider.hang = True
            await wait_until(lambda: (provider.stats.last_error or "").startswith("Timeout"))
            provider.hang = False
            await next_credentials(stream)
            seen += [repr(provider), str(provider), repr(provider.stats)]
    token = provider.tokens[-1]
    seen += [repr(AccessToken(token, 1.0, 2.0)), str(AccessToken(token, None))]
    seen += [record.getMessage() for record in caplog.records]
    seen += [caplog.text]
    blob = "\n".join(seen)
    assert len(provider.tokens) >= 4
    for issued in provider.tokens:
        assert issued not in blob
        assert issued[:12] not in blob  # not even the start of one


async def test_an_error_in_the_async_with_body_propagates_unchanged() -> None:
    provider = FakeIdentityProvider(fetch_delay=1.0)

    async def body() -> None:
        async with provider:
            await anyio.sleep(0.01)
            raise KeyError("boom")

    with anyio.fail_after(1), pytest.raises(KeyError, match="boom"):
        await body()
    assert not provider.running


async def test_cancelling_around_async_with_is_clean() -> None:
    provider = FakeIdentityProvider()
    provider.hang = True
    with anyio.fail_after(1):
        with anyio.move_on_after(0.05) as scope:
            async with provider:
                await anyio.sleep_forever()
        assert scope.cancelled_caught
    assert not provider.running
    assert provider.in_flight == 0
