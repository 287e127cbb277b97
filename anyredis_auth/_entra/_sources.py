"""Adapters from azure-identity credentials to one awaitable "get a token" call.

- an async credential (``AsyncTokenCredential`` / ``AsyncSupportsTokenInfo``) is awaited;
- a sync one (``TokenCredential`` / ``SupportsTokenInfo``; the CLI credentials) runs in a worker
  thread, abandoned (not waited for) when the refresher cancels the attempt;
- ``get_token_info`` is preferred (its ``refresh_on`` feeds the schedule), else ``get_token``;
- a chain tries its members in order and keeps the first that answers.

Imports nothing of azure: the objects are duck-typed, so this module loads without the extra.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Sequence
from typing import Any

import anyio
import anyio.to_thread

from .._auth._refresher import AccessToken

__all__ = [
    "ChainSource",
    "ChainUnavailableError",
    "CredentialSource",
    "MalformedTokenResponseError",
    "Source",
    "bypass_token_cache",
    "looks_async",
]


def looks_async(credential: object) -> bool:
    """Whether the credential's token methods are coroutine functions."""
    method = getattr(credential, "get_token_info", None) or getattr(credential, "get_token", None)
    if method is None:
        raise TypeError(
            f"{type(credential).__name__} is not a credential: it has neither get_token_info() "
            "nor get_token()"
        )
    return inspect.iscoroutinefunction(method)


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
    ``az`` versions print only local time): away from UTC the expiry is off by the UTC offset,
    so a token looks expired on arrival (east of UTC) or is refreshed after it expired (west).
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


async def _no_cached_token(*scopes: str, **kwargs: Any) -> None:
    return None


def bypass_token_cache(credential: object) -> None:
    """Make an ``azure.identity.aio`` credential that WE built ask the authority every time.

    azure-identity's credentials keep an in-memory token cache and, for a still-valid token,
    refuse to ask again within 30 s of the last request or more than 5 minutes before expiry.
    That would silently override the refresher's schedule (ratio, ``refresh_before_expiry``,
    `request_refresh` after the server refused a token): our refresher is the cache. This
    replaces the credential's (private) silent lookup, on the instance only, for the credentials
    this package constructs; never for a user's own credential. Should azure-identity rename
    it, this does nothing and the credential's own caching applies again (tokens still refresh,
    at the latest 5 minutes before expiry); ``tests/entra`` checks that each fetch is a request.
    """
    for member in getattr(credential, "credentials", None) or ():  # a chain (DefaultAzure...)
        bypass_token_cache(member)
    for target in (credential, getattr(credential, "_credential", None)):
        method = getattr(target, "_acquire_token_silently", None)
        if method is not None and inspect.iscoroutinefunction(method):
            target._acquire_token_silently = _no_cached_token  # type: ignore[union-attr]


class Source:
    """One way to get a token."""

    name: str = "credential"

    async def fetch(self, scopes: Sequence[str]) -> AccessToken:
        raise NotImplementedError

    async def aclose(self) -> None:
        return None


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
    ) -> None:
        self.credential = credential
        self.name = name
        self.owned = owned
        self.expiry_from_token = expiry_from_token
        self.is_async = looks_async(credential) if is_async is None else is_async
        self.uses_token_info = callable(getattr(credential, "get_token_info", None))

    def __repr__(self) -> str:
        kind = "async" if self.is_async else "sync"
        return f"<CredentialSource {self.name} ({kind}, {type(self.credential).__name__})>"

    async def fetch(self, scopes: Sequence[str]) -> AccessToken:
        try:
            return await self._fetch(scopes)
        except KeyError as exc:
            # azure-identity reads the token response with content["access_token"]: a response
            # without it surfaces as a bare KeyError. Say what it means.
            raise MalformedTokenResponseError(
                f"{self.name}: the identity provider's token response is malformed "
                f"(missing field {exc})"
            ) from exc

    async def _fetch(self, scopes: Sequence[str]) -> AccessToken:
        credential = self.credential
        method = credential.get_token_info if self.uses_token_info else credential.get_token
        if self.is_async:
            result = await method(*scopes)
        else:
            result = await anyio.to_thread.run_sync(
                functools.partial(method, *scopes), abandon_on_cancel=True
            )
            if inspect.isawaitable(result):
                if inspect.iscoroutine(result):
                    result.close()
                raise TypeError(
                    f"{type(credential).__name__}.{method.__name__}() returned an awaitable: "
                    "it is an async credential, but was taken for a sync one"
                )
        token = _to_access_token(result)
        if self.expiry_from_token:
            token = _expiry_from_claims(token)
        return token

    async def aclose(self) -> None:
        if not self.owned:
            return
        members = getattr(self.credential, "credentials", None)
        if self.is_async and isinstance(members, (tuple, list)):
            # azure.identity.aio's chains close their members with asyncio.gather (not on
            # trio): close them one by one here instead.
            for member in members:
                close = getattr(member, "close", None)
                if close is not None and inspect.iscoroutinefunction(close):
                    await close()
            return
        close = getattr(self.credential, "close", None)
        if close is None:
            return
        if inspect.iscoroutinefunction(close):
            await close()
        else:
            close()


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

    async def fetch(self, scopes: Sequence[str]) -> AccessToken:
        if self.chosen is not None:
            return await self.chosen.fetch(scopes)
        failures: list[str] = []
        for member in self.members:
            try:
                token = await member.fetch(scopes)
            except Exception as exc:
                text = str(exc).strip().splitlines()
                failures.append(f"{member.name}: {text[0] if text else type(exc).__name__}")
                continue
            self.chosen = member
            return token
        raise ChainUnavailableError(f"{self.name}: no credential answered ({'; '.join(failures)})")

    async def aclose(self) -> None:
        for member in self.members:
            with anyio.CancelScope(shield=True):
                await member.aclose()


class MalformedTokenResponseError(ValueError):
    """The identity provider answered, but not with a usable token response."""


class ChainUnavailableError(Exception):
    """No member of a credential chain could get a token."""
