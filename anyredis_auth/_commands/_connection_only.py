"""Typed methods only a connection has (not a pipeline): the ``*scan_iter`` iterators, and
`register_script`."""

from __future__ import annotations

from ._core import Runner
from ._scripting import Script

__all__ = ["ConnectionOnlyCommands"]


class ConnectionOnlyCommands(Runner):
    """Mixed into `MultiplexedConnection` and `ClusterConnection` after `Commands`."""

    def register_script(self, script: str | bytes) -> Script:
        """A `Script` bound to this connection: EVALSHA, falling back to EVAL on NOSCRIPT."""
        return Script(self, script)
