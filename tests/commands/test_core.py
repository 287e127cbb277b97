"""The typed-command machinery itself: what the generated methods send."""

from __future__ import annotations

import inspect
from typing import Any

import pytest

from anyredis_auth import MultiplexedConnection, Pipeline
from anyredis_auth._commands import Commands, command, typed_commands

PLAIN = {name: one for name, one in typed_commands(Commands).items() if one.plain is not None}


def test_some_commands_take_the_plain_path() -> None:
    assert "get" in PLAIN


@pytest.mark.parametrize("name", sorted(PLAIN))
def test_a_plain_command_sends_what_its_builder_would(name: str) -> None:
    """A plain method skips its builder: they must agree (words, then the parameters)."""
    described = PLAIN[name]
    assert isinstance(described, command)
    params = list(inspect.signature(described.build).parameters)
    sample = tuple(f"arg{index}" for index in range(len(params)))
    words = tuple(str(described.plain).split())
    assert described.build(*sample) == ((*words, *sample), None)

    class Recorder(MultiplexedConnection):
        def __init__(self) -> None:
            self.sent: list[tuple[Any, ...]] = []

        def execute(self, *args: Any) -> Any:  # type: ignore[override]
            self.sent.append(args)
            return args

    recorder = Recorder()
    assert getattr(recorder, name)(*sample) == (*words, *sample)

    class Queued(Pipeline):
        def __init__(self) -> None:
            self.queued: list[tuple[Any, Any]] = []

        def _queue(self, args: Any, parse: Any) -> Queued:
            self.queued.append((args, parse))
            return self

    pipe = Queued()
    assert getattr(pipe, name)(*sample) is pipe
    assert pipe.queued == [((*words, *sample), None)]


def test_a_plain_command_must_take_positional_parameters_only() -> None:
    def build(name: str, flag: bool = False) -> Any:
        return ("X", name), None

    class Broken:
        x = command(build, plain="X")

    with pytest.raises(TypeError, match="positional parameters only"):

        class Connection(MultiplexedConnection, Broken):  # type: ignore[misc]
            pass


def test_methods_keep_the_builders_signature_and_doc() -> None:
    for name in ("get", "set", "zrange", "hset", "xadd"):
        method = getattr(MultiplexedConnection, name)
        build = typed_commands(Commands)[name].build
        assert list(inspect.signature(method, follow_wrapped=False).parameters)[1:] == list(
            inspect.signature(build).parameters
        )
        assert method.__doc__ == build.__doc__ and method.__name__ == name
