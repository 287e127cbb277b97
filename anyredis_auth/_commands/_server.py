"""Server and connection basics: PING, ECHO, INFO, DBSIZE, TIME, CONFIG GET/SET, ..."""

from __future__ import annotations

__all__ = ["ServerCommands"]


class ServerCommands:
    """Server and connection basics: PING, ECHO, INFO, DBSIZE, TIME, CONFIG GET/SET, ..."""
