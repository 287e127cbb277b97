"""The refresh schedule, the retry policy and their configuration: pure functions, fake clock."""

from __future__ import annotations

import dataclasses
import math
from datetime import timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from anyredis_auth._auth._config import RetryConfig, TokenRefreshConfig
from anyredis_auth._auth._schedule import (
    backoff_delay,
    next_retry_delay,
    refresh_time,
    retry_delay,
    sleep_time,
)

HOUR = 3600.0
T0 = 1_700_000_000.0  # a fixed "now" for the fake clock
EPS = 1e-6

# ----------------------------------------------------------------------------- configuration


def test_defaults_match_the_seed() -> None:
    retry = RetryConfig()
    assert (retry.max_attempts, retry.initial_delay, retry.max_delay) == (3, 0.1, 30.0)
    assert (retry.backoff_multiplier, retry.jitter_percentage) == (2.0, 0.5)
    config = TokenRefreshConfig()
    assert config.expiration_refresh_ratio == 0.8
    assert config.retry_config == RetryConfig()
    assert config.refresh_before_expiry == 240.0
    assert config.request_timeout == 30.0
    assert config.keep_retrying is True
    assert config.min_refresh_interval > 0


def test_timedelta_is_accepted_and_stored_as_seconds() -> None:
    retry = RetryConfig(initial_delay=timedelta(milliseconds=250), max_delay=timedelta(minutes=1))
    assert retry.initial_delay == 0.25
    assert retry.max_delay == 60.0
    assert isinstance(retry.initial_delay, float)
    config = TokenRefreshConfig(
        refresh_before_expiry=timedelta(minutes=3),
        min_refresh_interval=timedelta(seconds=2),
        request_timeout=timedelta(seconds=5),
    )
    assert (config.refresh_before_expiry, config.min_refresh_interval) == (180.0, 2.0)
    assert config.request_timeout == 5.0
    assert TokenRefreshConfig(request_timeout=math.inf).request_timeout == math.inf


def test_configs_are_frozen_hashable_and_replaceable() -> None:
    retry = RetryConfig(max_attempts=5)
    with pytest.raises(dataclasses.FrozenInstanceError):
        retry.max_attempts = 1  # type: ignore[misc]
    assert hash(retry) == hash(RetryConfig(max_attempts=5))
    assert dataclasses.replace(retry, initial_delay=1.0).initial_delay == 1.0
    config = dataclasses.replace(TokenRefreshConfig(), keep_retrying=False)
    assert config.keep_retrying is False
    assert config.retry_config == RetryConfig()
    with pytest.raises(ValueError, match="max_attempts"):
        dataclasses.replace(retry, max_attempts=0)
    assert "RetryConfig(max_attempts=5" in repr(retry)


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"max_attempts": 0}, "max_attempts"),
        ({"max_attempts": -3}, "max_attempts"),
        ({"initial_delay": 0}, "initial_delay"),
        ({"initial_delay": -1.0}, "initial_delay"),
        ({"initial_delay": math.nan}, "initial_delay"),
        ({"initial_delay": math.inf, "max_delay": math.inf}, "initial_delay"),
        ({"max_delay": 0.0}, "max_delay"),
        ({"initial_delay": 5.0, "max_delay": 1.0}, "max_delay"),
        ({"backoff_multiplier": 0.5}, "backoff_multiplier"),
        ({"backoff_multiplier": math.nan}, "backoff_multiplier"),
        ({"jitter_percentage": -0.1}, "jitter_percentage"),
        ({"jitter_percentage": 1.5}, "jitter_percentage"),
    ],
)
def test_retry_config_rejects(kwargs: dict[str, float], field: str) -> None:
    with pytest.raises(ValueError, match=field):
        RetryConfig(**kwargs)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"expiration_refresh_ratio": 0.0}, "expiration_refresh_ratio"),
        ({"expiration_refresh_ratio": 1.01}, "expiration_refresh_ratio"),
        ({"expiration_refresh_ratio": -0.5}, "expiration_refresh_ratio"),
        ({"refresh_before_expiry": 0}, "refresh_before_expiry"),
        ({"min_refresh_interval": -1}, "min_refresh_interval"),
        ({"request_timeout": 0}, "request_timeout"),
        ({"refresh_jitter": 2.0}, "refresh_jitter"),
    ],
)
def test_token_refresh_config_rejects(kwargs: dict[str, float], field: str) -> None:
    with pytest.raises(ValueError, match=field):
        TokenRefreshConfig(**kwargs)  # type: ignore[arg-type]


