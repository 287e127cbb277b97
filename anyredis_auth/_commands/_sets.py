"""Set commands."""

from __future__ import annotations

__all__ = ["SetCommands"]


class SetCommands:
    """Set commands."""
