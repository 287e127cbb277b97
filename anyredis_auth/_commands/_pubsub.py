"""Publishing: PUBLISH and SPUBLISH (subscribing needs its own connection)."""

from __future__ import annotations

__all__ = ["PublishCommands"]


class PublishCommands:
    """Publishing: PUBLISH and SPUBLISH (subscribing needs its own connection)."""
