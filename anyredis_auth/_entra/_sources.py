"""Adapters from azure-identity credentials to one awaitable "get a token" call.

Public azure-identity / azure-core API only: no private method is called or replaced.

- `FreshSource` (the credentials this package builds): a new ``azure.identity.aio`` credential
  per token request, all of them on one shared transport. A new credential has an empty token
  cache, so every refresh on the refresher's schedule is exactly one token request.
- `CredentialSource` (a user's own credential, and the CLI credentials): one credential for the
  provider's life. A user's credential keeps its own cache (``cached=True``): the provider then
  schedules refreshes when that cache hands out a new token (``refresh_on``, or expiry minus a
  random 4-5 minutes), and a forced refresh (`EntraIdCredentialsProvider.request_refresh`, after
  the server refused a token) passes a ``claims`` challenge in ``TokenRequestOptions``, which
  azure-identity answers with a new token instead of the cached one.
- A sync credential (``TokenCredential`` / ``SupportsTokenInfo``: the CLI credentials, a user's
  sync credential) runs in a worker thread under this module's own limit (`SYNC_CALL_LIMIT`
  threads at a time, each bounded by `SYNC_CALL_TIMEOUT`), never anyio's default thread limiter:
  a call the refresher gives up on is abandoned, and keeps its slot until its thread really ends,
  so hung calls cannot pile up threads without bound or starve other ``to_thread`` users.
- `ChainSource` tries its members in order and keeps the first that answers.

Imports nothing of azure at module level: the objects are duck-typed.
"""

from __future__ import annotations

import functools
import inspect
import json
import threading
import time
from collections.abc import Callable, Sequence
from typing import Any

import anyio
import anyio.to_thread

from .._auth._refresher import AccessToken

__all__ = [
    "SYNC_CALL_LIMIT",
    "SYNC_CALL_TIMEOUT",
    "ChainSource",
    "ChainUnavailableError",
    "CredentialSource",
    "FreshSource",
    "MalformedTokenResponseError",
    "Source",
    "SyncCredentialAdapter",
    "SyncCredentialBusyError",
    "claims_challenge",
    "looks_async",
    "run_sync_call",
]

# At most this many sync credential calls run in worker threads at once (process-wide); a call
# abandoned by the refresher keeps its slot until its thread ends.
SYNC_CALL_LIMIT = 8
# A sync credential call is abandoned after this long, whatever the refresher's request_timeout.
SYNC_CALL_TIMEOUT = 120.0


class SyncCredentialBusyError(RuntimeError):
    """Too many sync credential calls are still running (abandoned after timeouts)."""


class _SyncSlots:
    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.running = 0
        self._lock = threading.Lock()

    def take(self) -> None:
        with self._lock:
            if self.running >= self.limit:
                raise SyncCredentialBusyError(
                    f"{self.running} sync credential calls are still running (a credential that "
                    f"hangs?); not starting another one (the limit is {self.limit})"
                )
            self.running += 1

    def give_back(self) -> None:
        with self._lock:
            self.running -= 1


_slots = _SyncSlots(SYNC_CALL_LIMIT)


async def run_sync_call(function: Callable[[], Any], *, time_limit: float | None = None) -> Any:
    """Run a blocking credential call in a worker thread of its own limiter, abandoned (not
    waited for) on cancellation or after ``time_limit`` (default `SYNC_CALL_TIMEOUT`)."""
    _slots.take()

    def work() -> Any:
        try:
            return function()
        finally:
            _slots.give_back()

    bound = SYNC_CALL_TIMEOUT if time_limit is None else time_limit
    try:
        with anyio.fail_after(bound):
            # A limiter per call: these threads never count against anyio's default limiter;
            # the process-wide bound is `_slots`, held until the thread really ends.
            return await anyio.to_thread.run_sync(
                work, abandon_on_cancel=True, limiter=anyio.CapacityLimiter(1)
            )
    except TimeoutError:
        raise TimeoutError(
            f"the sync credential call took longer than {bound:g} s and was abandoned"
        ) from None
    except BaseException:
        raise


def looks_async(credential: object) -> bool:
    """Whether the credential's token methods are coroutine functions."""
    method = getattr(credential, "get_token_info", None) or getattr(credential, "get_token", None)
    if method is None:
        raise TypeError(
            f"{type(credential).__name__} is not a credential: it has neither get_token_info() "
            "nor get_token()"
        )
    return inspect.iscoroutinefunction(method)


def claims_challenge(now: float | None = None) -> str:
    """A claims challenge asking for a token issued from ``now`` on (CAE's ``nbf`` form): what a
    resource answers after refusing a token. azure-identity skips its cache for it."""
    value = str(int(time.time() if now is None else now))
    return json.dumps({"access_token": {"nbf": {"essential": True, "value": value}}})


