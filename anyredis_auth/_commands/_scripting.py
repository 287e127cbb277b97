"""Scripting: EVAL, EVALSHA, SCRIPT *, functions and FCALL; `Script` for register_script."""

from __future__ import annotations

import hashlib
from typing import TYPE_CHECKING, Any

from .._errors import ResponseError
from ._core import EncodableT, KeyT, Request, command

if TYPE_CHECKING:
    from collections.abc import Sequence

    from ._core import Runner

__all__ = ["Script", "ScriptingCommands"]


def _eval(script: str | bytes, numkeys: int, *keys_and_args: EncodableT) -> Request[Any]:
    """EVAL `script` with `numkeys` keys, then arguments: the script's reply, as is."""
    return ("EVAL", script, numkeys, *keys_and_args), None


def _evalsha(sha: str, numkeys: int, *keys_and_args: EncodableT) -> Request[Any]:
    """EVALSHA: run the cached script with this SHA1 (NOSCRIPT `ResponseError` if absent)."""
    return ("EVALSHA", sha, numkeys, *keys_and_args), None


def _script_load(script: str | bytes) -> Request[Any]:
    """SCRIPT LOAD: the SHA1 of the script, as the server sends it back."""
    return ("SCRIPT", "LOAD", script), None


class ScriptingCommands:
    """Scripting commands (`command` descriptors)."""

    eval = command(_eval)
    evalsha = command(_evalsha)
    script_load = command(_script_load)


class Script:
    """A Lua script run by its SHA1 (EVALSHA); sent in full once when the server lacks it.

    Made by ``con.register_script(text)``; ``await script(keys=[...], args=[...])`` runs it, on
    the connection it was registered with or on ``client=`` another one (redis-py's signature).
    """

    def __init__(self, registered_client: Runner, script: str | bytes) -> None:
        self.registered_client = registered_client
        self.script = script.encode() if isinstance(script, str) else script
        self.sha = hashlib.sha1(self.script).hexdigest()

    async def __call__(
        self,
        keys: Sequence[KeyT] | None = None,
        args: Sequence[EncodableT] | None = None,
        client: Runner | None = None,
    ) -> Any:
        """Run the script with `keys` and `args`."""
        target = self.registered_client if client is None else client
        keys_and_args = [*(keys or ()), *(args or ())]
        numkeys = len(keys or ())
        try:
            return await target.execute("EVALSHA", self.sha, numkeys, *keys_and_args)
        except ResponseError as exc:
            if exc.code != "NOSCRIPT":
                raise
        # EVAL both runs the script and caches it, so the next call's EVALSHA finds it.
        return await target.execute("EVAL", self.script, numkeys, *keys_and_args)