def test_wrong_types_are_named() -> None:
    with pytest.raises(TypeError, match="max_attempts"):
        RetryConfig(max_attempts=2.5)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="max_attempts"):
        RetryConfig(max_attempts=True)
    with pytest.raises(TypeError, match="initial_delay"):
        RetryConfig(initial_delay="1s")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="retry_config"):
        TokenRefreshConfig(retry_config={"max_attempts": 3})  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="keep_retrying"):
        TokenRefreshConfig(keep_retrying=1)  # type: ignore[arg-type]


def test_ratio_of_one_and_zero_jitter_are_allowed() -> None:
    assert TokenRefreshConfig(expiration_refresh_ratio=1).expiration_refresh_ratio == 1.0
    assert RetryConfig(jitter_percentage=0, backoff_multiplier=1).jitter_percentage == 0.0


# ----------------------------------------------------------------------------- refresh_time

NO_JITTER = TokenRefreshConfig(refresh_jitter=0.0)


def test_one_hour_token_refreshes_at_the_ratio() -> None:
    assert refresh_time(T0, T0 + HOUR, None, NO_JITTER, 0.0) == pytest.approx(T0 + 0.8 * HOUR)


def test_refresh_before_expiry_wins_when_the_ratio_is_late() -> None:
    config = TokenRefreshConfig(expiration_refresh_ratio=0.95, refresh_jitter=0.0)
    assert refresh_time(T0, T0 + HOUR, None, config, 0.0) == pytest.approx(T0 + HOUR - 240)


def test_refresh_on_wins_when_it_is_earliest() -> None:
    assert refresh_time(T0, T0 + HOUR, T0 + 1000, NO_JITTER, 0.0) == pytest.approx(T0 + 1000)
    # A refresh_on after the other candidates changes nothing.
    assert refresh_time(T0, T0 + HOUR, T0 + 3500, NO_JITTER, 0.0) == pytest.approx(T0 + 0.8 * HOUR)


def test_short_token_refreshes_at_half_life_not_before_issue() -> None:
    # 5 s token: "240 s before expiry" would be before it was issued; the window shrinks to L/2.
    assert refresh_time(T0, T0 + 5, None, NO_JITTER, 0.0) == pytest.approx(T0 + 2.5)
    # 1 s token: same rule.
    assert refresh_time(T0, T0 + 1, None, NO_JITTER, 0.0) == pytest.approx(T0 + 0.5)
    # 10 min token: window = min(240, 300) = 240, ratio gives 480 -> 360.
    assert refresh_time(T0, T0 + 600, None, NO_JITTER, 0.0) == pytest.approx(T0 + 360)


def test_floor_stops_a_hot_loop() -> None:
    # refresh_on already in the past: no sooner than min_refresh_interval after arrival.
    assert refresh_time(T0, T0 + HOUR, T0 - 100, NO_JITTER, 0.0) == pytest.approx(T0 + 5.0)
    tiny_ratio = TokenRefreshConfig(expiration_refresh_ratio=1e-6, refresh_jitter=0.0)
    assert refresh_time(T0, T0 + HOUR, None, tiny_ratio, 0.0) == pytest.approx(T0 + 5.0)
    # For a token shorter than 2 * min_refresh_interval the floor is half its lifetime.
    assert refresh_time(T0, T0 + 4, T0 - 1, NO_JITTER, 0.0) == pytest.approx(T0 + 2.0)


def test_jitter_pulls_earlier_by_at_most_refresh_jitter() -> None:
    config = TokenRefreshConfig(refresh_jitter=0.1)
    plain = refresh_time(T0, T0 + HOUR, None, config, 0.0)
    full = refresh_time(T0, T0 + HOUR, None, config, 1.0)
    assert plain == pytest.approx(T0 + 2880)
    assert full == pytest.approx(T0 + 2880 - 0.1 * (2880 - 5))


def test_no_expiry_means_no_scheduled_refresh() -> None:
    assert refresh_time(T0, None, None, NO_JITTER, 0.3) is None
    assert refresh_time(T0, None, T0 + 10, NO_JITTER, 0.3) is None


