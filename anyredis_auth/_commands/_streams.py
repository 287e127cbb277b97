"""Stream commands: XADD, XREAD, consumer groups, XPENDING, XCLAIM, XINFO, ..."""

from __future__ import annotations

__all__ = ["StreamCommands"]


class StreamCommands:
    """Stream commands: XADD, XREAD, consumer groups, XPENDING, XCLAIM, XINFO, ..."""
