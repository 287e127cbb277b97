"""Scripting: EVAL, EVALSHA, SCRIPT *, functions and FCALL; `Script` for register_script."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any, Literal

from .._errors import ResponseError
from ._core import EncodableT, KeyT, Queue, Request, command
from ._replies import key_list, maps_as_pairs, ok, text

if TYPE_CHECKING:
    from ._core import Runner

__all__ = ["LEFT_TO_EXECUTE", "Script", "ScriptingCommands"]

#: Scripting commands without a method, and why.
LEFT_TO_EXECUTE: dict[str, str] = {
    "SCRIPT DEBUG": "the Lua debugger takes over the connection (redis-cli --ldb); "
    "redis-py leaves it out too",
}


# -- parsers -----------------------------------------------------------------------------------


def _flags(reply: Any) -> list[bool]:
    return [bool(found) for found in reply]


def _sha(reply: Any) -> str:
    # redis-py returns the SHA1 as str, whatever decode_responses says.
    return str(text(reply))


def _payload(reply: Any) -> bytes:
    # redis-py never decodes FUNCTION DUMP's binary payload. A decoded connection decoded it
    # with surrogateescape (utf-8, the default encoding), which this reverses losslessly.
    return reply.encode("utf-8", "surrogateescape") if isinstance(reply, str) else reply


def _libraries(reply: Any) -> list[Any]:
    # RESP2's nested flat lists, as redis-py protocol=2 returns them (RESP3 sends maps).
    return list(maps_as_pairs(reply))


# -- EVAL / EVALSHA ----------------------------------------------------------------------------


def _eval(script: str | bytes, numkeys: int, *keys_and_args: EncodableT) -> Request[Any]:
    """EVAL `script` with `numkeys` keys, then arguments: the script's reply, as is."""
    return ("EVAL", script, numkeys, *keys_and_args), None


def _eval_ro(script: str | bytes, numkeys: int, *keys_and_args: EncodableT) -> Request[Any]:
    """EVAL_RO, the read-only EVAL: the script's reply, as is."""
    return ("EVAL_RO", script, numkeys, *keys_and_args), None


def _evalsha(sha: str, numkeys: int, *keys_and_args: EncodableT) -> Request[Any]:
    """EVALSHA: the cached script's reply (``NOSCRIPT`` `ResponseError` if it is not cached)."""
    return ("EVALSHA", sha, numkeys, *keys_and_args), None


def _evalsha_ro(sha: str, numkeys: int, *keys_and_args: EncodableT) -> Request[Any]:
    """EVALSHA_RO, the read-only EVALSHA: the cached script's reply."""
    return ("EVALSHA_RO", sha, numkeys, *keys_and_args), None


# -- SCRIPT ------------------------------------------------------------------------------------


def _script_exists(*args: str) -> Request[list[bool]]:
    """SCRIPT EXISTS: for each SHA1, whether the script cache holds it."""
    return ("SCRIPT", "EXISTS", *args), _flags


def _script_flush(sync_type: Literal["SYNC", "ASYNC"] | None = None) -> Request[bool]:
    """SCRIPT FLUSH (``sync_type`` SYNC or ASYNC, or the server's default): True."""
    if sync_type is None:
        return ("SCRIPT", "FLUSH"), ok
    if sync_type not in ("SYNC", "ASYNC"):
        raise ValueError(f"sync_type must be 'SYNC', 'ASYNC' or None, not {sync_type!r}")
    return ("SCRIPT", "FLUSH", sync_type), ok


def _script_kill() -> Request[bool]:
    """SCRIPT KILL the running read-only script: True (``NOTBUSY`` error when none runs)."""
    return ("SCRIPT", "KILL"), ok


def _script_load(script: str | bytes) -> Request[str]:
    """SCRIPT LOAD: the script's SHA1, as a str."""
    return ("SCRIPT", "LOAD", script), _sha


# -- functions ---------------------------------------------------------------------------------


def _function_load(code: str, replace: bool | None = False) -> Request[Any]:
    """FUNCTION LOAD a library (``replace``: overwrite one of the same name): its name."""
    if replace:
        return ("FUNCTION", "LOAD", "REPLACE", code), None
    return ("FUNCTION", "LOAD", code), None


def _function_delete(library: str) -> Request[bool]:
    """FUNCTION DELETE a library and its functions: True."""
    return ("FUNCTION", "DELETE", library), ok


def _function_flush(mode: str = "SYNC") -> Request[bool]:
    """FUNCTION FLUSH every library (``mode`` SYNC or ASYNC): True."""
    return ("FUNCTION", "FLUSH", mode), ok


