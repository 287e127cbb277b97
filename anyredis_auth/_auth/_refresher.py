"""`TokenCredentialsProvider`: the token refresher that every token-based provider builds on.

A subclass implements `TokenCredentialsProvider._fetch_token` (one request to the identity
provider) and may override `TokenCredentialsProvider._credentials_for` (token -> credentials).
The base class does the rest: the schedule, timeouts, retries, fan-out to subscribers, logging
and statistics.

Structured concurrency: nothing runs in the background by itself. The refresher is `run`, and it
runs in the task group of whoever enters it (a `Client`, or ``async with provider:``). Several
task groups may run it at the same time (several clients sharing one provider): only one of them
is the active refresher, the others stand by and one of them takes over as soon as the active one
stops. All refresh state lives on the provider, so the take-over continues where the previous
runner left off, and there is never more than one token request in flight per provider.
"""

from __future__ import annotations

import logging
import math
import random as _random
import time
from abc import ABC, abstractmethod
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import datetime, timezone
from types import TracebackType

import anyio
import anyio.abc
from anyio.streams.memory import MemoryObjectReceiveStream

from .._credentials import Credentials
from .._errors import TokenRefreshError
from ._broadcast import CredentialsBroadcast
from ._config import RetryConfig, TokenRefreshConfig
from ._schedule import next_retry_delay, refresh_time, sleep_time

__all__ = ["AccessToken", "RefreshStats", "TokenCredentialsProvider"]

logger = logging.getLogger("anyredis_auth.auth")

# Sleep at most this long at once, then look at the wall clock again: a suspended laptop or a
# clock step must not make us sleep past a token's refresh time (or its expiry) for long. A look
# is one clock read, so a few seconds cost nothing. `current_credentials` does not wait for it:
# it sees an expired token by itself and asks for a fresh one at once.
_MAX_SLEEP = 5.0
# Longest error text kept in stats, logs and TokenRefreshError messages.
_MAX_ERROR_TEXT = 300
_REDACTED = "<redacted>"


@dataclass(frozen=True)
class AccessToken:
    """A token from the identity provider; its ``repr`` and ``str`` never show the token.

    ``expires_on`` and ``refresh_on`` are Unix epoch seconds; ``expires_on=None`` means the token
    does not expire (it is then refreshed only on request or after a failure).
    """

    token: str = field(repr=False)
    expires_on: float | None
    refresh_on: float | None = None

    def __repr__(self) -> str:
        return (
            f"AccessToken(token=<redacted>, expires_on={self.expires_on!r}, "
            f"refresh_on={self.refresh_on!r})"
        )

    __str__ = __repr__


@dataclass
class RefreshStats:
    """Counters of one provider's refresher (live: the provider updates this object).

    ``last_error`` is the latest failure as ``"ExceptionType: message"`` (never a token);
    ``last_refresh_at`` and ``expires_at`` are Unix epoch seconds.
    """

    refreshes: int = 0
    failures: int = 0
    consecutive_failures: int = 0
    last_error: str | None = None
    last_refresh_at: float | None = None
    expires_at: float | None = None
    next_refresh_at: float | None = None


def _when(epoch: float | None) -> str:
    if epoch is None:
        return "never"
    try:
        return datetime.fromtimestamp(epoch, timezone.utc).isoformat(timespec="seconds")
    except (OverflowError, OSError, ValueError):
        return repr(epoch)


def _check_time(value: object, name: str) -> None:
    """Refuse a token time that is not a finite number of epoch seconds (NaN, +/-inf, junk).

    Such a time would make every schedule computed from it meaningless (a NaN deadline is never
    reached, an infinite one never ends), so the token counts as a failed attempt instead.
    """
    if value is None:
        return
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise TypeError(
            f"the identity provider returned a token whose {name} is not a number of seconds "
            f"({type(value).__name__})"
        )
    try:
        finite = math.isfinite(value)
    except OverflowError:  # an int too large for a float
        finite = False
    if not finite:
        raise ValueError(
            f"the identity provider returned a token whose {name} is not a finite time: {value!r}"
        )


