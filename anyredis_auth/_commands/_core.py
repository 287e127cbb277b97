"""The machinery that lets each typed command be written once and serve every connection kind.

A command is a *builder*: a plain function taking redis-py's parameters and returning the
command's arguments and, where the reply needs it, a *parser* that turns the raw reply (RESP2 or
RESP3, bytes or str) into redis-py's classic value. ``get = command(build_get)`` in a group's
mixin class then gives:

- on a connection (`Runner`: `MultiplexedConnection`, `ClusterConnection`) a method returning an
  awaitable of the parsed value: ``await con.get("k")``;
- on a pipeline (`Queue`: `Pipeline`, `ClusterPipeline`) a method that queues the command and
  returns the pipeline, so calls chain (``pipe.set("k", 1).get("k")``); ``await pipe.execute()``
  returns the parsed values in order.

For the type checker the descriptor's ``__get__`` overloads give both shapes from the builder's
own signature (a `ParamSpec`). At run time `Runner` and `Queue` replace each descriptor on their
concrete subclasses by a plain function, so a typed call costs one builder call more than
`execute` and no descriptor lookup.

Where a flag changes the shape of the reply (``withscores=True``, ...), `overloaded` takes the
builder (whose signature is used for pipelines) and a `Protocol` with the overloads of the
awaitable form (used for connections).
"""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable, Coroutine, Iterable
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, Generic, ParamSpec, TypeVar, overload

from ..protocol import CommandArg

__all__ = [
    "AbsExpiryT",
    "EncodableT",
    "ExpiryT",
    "KeyT",
    "KeysT",
    "Queue",
    "Request",
    "Runner",
    "command",
    "overloaded",
]

P = ParamSpec("P")
T = TypeVar("T")
A = TypeVar("A")
Q = TypeVar("Q", bound="Queue")
C = TypeVar("C")

#: A key or a field name (redis-py's ``KeyT``).
KeyT = bytes | str | memoryview
#: Any value a command takes (redis-py's ``EncodableT``).
EncodableT = bytes | bytearray | memoryview | str | int | float
#: One key on its own, or several (``blpop("queue")`` waits on one key, not on q, u, e, ...).
KeysT = KeyT | Iterable[KeyT]
#: A relative expiry: seconds (or milliseconds, by the parameter's name) or a timedelta.
ExpiryT = int | timedelta
#: An absolute expiry: a Unix time in seconds (or milliseconds) or an aware/naive datetime.
AbsExpiryT = int | datetime

Parser = Callable[[Any], T]
#: What a builder returns: the command's arguments, and the parser of its reply (None: as is).
Request = tuple[tuple[CommandArg, ...], Parser[T] | None]


class Runner:
    """A connection kind whose typed methods run at once: it must provide ``execute``."""

    if TYPE_CHECKING:

        async def execute(self, *args: CommandArg) -> Any: ...

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        _install(cls, _runner_method)


class Queue:
    """A pipeline kind whose typed methods queue: it must provide ``_queue``."""

    def _queue(self: Q, args: tuple[CommandArg, ...], parse: Parser[Any] | None) -> Q:
        raise NotImplementedError  # pragma: no cover - provided by the pipeline

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        _install(cls, _queue_method)


class command(Generic[P, T]):
    """A typed command of a group mixin, made from its builder (see the module's docstring)."""

    __slots__ = ("build", "covers", "plain")

    def __init__(
        self,
        build: Callable[P, Request[T]],
        *,
        covers: str | tuple[str, ...] = (),
        plain: str | None = None,
    ) -> None:
        self.build = build
        #: The server commands this method covers, where its name does not say (``delete``
        #: covers ``DEL``); read by the coverage test.
        self.covers = (covers,) if isinstance(covers, str) else covers
        #: For the hottest commands (``GET``): the command's words, when the builder sends
        #: just them followed by its parameters in order and keeps the reply as is. The method
        #: then calls `execute` itself, without the builder (tests/commands/test_core.py checks
        #: that the builder agrees).
        self.plain = plain

    @overload
    def __get__(self: C, obj: None, owner: type) -> C: ...
    @overload
    def __get__(self, obj: Q, owner: type) -> Callable[P, Q]: ...
    @overload
    def __get__(self, obj: Runner, owner: type) -> Callable[P, Awaitable[T]]: ...
    def __get__(self, obj: object, owner: type) -> Any:
        if obj is None:
            return self
        # Only reached on a class that is neither a Runner nor a Queue subclass.
        make = _queue_method if isinstance(obj, Queue) else _runner_method
        return make(self.build, self.plain).__get__(obj, owner)