def test_expired_token_is_due_at_once() -> None:
    assert refresh_time(T0, T0 - 1, None, NO_JITTER, 0.0) == T0
    assert refresh_time(T0, T0, None, NO_JITTER, 0.0) == T0


def test_jitter_fraction_is_checked() -> None:
    with pytest.raises(ValueError, match="jitter"):
        refresh_time(T0, T0 + HOUR, None, NO_JITTER, 1.5)


lifetimes = st.floats(min_value=1.0, max_value=24 * HOUR)
issue_times = st.floats(min_value=0.0, max_value=4e9)
ratios = st.floats(min_value=1e-3, max_value=1.0)
fractions = st.floats(min_value=0.0, max_value=1.0)
windows = st.floats(min_value=1e-3, max_value=2 * HOUR)
configs = st.builds(
    TokenRefreshConfig,
    expiration_refresh_ratio=ratios,
    refresh_before_expiry=windows,
    min_refresh_interval=st.floats(min_value=1e-3, max_value=600.0),
    refresh_jitter=fractions,
)
# refresh_on relative to the lifetime: None, in the past, during the lifetime or after it.
refresh_on_offsets = st.one_of(st.none(), st.floats(min_value=-1.0, max_value=2.0))


def _refresh_on(issued: float, lifetime: float, offset: float | None) -> float | None:
    return None if offset is None else issued + offset * lifetime


def _tolerance(issued: float, lifetime: float) -> float:
    return EPS * (abs(issued) + lifetime + 1.0)


@settings(max_examples=300, deadline=None)
@given(issue_times, lifetimes, refresh_on_offsets, configs, fractions)
def test_refresh_is_strictly_inside_the_lifetime(
    issued: float,
    lifetime: float,
    offset: float | None,
    config: TokenRefreshConfig,
    jitter: float,
) -> None:
    expires = issued + lifetime
    t = refresh_time(issued, expires, _refresh_on(issued, lifetime, offset), config, jitter)
    assert t is not None
    assert issued < t < expires
    # Never sooner than the floor, and always at least min(window, L/2) before expiry.
    floor = issued + min(config.min_refresh_interval, lifetime / 2)
    tol = _tolerance(issued, lifetime)
    assert t >= floor - tol
    assert t <= expires - min(config.refresh_before_expiry, lifetime / 2) + tol
    # Never later than the ratio point or refresh_on, unless the floor holds it back.
    assert t <= max(issued + config.expiration_refresh_ratio * lifetime, floor) + tol
    refresh_on = _refresh_on(issued, lifetime, offset)
    if refresh_on is not None:
        assert t <= max(refresh_on, floor) + tol


@settings(max_examples=300, deadline=None)
@given(issue_times, lifetimes, refresh_on_offsets, configs, fractions, fractions)
def test_jitter_only_ever_pulls_earlier(
    issued: float,
    lifetime: float,
    offset: float | None,
    config: TokenRefreshConfig,
    u1: float,
    u2: float,
) -> None:
    expires = issued + lifetime
    refresh_on = _refresh_on(issued, lifetime, offset)
    plain = refresh_time(issued, expires, refresh_on, config, 0.0)
    low, high = sorted((u1, u2))
    t_low = refresh_time(issued, expires, refresh_on, config, low)
    t_high = refresh_time(issued, expires, refresh_on, config, high)
    assert plain is not None
    assert t_low is not None
    assert t_high is not None
    assert t_high <= t_low <= plain
    # The pull is at most refresh_jitter of the distance to the floor.
    floor = issued + min(config.min_refresh_interval, lifetime / 2)
    tol = _tolerance(issued, lifetime)
    assert plain - t_high <= config.refresh_jitter * (plain - floor) + tol


@settings(max_examples=300, deadline=None)
@given(
    issue_times,
    lifetimes,
    st.floats(min_value=0.0, max_value=HOUR),
    refresh_on_offsets,
    configs,
    fractions,
)
def test_later_expiry_never_refreshes_earlier(
    issued: float,
    lifetime: float,
    extra: float,
    offset: float | None,
    config: TokenRefreshConfig,
    jitter: float,
) -> None:
    refresh_on = _refresh_on(issued, lifetime, offset)
    short = refresh_time(issued, issued + lifetime, refresh_on, config, jitter)
    long = refresh_time(issued, issued + lifetime + extra, refresh_on, config, jitter)
    assert short is not None
    assert long is not None
    assert long >= short - _tolerance(issued, lifetime + extra)