class TokenCredentialsProvider(ABC):
    """Base class of providers whose credentials come from short-lived tokens.

    Constructor arguments:

    - ``refresh_config``: the `TokenRefreshConfig` (default: ``TokenRefreshConfig()``).
    - ``clock``: wall clock in Unix epoch seconds (tokens carry epoch times); for tests.
    - ``random``: source of fractions in [0, 1) for the jitter; for tests.

    How it refreshes: the first token is requested as soon as a runner starts; each later one at
    `refresh_time` (ratio of the lifetime, ``refresh_on``, ``refresh_before_expiry``, jitter).
    Each request is bounded by ``request_timeout``; a failed one is retried after `retry_delay`.
    When the ``max_attempts`` of a round fail, every subscriber receives a `TokenRefreshError`;
    then the refresher keeps trying every ``max_delay`` (publishing an error item for each
    failure) until a request succeeds, or, with ``keep_retrying=False``, stops for good. A failure
    never withdraws a token that is still valid: `current_credentials` returns it until it expires.
    A token that has already expired when it arrives, or whose ``expires_on`` / ``refresh_on`` is
    not a finite time (NaN, infinity), is treated as a failed attempt.

    The credentials published carry the token's expiry (`Credentials.expires_on`), set here for
    every subclass. If the wall clock passes the current token's expiry before the refresher
    looked (it sleeps on the monotonic clock, at most a few seconds at once),
    `current_credentials` and `subscribe` request a fresh token at once.
    """

    def __init__(
        self,
        refresh_config: TokenRefreshConfig | None = None,
        *,
        clock: Callable[[], float] = time.time,
        random: Callable[[], float] = _random.random,
    ) -> None:
        if refresh_config is None:
            refresh_config = TokenRefreshConfig()
        elif not isinstance(refresh_config, TokenRefreshConfig):
            raise TypeError(
                f"refresh_config must be a TokenRefreshConfig, got {type(refresh_config).__name__}"
            )
        self._config = refresh_config
        self._clock = clock
        self._random = random
        self._broadcast = CredentialsBroadcast()
        self._stats = RefreshStats()
        self._token: AccessToken | None = None
        self._credentials: Credentials | None = None
        self._refresh_at: float | None = None  # next scheduled refresh (epoch); None: never
        self._retry_at: float | None = None  # next attempt after a failure (epoch)
        self._failures = 0  # consecutive failed attempts
        self._stopped: TokenRefreshError | None = None  # gave up for good (keep_retrying=False)
        self._runner: object | None = None  # the active runner's marker
        self._standby: set[anyio.Event] = set()
        self._wake: anyio.Event | None = None
        self._groups: dict[int, list[anyio.abc.TaskGroup]] = {}
        self._secrets: deque[str] = deque(maxlen=4)  # recent tokens, scrubbed from error text

    # ----------------------------------------------------------------- subclass interface

    @abstractmethod
    async def _fetch_token(self) -> AccessToken:
        """Request one token from the identity provider (one attempt; no retries here).

        It runs under ``request_timeout`` and may be cancelled at any await. Any `Exception`
        counts as a failed attempt; its type and message are reported, so they must not
        contain secrets.
        """

    def _credentials_for(self, token: AccessToken) -> Credentials:
        """The credentials to authenticate with: by default the ``default`` user and the token.

        An exception here counts as a failed attempt.
        """
        return Credentials(None, token.token)

    def _is_permanent_error(self, exc: Exception) -> bool:
        """Whether a failed attempt cannot succeed on a soon retry (default: never).

        A permanent error is published to every subscriber at once (saying it is permanent) and
        retried only every ``permanent_error_retry_interval``, not on the back-off policy.
        """
        return False

    def _refresh_time_for(self, token: AccessToken, now: float) -> float | None:
        """When to refresh ``token`` that arrived at ``now`` (default: `refresh_time`)."""
        return refresh_time(now, token.expires_on, token.refresh_on, self._config, self._fraction())

    def _on_permanent_failure(self, exc: Exception, description: str) -> None:
        stats = self._stats
        interval = self._config.permanent_error_retry_interval
        now = self._clock()
        error = TokenRefreshError(
            f"token refresh failed with a permanent error (retrying soon cannot help): "
            f"{description}"
        )
        error.__cause__ = exc
        if not self._config.keep_retrying:
            self._stopped = error
            self._retry_at = None
            stats.next_refresh_at = None
            logger.error(
                "token refresh failed with a permanent error: %s; refreshing stopped for good "
                "(keep_retrying=False)",
                description,
            )
        else:
            spread = self._config.retry_config.jitter_percentage * (2.0 * self._fraction() - 1.0)
            delay = max(interval * (1.0 + spread), 0.0)
            self._retry_at = now + delay
            stats.next_refresh_at = self._retry_at
            logger.error(
                "token refresh failed with a permanent error: %s; next try in %.3f s "
                "(permanent_error_retry_interval)",
                description,
                delay,
            )
        self._broadcast.publish(error)

    # ----------------------------------------------------------------- public surface

    def __repr__(self) -> str:
        return (
            f"<{type(self).__name__} running={self._runner is not None} "
            f"expires_at={_when(self._stats.expires_at)} "
            f"consecutive_failures={self._stats.consecutive_failures} "
            f"stopped={self._stopped is not None}>"
        )

    @property
    def refresh_config(self) -> TokenRefreshConfig:
        """The `TokenRefreshConfig` this provider refreshes by."""
        return self._config

    @property
    def stats(self) -> RefreshStats:
        """Live counters: refreshes, failures, last error, expiry."""
        return self._stats

    @property
    def running(self) -> bool:
        """Whether a runner is actively refreshing right now."""
        return self._runner is not None

    @property
    def stopped(self) -> bool:
        """Whether the refresher gave up for good (only with ``keep_retrying=False``)."""
        return self._stopped is not None

    def start(self, retry_config: RetryConfig | None = None) -> None:
        """Arm the refresher with ``retry_config`` (if given) and return at once.

        No task is started here: the refresher runs in the task group that enters it (the
        `Client`, or ``async with provider:``). A provider that stopped for good is re-armed: its
        next runner tries again at once.
        """
        if retry_config is not None:
            if not isinstance(retry_config, RetryConfig):
                raise TypeError(
                    f"retry_config must be a RetryConfig, got {type(retry_config).__name__}"
                )
            self._config = replace(self._config, retry_config=retry_config)
        if self._stopped is not None:
            self._stopped = None
            self._failures = 0
            self._retry_at = None
            self._refresh_at = self._clock() if self._token is not None else None
        self._wake_runner()

    def request_refresh(self) -> None:
        """Ask for a new token soon (e.g. after the server refused the current one).

        The request is due at once, but never sooner than ``min_refresh_interval`` after the last
        token arrived, and it does not cut short the backoff of a failing round.
        """
        if self._retry_at is not None or self._token is None:
            return
        earliest = self._clock()
        if self._stats.last_refresh_at is not None:
            earliest = max(
                earliest, self._stats.last_refresh_at + self._config.min_refresh_interval
            )
        if self._refresh_at is None or earliest < self._refresh_at:
            self._refresh_at = earliest
            self._stats.next_refresh_at = earliest
            self._wake_runner()

    def subscribe(self) -> MemoryObjectReceiveStream[Credentials | TokenRefreshError]:
        """A new stream: the current credentials (if still valid), then every new item.

        When the current token has expired by the wall clock, a new one is requested at once.
        """
        valid = self._valid_credentials() is not None
        if not valid:
            self._refresh_if_expired()
        return self._broadcast.subscribe(replay_current=valid)

    async def current_credentials(self) -> Credentials:
        """Valid credentials now, waiting for the first token if there is none yet.

        When the current token has expired by the wall clock (a clock step, a suspended machine)
        before the refresher noticed, a new one is requested at once and awaited.
        Raises `TokenRefreshError` when there is no valid token and the latest round of attempts
        failed (or the refresher stopped for good). Waits for ever if nothing runs the refresher.
        """
        while True:
            version = self._broadcast.version
            credentials = self._valid_credentials()
            if credentials is not None:
                return credentials
            if self._stopped is not None:
                raise self._stopped.with_traceback(None)
            error = self._broadcast.error
            if error is not None:
                raise error.with_traceback(None)
            self._refresh_if_expired()
            await self._broadcast.wait_published(version)

    async def run(
        self, *, task_status: anyio.abc.TaskStatus[None] = anyio.TASK_STATUS_IGNORED
    ) -> None:
        """The refresher. Reports itself started at once; runs until cancelled.

        If another task group already runs it, this one stands by and takes over when that one
        stops. Returns (in every runner) when the refresher stops for good.
        """
        task_status.started()
        marker = object()
        while self._stopped is None:
            if self._runner is None:
                self._runner = marker
                try:
                    await self._refresh_loop()
                finally:
                    self._runner = None
                    self._wake_standby()
                return
            event = anyio.Event()
            self._standby.add(event)
            try:
                await event.wait()
            finally:
                self._standby.discard(event)

    async def __aenter__(self) -> TokenCredentialsProvider:
        """Run the refresher in a task group of its own until the ``async with`` block ends."""
        group = anyio.create_task_group()
        await group.__aenter__()
        try:
            await group.start(self.run)
        except BaseException as exc:
            group.cancel_scope.cancel()
            await group.__aexit__(type(exc), exc, exc.__traceback__)
            raise
        self._groups.setdefault(anyio.get_current_task().id, []).append(group)
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> bool | None:
        key = anyio.get_current_task().id
        groups = self._groups[key]
        group = groups.pop()
        if not groups:
            del self._groups[key]
        group.cancel_scope.cancel()
        if isinstance(exc, anyio.get_cancelled_exc_class()):
            return await group.__aexit__(exc_type, exc, tb)
        # Exit the group as if the body had ended normally: the body's own exception (if any)
        # then propagates unchanged instead of wrapped in an ExceptionGroup.
        await group.__aexit__(None, None, None)
        return None

    # ----------------------------------------------------------------- the loop

    def _valid_credentials(self) -> Credentials | None:
        token = self._token
        if token is None or self._credentials is None:
            return None
        if token.expires_on is not None and token.expires_on <= self._clock():
            return None
        return self._credentials

    def _refresh_if_expired(self) -> None:
        """The current token expired by the wall clock before the refresher saw it (it sleeps on
        the monotonic clock): make the next request due now and wake the refresher.

        A failing round keeps its backoff, and a stopped refresher stays stopped.
        """
        token = self._token
        if token is None or token.expires_on is None:
            return
        if self._retry_at is not None or self._stopped is not None:
            return
        now = self._clock()
        if token.expires_on > now:
            return
        if self._refresh_at is None or self._refresh_at > now:
            self._refresh_at = now
            self._stats.next_refresh_at = now
        self._wake_runner()

    def _wake_runner(self) -> None:
        if self._wake is not None:
            self._wake.set()

    def _wake_standby(self) -> None:
        standby, self._standby = self._standby, set()
        for event in standby:
            event.set()

    def _due(self) -> float | None:
        """When the next attempt is due (epoch seconds); None: not until asked."""
        if self._retry_at is not None:
            return self._retry_at
        if self._token is None:
            return -math.inf
        return self._refresh_at

    async def _refresh_loop(self) -> None:
        while self._stopped is None:
            due = self._due()
            if due is not None and due <= self._clock():
                await self._attempt()
                continue
            delay = sleep_time(self._clock(), due, _MAX_SLEEP)
            event = anyio.Event()
            self._wake = event
            try:
                with anyio.move_on_after(delay):
                    await event.wait()
            finally:
                if self._wake is event:
                    self._wake = None

    async def _attempt(self) -> None:
        timeout = self._config.request_timeout
        try:
            token: AccessToken | None = None
            with anyio.move_on_after(timeout) as scope:
                token = await self._fetch_token()
            if token is None and scope.cancelled_caught:
                raise TimeoutError(f"token request timed out after {timeout:g} s")
            if not isinstance(token, AccessToken):
                raise TypeError(f"_fetch_token returned {type(token).__name__}, not AccessToken")
            if not isinstance(token.token, str) or not token.token:
                raise ValueError("the identity provider returned an empty token")
            self._secrets.append(token.token)
            _check_time(token.expires_on, "expires_on")
            _check_time(token.refresh_on, "refresh_on")
            now = self._clock()
            if token.expires_on is not None and token.expires_on <= now:
                raise ValueError(
                    f"the identity provider returned a token that expired at "
                    f"{_when(token.expires_on)}"
                )
            credentials = self._credentials_for(token)
            if not isinstance(credentials, Credentials):
                raise TypeError(
                    f"_credentials_for returned {type(credentials).__name__}, not Credentials"
                )
            # The expiry travels with the credentials (set here, for every subclass).
            credentials = replace(credentials, expires_on=token.expires_on)
        except Exception as exc:
            self._on_failure(exc)
        else:
            self._on_success(token, credentials, now)

    def _fraction(self) -> float:
        """A random fraction for the jitter, kept in [0, 1] whatever the injected source says."""
        value = self._random()
        return min(max(value, 0.0), 1.0) if value == value else 0.5

    def _describe(self, exc: BaseException) -> str:
        try:
            text = str(exc)
        except Exception:
            text = "<unprintable error>"
        for secret in self._secrets:
            text = text.replace(secret, _REDACTED)
        if len(text) > _MAX_ERROR_TEXT:
            text = text[: _MAX_ERROR_TEXT - 3] + "..."
        name = type(exc).__name__
        return f"{name}: {text}" if text else name

    def _on_failure(self, exc: Exception) -> None:
        self._failures += 1
        failures = self._failures
        stats = self._stats
        stats.failures += 1
        stats.consecutive_failures = failures
        description = self._describe(exc)
        stats.last_error = description
        if self._is_permanent_error(exc):
            self._on_permanent_failure(exc, description)
            return
        max_attempts = self._config.retry_config.max_attempts
        delay = next_retry_delay(failures, self._config, self._fraction())
        now = self._clock()
        if failures < max_attempts:
            assert delay is not None
            self._retry_at = now + delay
            stats.next_refresh_at = self._retry_at
            logger.warning(
                "token request failed (attempt %d/%d): %s; retry %d/%d in %.3f s",
                failures,
                max_attempts,
                description,
                failures,
                max_attempts - 1,
                delay,
            )
            return
        error = TokenRefreshError(
            f"token refresh failed after {failures} attempt(s); last error: {description}"
        )
        error.__cause__ = exc
        if delay is None:
            self._stopped = error
            self._retry_at = None
            stats.next_refresh_at = None
            logger.error(
                "token refresh exhausted after %d attempt(s): %s; "
                "refreshing stopped for good (keep_retrying=False)",
                failures,
                description,
            )
        else:
            self._retry_at = now + delay
            stats.next_refresh_at = self._retry_at
            if failures == max_attempts:
                logger.error(
                    "token refresh exhausted after %d attempt(s): %s; still retrying every %.3f s",
                    failures,
                    description,
                    delay,
                )
            else:
                logger.warning(
                    "token request still failing (%d attempts): %s; next try in %.3f s",
                    failures,
                    description,
                    delay,
                )
        self._broadcast.publish(error)

    def _on_success(self, token: AccessToken, credentials: Credentials, now: float) -> None:
        failures = self._failures
        previous = self._credentials
        self._failures = 0
        self._retry_at = None
        self._token = token
        self._credentials = credentials
        self._refresh_at = self._refresh_time_for(token, now)
        stats = self._stats
        stats.refreshes += 1
        stats.consecutive_failures = 0
        stats.last_refresh_at = now
        stats.expires_at = token.expires_on
        stats.next_refresh_at = self._refresh_at
        if failures >= self._config.retry_config.max_attempts:
            logger.info("token refresh recovered after %d failed attempt(s)", failures)
        lifetime = "" if token.expires_on is None else f" (in {token.expires_on - now:.1f} s)"
        logger.info(
            "token refreshed for user %r: expires at %s%s; next refresh at %s",
            credentials.username,
            _when(token.expires_on),
            lifetime,
            _when(self._refresh_at),
        )
        # Equality ignores the expiry: the same token with a later expiry is published too, so
        # that subscribers learn it (a connection ends blocking waits by it).
        if (
            previous is None
            or credentials != previous
            or credentials.expires_on != previous.expires_on
            or self._broadcast.error is not None
        ):
            self._broadcast.publish(credentials)