def _function_list(library: str | None = "*", withcode: bool | None = False) -> Request[list[Any]]:
    """FUNCTION LIST: the libraries matching `library`, each a flat ``[name, value, ...]`` list."""
    if withcode:
        return ("FUNCTION", "LIST", "LIBRARYNAME", library or "*", "WITHCODE"), _libraries
    return ("FUNCTION", "LIST", "LIBRARYNAME", library or "*"), _libraries


def _function_dump() -> Request[bytes]:
    """FUNCTION DUMP: the serialized libraries, as bytes (for `function_restore`)."""
    return ("FUNCTION", "DUMP"), _payload


def _function_restore(payload: bytes | str, policy: str | None = "APPEND") -> Request[bool]:
    """FUNCTION RESTORE libraries from a dump (``policy`` APPEND, REPLACE or FLUSH): True."""
    if policy is None:
        return ("FUNCTION", "RESTORE", payload), ok
    return ("FUNCTION", "RESTORE", payload, policy), ok


def _function_kill() -> Request[Any]:
    """FUNCTION KILL the running read-only function: ``OK`` as sent (``NOTBUSY`` when none)."""
    return ("FUNCTION", "KILL"), None


def _function_stats() -> Request[Any]:
    """FUNCTION STATS: the running function and the engines, as nested flat lists."""
    return ("FUNCTION", "STATS"), maps_as_pairs


def _fcall(function: str, numkeys: int, *keys_and_args: EncodableT) -> Request[Any]:
    """FCALL `function` with `numkeys` keys, then arguments: the function's reply, as is."""
    return ("FCALL", function, numkeys, *keys_and_args), None


def _fcall_ro(function: str, numkeys: int, *keys_and_args: EncodableT) -> Request[Any]:
    """FCALL_RO, the read-only FCALL: the function's reply, as is."""
    return ("FCALL_RO", function, numkeys, *keys_and_args), None


class ScriptingCommands:
    """Scripting commands (`command` descriptors)."""

    eval = command(_eval)
    eval_ro = command(_eval_ro)
    evalsha = command(_evalsha)
    evalsha_ro = command(_evalsha_ro)
    script_exists = command(_script_exists)
    script_flush = command(_script_flush)
    script_kill = command(_script_kill)
    script_load = command(_script_load)
    function_load = command(_function_load)
    function_delete = command(_function_delete)
    function_flush = command(_function_flush)
    function_list = command(_function_list)
    function_dump = command(_function_dump)
    function_restore = command(_function_restore)
    function_kill = command(_function_kill)
    function_stats = command(_function_stats)
    fcall = command(_fcall)
    fcall_ro = command(_fcall_ro)


class Script:
    """A Lua script run by its SHA1 (EVALSHA); sent in full once when the server lacks it.

    Made by ``con.register_script(text)``; ``await script(keys=[...], args=[...])`` runs it, on
    the connection it was registered with or on ``client=`` another one (redis-py's signature).
    Given a pipeline as ``client``, it queues the script there (as EVAL: a pipeline cannot fall
    back on NOSCRIPT) and returns the pipeline.
    A str (or bytes) given as `keys` or `args` is one value, not a sequence of characters.
    """

    def __init__(self, registered_client: Runner, script: str | bytes) -> None:
        self.registered_client = registered_client
        #: The script as given (redis-py keeps it so too).
        self.script = script
        self.sha = hashlib.sha1(script.encode() if isinstance(script, str) else script).hexdigest()

    async def __call__(
        self,
        keys: Sequence[KeyT] | KeyT | None = None,
        args: Iterable[EncodableT] | EncodableT | None = None,
        client: Runner | Queue | None = None,
    ) -> Any:
        """Run the script with `keys` and `args`: its reply, as is."""
        target = self.registered_client if client is None else client
        given: Any = keys  # one key on its own, or several
        key_values = [] if given is None else key_list(given)
        numkeys = len(key_values)
        if args is not None:
            given = args
            key_values += key_list(given)
        if isinstance(target, Queue):
            return target._queue(("EVAL", self.script, numkeys, *key_values), None)
        try:
            return await target.execute("EVALSHA", self.sha, numkeys, *key_values)
        except ResponseError as exc:
            if exc.code != "NOSCRIPT":
                raise
        # EVAL both runs the script and caches it, so the next call's EVALSHA finds it (redis-py
        # sends SCRIPT LOAD and EVALSHA again: one round trip more for the same effect).
        return await target.execute("EVAL", self.script, numkeys, *key_values)
