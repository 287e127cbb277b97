"""Which token-request failures are permanent (retrying soon cannot help) and which transient.

Permanent: the configuration is wrong and stays wrong until someone changes it, so the provider
tells its subscribers at once and retries only every
``TokenRefreshConfig.permanent_error_retry_interval`` (default 5 minutes) instead of on the
back-off policy:

- Entra ID refused the application or its credential: ``AADSTS`` codes in `PERMANENT_AADSTS`
  (invalid or expired client secret ``AADSTS7000215`` / ``AADSTS7000222``, unknown client
  ``AADSTS700016``, unknown tenant ``AADSTS90002`` / ``AADSTS900023``, a certificate that is not
  registered ``AADSTS700027``, invalid scope ``AADSTS70011``, missing consent...);
- an identity endpoint answered 400, 401 or 403 (a managed identity that is not assigned, a
  request the authority will refuse again) without a code known to be transient;
- the token itself cannot be used: no ``oid`` claim, not a JWT (`AuthenticationError`);
- a developer tool is not logged in (``az login`` / ``azd auth login`` needed).

Everything else is transient and stays on the back-off policy: timeouts, refused or reset
connections, TLS failures (a proxy being restarted), HTTP 408/429/5xx, malformed responses.
"""

from __future__ import annotations

import re

from .._errors import AuthenticationError

__all__ = ["PERMANENT_AADSTS", "TRANSIENT_AADSTS", "is_permanent_error"]

PERMANENT_AADSTS = frozenset(
    {
        7000215,  # invalid client secret
        7000222,  # expired client secret
        7000218,  # neither client_assertion nor client_secret
        700016,  # application not found in the directory
        700023,  # invalid authority / tenant for the app
        700027,  # client assertion: signature / certificate not registered
        700025,  # client is public, no secret allowed
        90002,  # tenant not found
        900023,  # invalid tenant id
        90014,  # a required field is missing
        70011,  # invalid scope
        70002,  # invalid client credentials
        500011,  # resource principal not found in the tenant
        65001,  # no consent
        53003,  # blocked by conditional access
        50034,  # user account not found
        50053,  # account locked
        50057,  # account disabled
        7000112,  # application disabled
    }
)
# Codes that look like client errors but clear up by themselves.
TRANSIENT_AADSTS = frozenset(
    {
        700024,  # client assertion not within its valid time range (a rotated token file)
        50196,  # loop detected: throttling
        90033,  # a transient error occurred
        50058,  # silent sign-in: session not found
        90015,  # requested query string too long? kept transient
    }
)
_AADSTS = re.compile(r"AADSTS(\d+)")
_LOGIN_NEEDED = ("az login", "azd auth login", "connect-azaccount")


def _status_of(exc: BaseException) -> int | None:
    status = getattr(exc, "status_code", None)
    if isinstance(status, int):
        return status
    response = getattr(exc, "response", None)
    status = getattr(response, "status_code", None)
    return status if isinstance(status, int) else None


def _chain(exc: BaseException) -> list[BaseException]:
    seen: list[BaseException] = []
    pending = [exc]
    while pending and len(seen) < 32:
        current = pending.pop(0)
        if any(current is item for item in seen):
            continue
        seen.append(current)
        for nested in (current.__cause__, current.__context__):
            if nested is not None:
                pending.append(nested)
        for nested in getattr(current, "causes", None) or ():
            if isinstance(nested, BaseException):
                pending.append(nested)
    return seen


def is_permanent_error(exc: BaseException) -> bool:
    """Whether retrying ``exc`` soon cannot help (see the module docstring)."""
    transient_status = False
    permanent_status = False
    for item in _chain(exc):
        if isinstance(item, AuthenticationError):
            return True
        try:
            text = str(item)
        except Exception:
            text = ""
        codes = {int(code) for code in _AADSTS.findall(text)}
        if codes & TRANSIENT_AADSTS:
            return False
        if codes & PERMANENT_AADSTS:
            return True
        lowered = text.lower()
        if any(hint in lowered for hint in _LOGIN_NEEDED):
            return True
        status = _status_of(item)
        if status is not None:
            if status in (400, 401, 403):
                permanent_status = True
            elif status in (408, 429) or status >= 500:
                transient_status = True
    return permanent_status and not transient_status