def _to_access_token(result: Any) -> AccessToken:
    token = getattr(result, "token", None)
    expires_on = getattr(result, "expires_on", None)
    if not isinstance(token, str):
        raise TypeError(
            f"the credential returned {type(result).__name__}, not an AccessToken / "
            "AccessTokenInfo with a str token"
        )
    if isinstance(expires_on, bool) or not isinstance(expires_on, (int, float)):
        raise TypeError(
            f"the credential's token has expires_on={type(expires_on).__name__}, not a number"
        )
    refresh_on = getattr(result, "refresh_on", None)
    if isinstance(refresh_on, bool) or not isinstance(refresh_on, (int, float)):
        refresh_on = None
    return AccessToken(token, float(expires_on), float(refresh_on) if refresh_on else None)


def _expiry_from_claims(token: AccessToken) -> AccessToken:
    """The token with ``expires_on`` from its own ``exp`` claim, when it is a JWT that has one.

    azure-identity reads the CLIs' printed expiry as local time, but ``azd`` prints UTC (and old
    ``az`` versions print only local time): away from UTC the expiry is off by the UTC offset.
    The token's ``exp`` claim is the authority's own word.
    """
    from ._jwt import jwt_claims

    try:
        exp = jwt_claims(token.token).get("exp")
    except Exception:
        return token
    if isinstance(exp, bool) or not isinstance(exp, (int, float)) or exp <= 0:
        return token
    refresh_on = token.refresh_on
    if refresh_on is not None and refresh_on >= exp:
        refresh_on = None
    return AccessToken(token.token, float(exp), refresh_on)


async def _call(
    credential: Any, scopes: Sequence[str], *, is_async: bool, claims: str | None
) -> AccessToken:
    """One ``get_token_info`` (preferred) or ``get_token`` call, awaited or in a thread."""
    uses_token_info = callable(getattr(credential, "get_token_info", None))
    if uses_token_info:
        method = credential.get_token_info
        kwargs: dict[str, Any] = {"options": {"claims": claims}} if claims else {}
    else:
        method = credential.get_token
        kwargs = {"claims": claims} if claims else {}
    if is_async:
        result = await method(*scopes, **kwargs)
    else:
        result = await run_sync_call(functools.partial(method, *scopes, **kwargs))
        if inspect.isawaitable(result):
            if inspect.iscoroutine(result):
                result.close()
            raise TypeError(
                f"{type(credential).__name__}.{method.__name__}() returned an awaitable: "
                "it is an async credential, but was taken for a sync one"
            )
    return _to_access_token(result)


async def _close(credential: Any, *, is_async: bool) -> None:
    members = getattr(credential, "credentials", None)
    if is_async and isinstance(members, (tuple, list)):
        # azure.identity.aio's chains close their members with asyncio.gather (not on trio):
        # close them one by one here instead.
        for member in members:
            await _close(
                member, is_async=inspect.iscoroutinefunction(getattr(member, "close", None))
            )
        return
    close = getattr(credential, "close", None)
    if close is None:
        return
    if inspect.iscoroutinefunction(close):
        await close()
    else:
        close()


class Source:
    """One way to get a token."""

    name: str = "credential"
    # Whether the credential keeps its own token cache (then the provider schedules refreshes
    # when that cache renews, and forces one with a claims challenge).
    cached: bool = False

    async def fetch(self, scopes: Sequence[str], *, force: bool = False) -> AccessToken:
        try:
            return await self._fetch(scopes, force)
        except KeyError as exc:
            # azure-identity reads the token response with content["access_token"]: a response
            # without it surfaces as a bare KeyError. Say what it means.
            raise MalformedTokenResponseError(
                f"{self.name}: the identity provider's token response is malformed "
                f"(missing field {exc})"
            ) from exc

    async def _fetch(self, scopes: Sequence[str], force: bool) -> AccessToken:
        raise NotImplementedError

    async def aclose(self) -> None:
        return None


class FreshSource(Source):
    """A new async credential per request (``factory()``), on one shared transport.

    The credential is closed after each request; the transport it was given must survive that
    (`SharedTransport`), and is closed by `aclose`.
    """

    def __init__(
        self, factory: Callable[[], Any], *, name: str, transport: Any | None = None
    ) -> None:
        self.factory = factory
        self.name = name
        self.transport = transport

    def __repr__(self) -> str:
        return f"<FreshSource {self.name}>"

    async def _fetch(self, scopes: Sequence[str], force: bool) -> AccessToken:
        credential = self.factory()
        try:
            return await _call(credential, scopes, is_async=True, claims=None)
        finally:
            with anyio.CancelScope(shield=True):
                await _close(credential, is_async=True)

    async def aclose(self) -> None:
        if self.transport is not None:
            with anyio.CancelScope(shield=True):
                await self.transport.close()


