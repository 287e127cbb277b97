"""Hash commands."""

from __future__ import annotations

__all__ = ["HashCommands"]


class HashCommands:
    """Hash commands."""