@settings(max_examples=300, deadline=None)
@given(issue_times, lifetimes, refresh_on_offsets, configs, ratios, windows, fractions)
def test_monotone_in_ratio_window_and_refresh_on(
    issued: float,
    lifetime: float,
    offset: float | None,
    config: TokenRefreshConfig,
    other_ratio: float,
    other_window: float,
    jitter: float,
) -> None:
    expires = issued + lifetime
    refresh_on = _refresh_on(issued, lifetime, offset)
    tol = _tolerance(issued, lifetime)
    base = refresh_time(issued, expires, refresh_on, config, jitter)
    assert base is not None

    low_r, high_r = sorted((config.expiration_refresh_ratio, other_ratio))
    t_low_r = refresh_time(
        issued,
        expires,
        refresh_on,
        dataclasses.replace(config, expiration_refresh_ratio=low_r),
        jitter,
    )
    t_high_r = refresh_time(
        issued,
        expires,
        refresh_on,
        dataclasses.replace(config, expiration_refresh_ratio=high_r),
        jitter,
    )
    assert t_low_r is not None
    assert t_high_r is not None
    assert t_low_r <= t_high_r + tol  # larger ratio: never earlier

    small_w, big_w = sorted((config.refresh_before_expiry, other_window))
    t_small_w = refresh_time(
        issued,
        expires,
        refresh_on,
        dataclasses.replace(config, refresh_before_expiry=small_w),
        jitter,
    )
    t_big_w = refresh_time(
        issued,
        expires,
        refresh_on,
        dataclasses.replace(config, refresh_before_expiry=big_w),
        jitter,
    )
    assert t_small_w is not None
    assert t_big_w is not None
    assert t_big_w <= t_small_w + tol  # larger window: never later

    if refresh_on is not None:
        earlier = refresh_time(issued, expires, refresh_on - lifetime / 3, config, jitter)
        assert earlier is not None
        assert earlier <= base + tol  # earlier refresh_on: never later
    without = refresh_time(issued, expires, None, config, jitter)
    assert without is not None
    assert base <= without + tol  # a refresh_on can only pull the time earlier


@settings(max_examples=200, deadline=None)
@given(
    st.floats(min_value=0.0, max_value=1e9),
    st.floats(min_value=-1e6, max_value=1e6),
    lifetimes,
    refresh_on_offsets,
    configs,
    fractions,
)
def test_shifting_the_clock_shifts_the_refresh(
    issued: float,
    shift: float,
    lifetime: float,
    offset: float | None,
    config: TokenRefreshConfig,
    jitter: float,
) -> None:
    first = refresh_time(
        issued, issued + lifetime, _refresh_on(issued, lifetime, offset), config, jitter
    )
    moved = issued + shift
    second = refresh_time(
        moved, moved + lifetime, _refresh_on(moved, lifetime, offset), config, jitter
    )
    assert first is not None
    assert second is not None
    assert second - first == pytest.approx(shift, abs=1e-5 * (issued + abs(shift) + lifetime))


# ----------------------------------------------------------------------------- retry delays


def test_backoff_doubles_then_caps() -> None:
    retry = RetryConfig(initial_delay=0.1, max_delay=1.0, backoff_multiplier=2.0)
    assert [backoff_delay(n, retry) for n in range(1, 7)] == pytest.approx(
        [0.1, 0.2, 0.4, 0.8, 1.0, 1.0]
    )
    assert backoff_delay(10**6, retry) == 1.0  # no overflow for absurd attempt numbers


def test_retry_delay_jitter_is_plus_minus_jitter_percentage() -> None:
    retry = RetryConfig(initial_delay=1.0, max_delay=10.0, jitter_percentage=0.5)
    assert retry_delay(1, retry, 0.5) == pytest.approx(1.0)
    assert retry_delay(1, retry, 0.0) == pytest.approx(0.5)
    assert retry_delay(1, retry, 1.0) == pytest.approx(1.5)
    assert retry_delay(20, retry, 1.0) == pytest.approx(15.0)  # max_delay * (1 + jitter)
    no_jitter = RetryConfig(jitter_percentage=0.0)
    assert retry_delay(2, no_jitter, 0.9) == pytest.approx(0.2)


