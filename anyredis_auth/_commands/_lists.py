"""List commands, blocking ones included."""

from __future__ import annotations

__all__ = ["ListCommands"]


class ListCommands:
    """List commands, blocking ones included."""
