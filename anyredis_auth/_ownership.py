"""What every client that owns tasks shares: entering and leaving its task group, and the rule
that tokens never travel in clear text to another machine."""

from __future__ import annotations

import anyio
import anyio.abc

from ._auth import StreamingCredentialsProvider
from ._options import ConnectionOptions

__all__ = ["check_transport", "close_group", "open_group", "refresh_before_expiry"]


def check_transport(
    options: ConnectionOptions, provider: StreamingCredentialsProvider | None
) -> None:
    """Refuse a provider's tokens over plain TCP to a host that is not loopback."""
    if (
        provider is not None
        and not options.tls
        and not options.is_local
        and not options.allow_insecure_transport
    ):
        raise ValueError(
            f"refusing to send tokens in clear text to {options.address}: use rediss:// "
            "(Azure requires TLS), or pass allow_insecure_transport=True"
        )


async def open_group(provider: StreamingCredentialsProvider | None) -> anyio.abc.TaskGroup:
    """Enter a task group and start the provider's refresher in it (unless someone runs it).

    Cancelled (or failed) while starting: no cancel scope is left entered on the caller's task,
    and no task behind.
    """
    group = anyio.create_task_group()
    await group.__aenter__()
    try:
        if provider is not None:
            await group.start(provider.run)
    except BaseException as exc:
        group.cancel_scope.cancel()
        await group.__aexit__(type(exc), exc, exc.__traceback__)
        raise
    return group


async def close_group(group: anyio.abc.TaskGroup) -> None:
    """End every task of `group`. Our tasks never raise, so the group ends clean; the body's
    own exception, if any, propagates as it is, not wrapped in a group."""
    group.cancel_scope.cancel()
    await group.__aexit__(None, None, None)


def refresh_before_expiry(provider: object) -> float | None:
    """The provider's ``refresh_config.refresh_before_expiry`` (None: it has none)."""
    config = getattr(provider, "refresh_config", None)
    before = getattr(config, "refresh_before_expiry", None)
    if isinstance(before, (int, float)) and not isinstance(before, bool):
        return float(before)
    return None