def test_retry_delay_rejects_bad_arguments() -> None:
    with pytest.raises(ValueError, match="attempt"):
        retry_delay(0, RetryConfig(), 0.5)
    with pytest.raises(ValueError, match="random_fraction"):
        retry_delay(1, RetryConfig(), -0.1)


retry_configs = st.builds(
    lambda initial, extra, multiplier, jitter, attempts: RetryConfig(
        max_attempts=attempts,
        initial_delay=initial,
        max_delay=initial + extra,
        backoff_multiplier=multiplier,
        jitter_percentage=jitter,
    ),
    st.floats(min_value=1e-3, max_value=60.0),
    st.floats(min_value=0.0, max_value=600.0),
    st.floats(min_value=1.0, max_value=10.0),
    fractions,
    st.integers(min_value=1, max_value=10),
)


@settings(max_examples=300, deadline=None)
@given(st.integers(min_value=1, max_value=10_000), retry_configs, fractions)
def test_retry_delay_bounds(attempt: int, retry: RetryConfig, u: float) -> None:
    delay = retry_delay(attempt, retry, u)
    base = backoff_delay(attempt, retry)
    # The un-jittered delay: the exponential, capped (compared in log space: no overflow).
    exponent = math.log(retry.initial_delay) + (attempt - 1) * math.log(retry.backoff_multiplier)
    if exponent < math.log(retry.max_delay):
        assert base == pytest.approx(math.exp(exponent), rel=1e-6)
    else:
        assert base == pytest.approx(retry.max_delay, rel=1e-6)
    jitter = retry.jitter_percentage
    tol = 1e-9 * (retry.max_delay + 1)
    assert 0.0 <= delay <= retry.max_delay * (1 + jitter) + tol
    assert base * (1 - jitter) - tol <= delay <= base * (1 + jitter) + tol


@settings(max_examples=300, deadline=None)
@given(st.integers(min_value=1, max_value=60), retry_configs, fractions, fractions)
def test_retry_delay_is_monotone(attempt: int, retry: RetryConfig, u1: float, u2: float) -> None:
    low, high = sorted((u1, u2))
    assert retry_delay(attempt, retry, low) <= retry_delay(attempt, retry, high)
    assert retry_delay(attempt, retry, u1) <= retry_delay(attempt + 1, retry, u1) + 1e-9


@settings(max_examples=200, deadline=None)
@given(st.integers(min_value=1, max_value=50), retry_configs, fractions, st.booleans())
def test_next_retry_delay_policy(
    failures: int, retry: RetryConfig, u: float, keep_retrying: bool
) -> None:
    config = TokenRefreshConfig(retry_config=retry, keep_retrying=keep_retrying)
    delay = next_retry_delay(failures, config, u)
    if failures < retry.max_attempts:
        assert delay == retry_delay(failures, retry, u)
    elif keep_retrying:
        assert delay is not None
        jitter = retry.jitter_percentage
        assert (
            retry.max_delay * (1 - jitter) - 1e-9 <= delay <= retry.max_delay * (1 + jitter) + 1e-9
        )
    else:
        assert delay is None


# ----------------------------------------------------------------------------- sleeping


def test_sleep_time_is_bounded_and_never_negative() -> None:
    assert sleep_time(T0, T0 + 2.0, 5.0) == 2.0
    assert sleep_time(T0, T0 + HOUR, 5.0) == 5.0  # looks at the wall clock again in 5 s
    assert sleep_time(T0, T0 - 1.0, 5.0) == 0.0  # overdue: at once
    assert sleep_time(T0, None, 5.0) == 5.0  # nothing due: still re-checks
    assert sleep_time(T0, math.inf, 5.0) == 5.0
    assert sleep_time(T0, -math.inf, 5.0) == 0.0
    assert sleep_time(T0, math.nan, 5.0) == 5.0  # never a hot loop, never for ever


@given(
    st.floats(allow_nan=True, allow_infinity=True) | st.none(),
    st.floats(min_value=0.01, max_value=60.0),
)
def test_sleep_time_stays_in_bounds(due: float | None, max_sleep: float) -> None:
    delay = sleep_time(T0, due, max_sleep)
    assert 0.0 <= delay <= max_sleep
