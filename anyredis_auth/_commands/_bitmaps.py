"""Bitmap commands: GETBIT, SETBIT, BITCOUNT, BITPOS, BITOP, BITFIELD."""

from __future__ import annotations

__all__ = ["BitmapCommands"]


class BitmapCommands:
    """Bitmap commands: GETBIT, SETBIT, BITCOUNT, BITPOS, BITOP, BITFIELD."""
