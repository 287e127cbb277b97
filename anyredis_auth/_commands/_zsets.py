"""Sorted-set commands: the ZRANGE family, the *STORE commands, ZRANDMEMBER, ZMSCORE, ..."""

from __future__ import annotations

__all__ = ["SortedSetCommands"]


class SortedSetCommands:
    """Sorted-set commands: the ZRANGE family, the *STORE commands, ZRANDMEMBER, ZMSCORE, ..."""