class CredentialSource(Source):
    """An azure-core credential (sync or async); closed on `aclose` only when ``owned``."""

    def __init__(
        self,
        credential: Any,
        *,
        name: str,
        owned: bool,
        is_async: bool | None = None,
        expiry_from_token: bool = False,
        cached: bool = False,
    ) -> None:
        self.credential = credential
        self.name = name
        self.owned = owned
        self.expiry_from_token = expiry_from_token
        self.cached = cached
        self.is_async = looks_async(credential) if is_async is None else is_async

    def __repr__(self) -> str:
        kind = "async" if self.is_async else "sync"
        return f"<CredentialSource {self.name} ({kind}, {type(self.credential).__name__})>"

    async def _fetch(self, scopes: Sequence[str], force: bool) -> AccessToken:
        claims = claims_challenge() if force and self.cached else None
        token = await _call(self.credential, scopes, is_async=self.is_async, claims=claims)
        if self.expiry_from_token:
            token = _expiry_from_claims(token)
        return token

    async def aclose(self) -> None:
        if self.owned:
            await _close(self.credential, is_async=self.is_async)


class SyncCredentialAdapter:
    """A sync credential seen as an async one (``get_token`` / ``get_token_info`` awaitable),
    run by `run_sync_call`: how the CLI credentials join an ``azure.identity.aio`` chain on
    trio (azure-identity's async CLI credentials use asyncio subprocesses).

    The worker thread sees the caller's context variables (anyio copies them), so the chain's
    own state (for example "inside DefaultAzureCredential") reaches the sync credential.
    """

    def __init__(self, credential: Any, *, expiry_from_token: bool = True) -> None:
        self.credential = credential
        self.expiry_from_token = expiry_from_token

    def __repr__(self) -> str:
        return f"<SyncCredentialAdapter {type(self.credential).__name__}>"

    @property  # type: ignore[misc]
    def __class__(self) -> type:
        # azure-identity's chains name members by class in their messages and logs.
        return type(self.credential)

    async def get_token(self, *scopes: str, **kwargs: Any) -> Any:
        from azure.core.credentials import AccessToken as AzureAccessToken

        result = await run_sync_call(
            functools.partial(self.credential.get_token, *scopes, **kwargs)
        )
        if self.expiry_from_token:
            fixed = _expiry_from_claims(_to_access_token(result))
            return AzureAccessToken(fixed.token, int(fixed.expires_on or 0))
        return result

    async def get_token_info(self, *scopes: str, options: Any = None) -> Any:
        from azure.core.credentials import AccessTokenInfo

        method = getattr(self.credential, "get_token_info", None)
        if method is None:
            token = await self.get_token(*scopes, **dict(options or {}))
            return AccessTokenInfo(token.token, token.expires_on)
        result = await run_sync_call(functools.partial(method, *scopes, options=options))
        if self.expiry_from_token:
            fixed = _expiry_from_claims(_to_access_token(result))
            refresh_on = int(fixed.refresh_on) if fixed.refresh_on else None
            return AccessTokenInfo(fixed.token, int(fixed.expires_on or 0), refresh_on=refresh_on)
        return result

    async def close(self) -> None:
        close = getattr(self.credential, "close", None)
        if close is not None:
            close()

    async def __aenter__(self) -> SyncCredentialAdapter:
        return self

    async def __aexit__(self, *args: Any) -> None:
        await self.close()


class ChainSource(Source):
    """Members tried in order; the first that answers is kept for good."""

    def __init__(self, members: Sequence[Source], *, name: str) -> None:
        if not members:
            raise ValueError("a credential chain needs at least one member")
        self.members = list(members)
        self.name = name
        self.chosen: Source | None = None

    def __repr__(self) -> str:
        chosen = self.chosen.name if self.chosen is not None else None
        return f"<ChainSource {self.name} members={[m.name for m in self.members]} chosen={chosen}>"

    async def fetch(self, scopes: Sequence[str], *, force: bool = False) -> AccessToken:
        if self.chosen is not None:
            return await self.chosen.fetch(scopes, force=force)
        failures: list[str] = []
        causes: list[BaseException] = []
        for member in self.members:
            try:
                token = await member.fetch(scopes, force=force)
            except Exception as exc:
                text = str(exc).strip().splitlines()
                failures.append(f"{member.name}: {text[0] if text else type(exc).__name__}")
                causes.append(exc)
                continue
            self.chosen = member
            return token
        error = ChainUnavailableError(
            f"{self.name}: no credential answered ({'; '.join(failures)})"
        )
        error.causes = causes
        raise error

    async def aclose(self) -> None:
        for member in self.members:
            with anyio.CancelScope(shield=True):
                await member.aclose()


class MalformedTokenResponseError(ValueError):
    """The identity provider answered, but not with a usable token response."""


class ChainUnavailableError(Exception):
    """No member of a credential chain could get a token."""

    causes: list[BaseException] = []
