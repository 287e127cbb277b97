"""Typed commands with redis-py's names, parameters and return values, written once for every
connection kind (see `_core`): `MultiplexedConnection`, `Pipeline`, `ClusterConnection` and
`ClusterPipeline` all mix in `Commands`.
"""

from __future__ import annotations

from ._bitmaps import BitmapCommands
from ._connection_only import ConnectionOnlyCommands
from ._core import Queue, Runner, command, overloaded, typed_commands
from ._geo import GeoCommands
from ._hashes import HashCommands
from ._hyperloglog import HyperLogLogCommands
from ._keys import KeyCommands
from ._lists import ListCommands
from ._pubsub import PublishCommands
from ._scripting import Script, ScriptingCommands
from ._server import ServerCommands
from ._sets import SetCommands
from ._streams import StreamCommands
from ._strings import StringCommands
from ._zsets import SortedSetCommands

__all__ = [
    "Commands",
    "ConnectionOnlyCommands",
    "Queue",
    "Runner",
    "Script",
    "command",
    "overloaded",
    "typed_commands",
]


class Commands(
    StringCommands,
    KeyCommands,
    BitmapCommands,
    HashCommands,
    ListCommands,
    SetCommands,
    SortedSetCommands,
    HyperLogLogCommands,
    GeoCommands,
    StreamCommands,
    ScriptingCommands,
    ServerCommands,
    PublishCommands,
):
    """Every typed command: mixed into connections (with `Runner`) and pipelines (`Queue`)."""
