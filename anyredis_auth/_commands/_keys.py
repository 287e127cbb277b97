"""Keys and generic commands: DEL, EXISTS, expiry, COPY, DUMP/RESTORE, SCAN, ..."""

from __future__ import annotations

__all__ = ["KeyCommands"]


class KeyCommands:
    """Keys and generic commands: DEL, EXISTS, expiry, COPY, DUMP/RESTORE, SCAN, ..."""
