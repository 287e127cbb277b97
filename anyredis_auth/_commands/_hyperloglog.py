"""HyperLogLog commands: PFADD, PFCOUNT, PFMERGE."""

from __future__ import annotations

__all__ = ["HyperLogLogCommands"]


class HyperLogLogCommands:
    """HyperLogLog commands: PFADD, PFCOUNT, PFMERGE."""