class overloaded(Generic[P, A]):
    """A typed command whose reply shape depends on a flag: `shape` holds the overloads."""

    __slots__ = ("build", "covers", "plain")

    def __init__(
        self,
        build: Callable[P, Request[Any]],
        shape: type[A],
        *,
        covers: str | tuple[str, ...] = (),
    ) -> None:
        del shape  # only for the type checker
        self.build = build
        self.covers = (covers,) if isinstance(covers, str) else covers
        self.plain: str | None = None

    @overload
    def __get__(self: C, obj: None, owner: type) -> C: ...
    @overload
    def __get__(self, obj: Q, owner: type) -> Callable[P, Q]: ...
    @overload
    def __get__(self, obj: Runner, owner: type) -> A: ...
    def __get__(self, obj: object, owner: type) -> Any:
        if obj is None:
            return self
        make = _queue_method if isinstance(obj, Queue) else _runner_method
        return make(self.build, None).__get__(obj, owner)


def typed_commands(cls: type) -> dict[str, command[Any, Any] | overloaded[Any, Any]]:
    """Every typed command `cls` has (by attribute name), its own and inherited ones."""
    found: dict[str, command[Any, Any] | overloaded[Any, Any]] = {}
    for klass in reversed(cls.__mro__):
        for name, value in vars(klass).items():
            if isinstance(value, command | overloaded):
                found[name] = value
            elif name in found:
                del found[name]  # overridden by something else
    return found


def _install(
    cls: type, make: Callable[[Callable[..., Request[Any]], str | None], Callable[..., Any]]
) -> None:
    for name, described in typed_commands(cls).items():
        method = make(described.build, described.plain)
        method.__name__ = name
        method.__qualname__ = f"{cls.__qualname__}.{name}"
        method.__module__ = cls.__module__
        method.__doc__ = described.build.__doc__
        method.__wrapped__ = described.build  # type: ignore[attr-defined]  # for inspect/help
        setattr(cls, name, method)


def _runner_method(build: Callable[..., Request[Any]], plain: str | None) -> Callable[..., Any]:
    if plain is not None:
        return _forwarding(build, "    return self.execute({words}, {call})\n", plain)
    return _forwarding(
        build,
        "    arguments_, parse_ = build_({call})\n"
        "    if parse_ is None:\n"
        "        return self.execute(*arguments_)\n"
        "    return parsed_(self.execute(*arguments_), parse_)\n",
    )


def _queue_method(build: Callable[..., Request[Any]], plain: str | None) -> Callable[..., Any]:
    if plain is not None:
        return _forwarding(build, "    return self._queue(({words}, {call}), None)\n", plain)
    return _forwarding(build, "    return self._queue(*build_({call}))\n")


def _forwarding(
    build: Callable[..., Request[Any]], body: str, plain: str | None = None
) -> Callable[..., Any]:
    """A method with the builder's own parameters that hands them on, made with ``exec``.

    Why generated: a generic ``(self, *args, **kwargs)`` wrapper packs and unpacks the
    arguments on every call, which costs more than the typed layer may add to `get` (issue 15:
    within 5% of `execute`); with the exact signature a typed call costs one builder call.
    """
    params: list[str] = []
    call: list[str] = []
    namespace: dict[str, Any] = {"build_": build, "parsed_": _parsed}
    keyword_only_marked = False
    for parameter in inspect.signature(build).parameters.values():
        name = parameter.name
        default = ""
        if parameter.default is not parameter.empty:
            namespace[f"default_{name}_"] = parameter.default
            default = f"=default_{name}_"
        if parameter.kind is parameter.VAR_POSITIONAL:
            params.append(f"*{name}")
            call.append(f"*{name}")
            keyword_only_marked = True
        elif parameter.kind is parameter.VAR_KEYWORD:
            params.append(f"**{name}")
            call.append(f"**{name}")
        elif parameter.kind is parameter.KEYWORD_ONLY:
            if not keyword_only_marked:
                params.append("*")
                keyword_only_marked = True
            params.append(name + default)
            call.append(f"{name}={name}")
        else:  # positional (or keyword): handed on by position
            params.append(name + default)
            call.append(name)
    if plain is not None and any("=" in param or "*" in param for param in params):
        raise TypeError(f"a plain command takes positional parameters only: {build.__name__}")
    words = ", ".join(repr(word) for word in (plain or "").split())
    source = f"def method(self, {', '.join(params)}):\n" + body.format(
        call=", ".join(call), words=words
    )
    exec(source, namespace)  # the source is made above from a signature only
    method: Callable[..., Any] = namespace["method"]
    return method


async def _parsed(reply: Coroutine[Any, Any, Any], parse: Parser[T]) -> T:
    return parse(await reply)
