"""Refresh and retry settings: frozen, validated, durations in float seconds.

Every duration accepts a ``float`` / ``int`` number of seconds or a `datetime.timedelta`; it is
stored as ``float`` seconds. Invalid values raise `ValueError` (wrong types raise `TypeError`)
with the field's name in the message, when the object is built, not when the refresher runs.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import timedelta

__all__ = ["RetryConfig", "TokenRefreshConfig"]


def _number(value: object, name: str) -> float:
    if isinstance(value, timedelta):
        return value.total_seconds()
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise TypeError(
            f"{name} must be a number of seconds or a datetime.timedelta, "
            f"got {type(value).__name__}"
        )
    if math.isnan(value):
        raise ValueError(f"{name} must be a number, got NaN")
    return float(value)


def _positive(value: object, name: str, *, allow_inf: bool = False) -> float:
    number = _number(value, name)
    if not number > 0:
        raise ValueError(f"{name} must be > 0, got {number!r}")
    if math.isinf(number) and not allow_inf:
        raise ValueError(f"{name} must be finite, got {number!r}")
    return number


def _fraction(value: object, name: str, *, low_open: bool) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise TypeError(f"{name} must be a number, got {type(value).__name__}")
    number = float(value)
    ok = (0.0 < number <= 1.0) if low_open else (0.0 <= number <= 1.0)
    if not ok:
        interval = "(0, 1]" if low_open else "[0, 1]"
        raise ValueError(f"{name} must be in {interval}, got {number!r}")
    return number


@dataclass(frozen=True, init=False)
class RetryConfig:
    """How failed token requests are retried (the seed's ``RetryConfig``).

    - ``max_attempts``: attempts per refresh round, the first one included (>= 1). When they all
      fail, a `TokenRefreshError` is published to every subscriber.
    - ``initial_delay``: the delay after the first failed attempt (> 0 seconds).
    - ``max_delay``: the cap of the exponential backoff (>= ``initial_delay``). The cap applies
      before jitter, so a jittered delay is at most ``max_delay * (1 + jitter_percentage)``.
      After the attempts run out, `TokenRefreshConfig.keep_retrying` retries at this interval.
    - ``backoff_multiplier``: growth factor per attempt (>= 1):
      ``delay(n) = min(initial_delay * backoff_multiplier ** (n - 1), max_delay)``.
    - ``jitter_percentage``: random variation as a fraction of the delay, in [0, 1]; 0.5 means up
      to +/-50%, so a fleet of clients does not retry in lockstep.
    """

    max_attempts: int
    initial_delay: float
    max_delay: float
    backoff_multiplier: float
    jitter_percentage: float

    def __init__(
        self,
        max_attempts: int = 3,
        initial_delay: float | timedelta = 0.1,
        max_delay: float | timedelta = 30.0,
        backoff_multiplier: float = 2.0,
        jitter_percentage: float = 0.5,
    ) -> None:
        if isinstance(max_attempts, bool) or not isinstance(max_attempts, int):
            raise TypeError(f"max_attempts must be an int, got {type(max_attempts).__name__}")
        if max_attempts < 1:
            raise ValueError(f"max_attempts must be >= 1, got {max_attempts!r}")
        initial = _positive(initial_delay, "initial_delay")
        maximum = _positive(max_delay, "max_delay")
        if maximum < initial:
            raise ValueError(
                f"max_delay ({maximum!r}) must not be smaller than initial_delay ({initial!r})"
            )
        if isinstance(backoff_multiplier, bool) or not isinstance(backoff_multiplier, (int, float)):
            raise TypeError(
                f"backoff_multiplier must be a number, got {type(backoff_multiplier).__name__}"
            )
        if not (1.0 <= backoff_multiplier < math.inf):
            raise ValueError(f"backoff_multiplier must be >= 1, got {backoff_multiplier!r}")
        jitter = _fraction(jitter_percentage, "jitter_percentage", low_open=False)
        object.__setattr__(self, "max_attempts", max_attempts)
        object.__setattr__(self, "initial_delay", initial)
        object.__setattr__(self, "max_delay", maximum)
        object.__setattr__(self, "backoff_multiplier", float(backoff_multiplier))
        object.__setattr__(self, "jitter_percentage", jitter)


@dataclass(frozen=True, init=False)
class TokenRefreshConfig:
    """When tokens are refreshed, how failures are retried and how long one request may take.

    - ``expiration_refresh_ratio``: refresh when this fraction of the token's lifetime has
      elapsed, in (0, 1] (the seed's knob; 0.8 = at 80% of the lifetime).
    - ``retry_config``: the `RetryConfig` for failed requests.
    - ``refresh_before_expiry``: refresh at least this long before expiry (> 0 seconds; Azure
      asks for 3 minutes or more, the default is 4). For a short-lived token the window shrinks
      to half the token's lifetime (see `refresh_time`).
    - ``min_refresh_interval``: never refresh sooner than this after a token arrived (> 0
      seconds), unless the token lives less than twice as long (then: half its lifetime). This
      keeps a misbehaving identity provider (``refresh_on`` in the past, tiny lifetimes) from
      turning the refresher into a hot loop.
    - ``request_timeout``: bound of one token request (> 0 seconds, ``math.inf`` for none); a
      request that takes longer is cancelled and counts as a failed attempt.
    - ``keep_retrying``: when the attempts of a round run out, publish the error and keep trying
      every ``retry_config.max_delay`` until a request succeeds (default). ``False`` restores the
      seed's behaviour: publish the error and stop refreshing for good.
    - ``refresh_jitter``: in [0, 1]; the scheduled refresh is pulled earlier by a random part of
      up to this fraction of the time between the earliest allowed refresh and the scheduled one,
      so that a fleet of clients does not hit the identity provider at the same instant.
    - ``permanent_error_retry_interval``: after a permanent error (one a provider classifies as
      such: a wrong client secret, an unknown client or tenant, a token without ``oid``), the
      error is published at once and the request is retried only this often (> 0 seconds,
      default 300), jittered by ``retry_config.jitter_percentage``; transient errors stay on the
      back-off policy. With ``keep_retrying=False`` a permanent error stops the refresher at once.
    """

    expiration_refresh_ratio: float
    retry_config: RetryConfig
    refresh_before_expiry: float
    min_refresh_interval: float
    request_timeout: float
    keep_retrying: bool
    refresh_jitter: float
    permanent_error_retry_interval: float

    def __init__(
        self,
        expiration_refresh_ratio: float = 0.8,
        retry_config: RetryConfig | None = None,
        refresh_before_expiry: float | timedelta = 240.0,
        min_refresh_interval: float | timedelta = 5.0,
        request_timeout: float | timedelta = 30.0,
        keep_retrying: bool = True,
        refresh_jitter: float = 0.1,
        permanent_error_retry_interval: float | timedelta = 300.0,
    ) -> None:
        ratio = _fraction(expiration_refresh_ratio, "expiration_refresh_ratio", low_open=True)
        if retry_config is None:
            retry_config = RetryConfig()
        elif not isinstance(retry_config, RetryConfig):
            raise TypeError(
                f"retry_config must be a RetryConfig, got {type(retry_config).__name__}"
            )
        if not isinstance(keep_retrying, bool):
            raise TypeError(f"keep_retrying must be a bool, got {type(keep_retrying).__name__}")
        object.__setattr__(self, "expiration_refresh_ratio", ratio)
        object.__setattr__(self, "retry_config", retry_config)
        object.__setattr__(
            self, "refresh_before_expiry", _positive(refresh_before_expiry, "refresh_before_expiry")
        )
        object.__setattr__(
            self, "min_refresh_interval", _positive(min_refresh_interval, "min_refresh_interval")
        )
        object.__setattr__(
            self,
            "request_timeout",
            _positive(request_timeout, "request_timeout", allow_inf=True),
        )
        object.__setattr__(self, "keep_retrying", keep_retrying)
        object.__setattr__(
            self, "refresh_jitter", _fraction(refresh_jitter, "refresh_jitter", low_open=False)
        )
        object.__setattr__(
            self,
            "permanent_error_retry_interval",
            _positive(permanent_error_retry_interval, "permanent_error_retry_interval"),
        )
