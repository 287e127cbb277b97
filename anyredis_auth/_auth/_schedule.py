"""The refresh schedule and the retry policy: pure functions, no I/O, no clock, no randomness.

The caller passes the times (Unix epoch seconds, as tokens carry them) and the random fractions,
so every rule here is unit-tested with a fake clock and fixed "random" numbers.

When is a token refreshed?  Let ``L = expires_at - issued_at`` be its lifetime as we received it
(``issued_at`` is when the token arrived, not its ``iat`` claim: a cached token has less left).

1. Candidates: ``issued_at + ratio * L`` (the seed's ``expiration_refresh_ratio``),
   ``refresh_on`` (when the identity provider suggests one) and ``expires_at - window`` where
   ``window = min(refresh_before_expiry, L / 2)``: Azure asks for a refresh several minutes before
   expiry, but a token that lives less than twice that window is refreshed at half-life instead
   of "before it was issued". The scheduled time is the earliest candidate.
2. Floor: never earlier than ``issued_at + min(min_refresh_interval, L / 2)``, so a
   ``refresh_on`` in the past or a tiny ratio cannot make the refresher spin.
3. Jitter: with a random fraction ``u`` in [0, 1], the time moves earlier by
   ``u * refresh_jitter * (scheduled - floor)``: never later than the un-jittered time, never
   earlier than the floor.

So the result ``t`` always satisfies ``issued_at < t < expires_at`` for a token with a positive
lifetime, and it is monotone: later expiry, later ``refresh_on``, larger ratio, smaller
``refresh_before_expiry`` or smaller ``u`` never make it earlier.

A token without an expiry (``expires_at is None``) is never refreshed on schedule: the result is
``None`` and the refresher fetches again only when asked to (or after a failure). A token that is
already expired when it arrives (``L <= 0``) is due at once (the result is ``issued_at``).

Retry delays: ``delay(n) = min(initial_delay * backoff_multiplier ** (n - 1), max_delay)`` after
the ``n``-th failed attempt, then jittered by up to +/- ``jitter_percentage`` of itself, as the
seed describes ("0.5 means up to +/-50% variation"): with a random fraction ``u`` in [0, 1] the
delay is ``delay(n) * (1 + jitter_percentage * (2u - 1))``. It is never negative and never above
``max_delay * (1 + jitter_percentage)``.

`next_retry_delay` is the whole policy of one failure streak: attempts ``1 .. max_attempts - 1``
back off as above; after the ``max_attempts``-th failure the round is exhausted and the refresher
either keeps trying every ``max_delay`` (jittered the same way: ``keep_retrying=True``) or gives
up (``None``: the seed's behaviour).

Sleeping: the refresher sleeps on the monotonic clock, but tokens expire by the wall clock, which
may jump (a suspended machine, a clock step). So it never sleeps longer than a bound at once
(`sleep_time`) and then looks at the wall clock again.
"""

from __future__ import annotations

import math

from ._config import RetryConfig, TokenRefreshConfig

__all__ = ["backoff_delay", "next_retry_delay", "refresh_time", "retry_delay", "sleep_time"]


def _check_fraction(value: float, name: str) -> None:
    if not 0.0 <= value <= 1.0:
        raise ValueError(f"{name} must be in [0, 1], got {value!r}")


def refresh_time(
    issued_at: float,
    expires_at: float | None,
    refresh_on: float | None,
    config: TokenRefreshConfig,
    jitter: float,
) -> float | None:
    """When to refresh a token that arrived at ``issued_at`` (epoch seconds); see the module doc.

    ``jitter`` is a random fraction in [0, 1] (``random.random()``); 0 means no jitter.
    Returns ``None`` for a token without an expiry (never refresh on schedule).
    """
    _check_fraction(jitter, "jitter")
    if expires_at is None:
        return None
    lifetime = expires_at - issued_at
    if not lifetime > 0:
        return issued_at
    half = lifetime / 2.0
    scheduled = min(
        issued_at + config.expiration_refresh_ratio * lifetime,
        expires_at - min(config.refresh_before_expiry, half),
    )
    if refresh_on is not None:
        scheduled = min(scheduled, refresh_on)
    floor = issued_at + min(config.min_refresh_interval, half)
    scheduled = max(scheduled, floor)
    jittered = scheduled - jitter * config.refresh_jitter * (scheduled - floor)
    # Rounding can never take the result out of [floor, scheduled].
    return min(max(jittered, floor), scheduled)


def backoff_delay(attempt: int, retry_config: RetryConfig) -> float:
    """The un-jittered delay after the ``attempt``-th failed attempt (1-based), capped."""
    if attempt < 1:
        raise ValueError(f"attempt must be >= 1, got {attempt!r}")
    try:
        raw = retry_config.initial_delay * retry_config.backoff_multiplier ** (attempt - 1)
    except OverflowError:
        raw = math.inf
    return min(raw, retry_config.max_delay)


def retry_delay(attempt: int, retry_config: RetryConfig, random_fraction: float) -> float:
    """The delay before retrying after the ``attempt``-th failed attempt (1-based), jittered.

    ``random_fraction`` is in [0, 1]: 0 gives the shortest delay (``-jitter_percentage``), 0.5 the
    un-jittered one, 1 the longest (``+jitter_percentage``).
    """
    _check_fraction(random_fraction, "random_fraction")
    base = backoff_delay(attempt, retry_config)
    spread = retry_config.jitter_percentage * (2.0 * random_fraction - 1.0)
    upper = retry_config.max_delay * (1.0 + retry_config.jitter_percentage)
    return min(max(base * (1.0 + spread), 0.0), upper)


def next_retry_delay(
    failures: int, config: TokenRefreshConfig, random_fraction: float
) -> float | None:
    """The delay before the next attempt after ``failures`` consecutive failed attempts (>= 1).

    ``None`` means "give up": the attempts ran out and ``config.keep_retrying`` is false.
    """
    retry = config.retry_config
    if failures < retry.max_attempts:
        return retry_delay(failures, retry, random_fraction)
    if not config.keep_retrying:
        _check_fraction(random_fraction, "random_fraction")
        return None
    _check_fraction(random_fraction, "random_fraction")
    spread = retry.jitter_percentage * (2.0 * random_fraction - 1.0)
    return max(retry.max_delay * (1.0 + spread), 0.0)


def sleep_time(now: float, due: float | None, max_sleep: float) -> float:
    """How long the refresher may sleep before it looks at the wall clock ``now`` again.

    Until ``due`` (epoch seconds; ``None``: nothing is due until asked), but never longer than
    ``max_sleep`` and never negative. A ``due`` that is not a number (NaN) also gives
    ``max_sleep``: a bad time can neither make the refresher spin nor sleep for ever.
    """
    if due is None:
        return max_sleep
    delay = due - now
    if delay != delay:  # NaN
        return max_sleep
    return min(max(delay, 0.0), max_sleep)
