"""Cluster routing from the server's own command table: pure functions.

`parse_command_reply` turns the reply of ``COMMAND`` (or ``COMMAND INFO ...``), RESP2 or RESP3,
``bytes`` or ``str``, into a `CommandTable`: for each command and subcommand (``client|list``,
``xinfo|stream``) its flags, its key specifications (Redis 7) and its request / response policy
tips. From it:

- `keys_of` / `slot_of`: the keys of a concrete command, found the way the server finds them
  (key specs: ``begin_search`` by index or keyword, ``find_keys`` by range or keynum; servers
  without key specs: first / last / step), and their common slot, or `CrossSlotError`.
  Key specs flagged ``not_key`` (the channels of ``SPUBLISH`` / ``SSUBSCRIBE``) count: they are
  routed by slot like keys.
- `merge_replies`: the pure helpers of the response policies (``agg_sum``, ``agg_min``, ...).
- `split_by_slot` / `merge_split`: ``MGET``, ``MSET``, ``DEL``, ``UNLINK``, ``EXISTS`` and
  ``TOUCH`` over keys of several slots, cut into one sub-command per slot and merged back in the
  caller's order. The split command is not atomic: each part runs on its own node.

A command missing from the table (a module's, or a table not read yet) is treated as keyless:
a cluster client sends it to any node and follows the ``MOVED`` the server answers with.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Final, TypeAlias

from .._errors import ProtocolError, ResponseError
from ._cluster_slots import key_bytes, key_slot
from ._encoder import CommandArg

__all__ = [
    "AGG_LOGICAL_AND",
    "AGG_LOGICAL_OR",
    "AGG_MAX",
    "AGG_MIN",
    "AGG_SUM",
    "ALL_NODES",
    "ALL_SHARDS",
    "ALL_SUCCEEDED",
    "MULTI_SHARD",
    "ONE_SUCCEEDED",
    "SPECIAL",
    "SPLITTABLE",
    "CommandInfo",
    "CommandTable",
    "CrossSlotError",
    "KeySpec",
    "SlotPart",
    "keys_of",
    "merge_replies",
    "merge_split",
    "parse_command_reply",
    "slot_of",
    "slot_of_command",
    "split_by_slot",
]

# request_policy tips
ALL_NODES: Final = "all_nodes"
ALL_SHARDS: Final = "all_shards"
MULTI_SHARD: Final = "multi_shard"
SPECIAL: Final = "special"
# response_policy tips (SPECIAL too)
AGG_SUM: Final = "agg_sum"
AGG_MIN: Final = "agg_min"
AGG_MAX: Final = "agg_max"
AGG_LOGICAL_AND: Final = "agg_logical_and"
AGG_LOGICAL_OR: Final = "agg_logical_or"
ALL_SUCCEEDED: Final = "all_succeeded"
ONE_SUCCEEDED: Final = "one_succeeded"

_CROSSSLOT = "CROSSSLOT Keys in request don't hash to the same slot"


class CrossSlotError(ResponseError):
    """The keys of one command hash to different slots (the server's ``CROSSSLOT`` error)."""

    def __init__(self, message: str = _CROSSSLOT) -> None:
        super().__init__(message)


# -- the table -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class KeySpec:
    """One key specification of a command (Redis 7 ``COMMAND`` / ``COMMAND INFO``).

    ``begin_search`` is ``"index"`` (keys start at argument `index`), ``"keyword"`` (after
    `keyword`, searched from `startfrom`: forwards when positive, backwards from the end when
    negative) or ``"unknown"``. ``find_keys`` is ``"range"`` (`lastkey` relative to the start,
    negative from the end, every `keystep`; `limit` divides the rest for ``lastkey == -1``),
    ``"keynum"`` (the argument at start + `keynumidx` holds the count, the first key is at start
    + `firstkey`) or ``"unknown"``.
    """

    begin_search: str
    find_keys: str
    flags: frozenset[str] = frozenset()
    index: int = 0
    keyword: bytes = b""
    startfrom: int = 0
    lastkey: int = 0
    keystep: int = 1
    limit: int = 0
    keynumidx: int = 0
    firstkey: int = 0

    @property
    def incomplete(self) -> bool:
        """The spec may miss keys (flag ``incomplete``, or an ``unknown`` search)."""
        return (
            "incomplete" in self.flags
            or self.begin_search not in ("index", "keyword")
            or self.find_keys not in ("range", "keynum")
        )


@dataclass(frozen=True)
class CommandInfo:
    """One command (or subcommand: ``name`` is then ``"container|sub"``) of the table."""

    name: str
    arity: int
    flags: frozenset[str]
    first_key: int
    last_key: int
    step: int
    acl_categories: frozenset[str] = frozenset()
    tips: tuple[str, ...] = ()
    key_specs: tuple[KeySpec, ...] = ()
    subcommands: tuple[str, ...] = ()
    # Key positions that do not depend on the arguments (GET: (1,)), or None: computed per call.
    fixed_positions: tuple[int, ...] | None = field(default=None, compare=False, repr=False)

    @property
    def readonly(self) -> bool:
        """Flag ``readonly``: a replica (after ``READONLY``) may serve it."""
        return "readonly" in self.flags

    @property
    def write(self) -> bool:
        """Flag ``write``."""
        return "write" in self.flags

    @property
    def movable_keys(self) -> bool:
        """Flag ``movablekeys``: the key positions depend on the arguments."""
        return "movablekeys" in self.flags

    @property
    def needs_getkeys(self) -> bool:
        """Keys may move but the table cannot find them (a server without key specs): ask the
        server with ``COMMAND GETKEYS`` when it matters."""
        return self.movable_keys and not self.key_specs

    @property
    def request_policy(self) -> str | None:
        """The ``request_policy`` tip (`ALL_SHARDS`, `ALL_NODES`, `MULTI_SHARD`, `SPECIAL`)."""
        return _tip(self.tips, "request_policy:")

    @property
    def response_policy(self) -> str | None:
        """The ``response_policy`` tip (`AGG_SUM`, ..., `ONE_SUCCEEDED`, `SPECIAL`)."""
        return _tip(self.tips, "response_policy:")


def _tip(tips: tuple[str, ...], prefix: str) -> str | None:
    for tip in tips:
        if tip.startswith(prefix):
            return tip[len(prefix) :]
    return None


class CommandTable(Mapping[str, CommandInfo]):
    """Commands by lower-case name; subcommands as ``"container|sub"``. Immutable."""

    __slots__ = ("_commands",)

    def __init__(self, commands: Iterable[CommandInfo]) -> None:
        self._commands: dict[str, CommandInfo] = {info.name: info for info in commands}

    def __getitem__(self, name: str) -> CommandInfo:
        return self._commands[name.lower()]

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and name.lower() in self._commands

    def __iter__(self) -> Iterator[str]:
        return iter(self._commands)

    def __len__(self) -> int:
        return len(self._commands)

    def __repr__(self) -> str:
        return f"CommandTable({len(self._commands)} commands)"

    def lookup(self, args: Sequence[CommandArg]) -> CommandInfo | None:
        """The entry for a concrete command: its subcommand's when it has one, else its own;
        None for a command the table does not know."""
        if not args:
            return None
        commands = self._commands
        info = commands.get(_lower(args[0]))
        if info is None or not info.subcommands or len(args) < 2:
            return info
        return commands.get(f"{info.name}|{_lower(args[1])}", info)


def _lower(arg: object) -> str:
    if type(arg) is str:
        return arg.lower()
    if isinstance(arg, (bytes, bytearray, memoryview)):
        return bytes(arg).decode("utf-8", "replace").lower()
    return str(arg).lower()


# -- parsing ----------------------------------------------------------------------------------


def parse_command_reply(reply: object) -> CommandTable:
    """Parse a ``COMMAND`` (or ``COMMAND INFO``) reply into a `CommandTable`.

    Accepts both protocol shapes (key specs as RESP3 maps or RESP2 flat lists) and decoded or
    raw text. The nil entries ``COMMAND INFO`` gives for unknown names are skipped. Raises
    `ProtocolError` for a reply of another shape.
    """
    if not isinstance(reply, list):
        raise ProtocolError(f"COMMAND: expected an array, got {type(reply).__name__}")
    out: list[CommandInfo] = []
    for entry in reply:
        if entry is not None:
            _parse_entry(entry, out)
    return CommandTable(out)


def _parse_entry(entry: object, out: list[CommandInfo]) -> None:
    if not isinstance(entry, list) or len(entry) < 6:
        raise ProtocolError("COMMAND: an entry is not [name, arity, flags, first, last, step...]")
    name = _text(entry[0]).lower()
    subcommands: list[str] = []
    if len(entry) > 9 and entry[9]:
        for sub in _list(entry[9]):
            sub_out: list[CommandInfo] = []
            _parse_entry(sub, sub_out)
            out.extend(sub_out)
            subcommands.append(sub_out[0].name)
    key_specs = tuple(_parse_key_spec(raw) for raw in _list(entry[8])) if len(entry) > 8 else ()
    info = CommandInfo(
        name=name,
        arity=_int(entry[1]),
        flags=frozenset(_text(f).lower() for f in _list(entry[2])),
        first_key=_int(entry[3]),
        last_key=_int(entry[4]),
        step=_int(entry[5]),
        acl_categories=frozenset(_text(c) for c in _list(entry[6])) if len(entry) > 6 else
        frozenset(),
        tips=tuple(_text(t) for t in _list(entry[7])) if len(entry) > 7 else (),
        key_specs=key_specs,
        subcommands=tuple(sorted(subcommands)),
    )  # fmt: skip
    object.__setattr__(info, "fixed_positions", _fixed_positions(info))
    out.insert(0, info)  # the container before its subcommands


def _parse_key_spec(raw: object) -> KeySpec:
    spec = _as_map(raw)
    begin = _as_map(spec.get("begin_search") or {})
    find = _as_map(spec.get("find_keys") or {})
    begin_args = _as_map(begin.get("spec") or {})
    find_args = _as_map(find.get("spec") or {})
    return KeySpec(
        begin_search=_text(begin.get("type")).lower() or "unknown",
        find_keys=_text(find.get("type")).lower() or "unknown",
        flags=frozenset(_text(f).lower() for f in _list(spec.get("flags") or [])),
        index=_int(begin_args.get("index", 0)),
        keyword=_text(begin_args.get("keyword", "")).upper().encode(),
        startfrom=_int(begin_args.get("startfrom", 0)),
        lastkey=_int(find_args.get("lastkey", 0)),
        keystep=_int(find_args.get("keystep", 1)),
        limit=_int(find_args.get("limit", 0)),
        keynumidx=_int(find_args.get("keynumidx", 0)),
        firstkey=_int(find_args.get("firstkey", 0)),
    )


def _fixed_positions(info: CommandInfo) -> tuple[int, ...] | None:
    if info.name in _GETKEYS:
        return None
    if not info.key_specs:
        if info.movable_keys or info.first_key <= 0 or info.last_key < 0 or info.step <= 0:
            return None if info.first_key > 0 else ()
        return tuple(range(info.first_key, info.last_key + 1, info.step))
    positions: list[int] = []
    for spec in info.key_specs:
        if spec.begin_search != "index" or spec.find_keys != "range" or spec.lastkey < 0:
            return None
        if spec.incomplete or spec.keystep <= 0:
            return None
        positions.extend(range(spec.index, spec.index + spec.lastkey + 1, spec.keystep))
    return tuple(positions)


def _text(value: object) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, (bytes, bytearray, memoryview)):
        return bytes(value).decode("utf-8", "replace")
    if value is None:
        return ""
    return str(value)


def _int(value: object) -> int:
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    try:
        return int(_text(value))
    except ValueError:
        raise ProtocolError("COMMAND: expected an integer") from None


def _list(value: object) -> list[object]:
    if value is None:
        return []
    if isinstance(value, (list, tuple, set, frozenset)):
        return list(value)
    raise ProtocolError("COMMAND: expected an array")


def _as_map(value: object) -> dict[str, object]:
    if isinstance(value, Mapping):
        return {_text(k): v for k, v in value.items()}
    if isinstance(value, list) and len(value) % 2 == 0:
        return {_text(value[i]): value[i + 1] for i in range(0, len(value), 2)}
    raise ProtocolError("COMMAND: expected a map in a key specification")


# -- keys ------------------------------------------------------------------------------------


def key_positions(info: CommandInfo, args: Sequence[CommandArg]) -> list[int]:
    """The indexes of the keys in `args` (the command name is index 0), in key-spec order.

    Follows the server's own search: a spec whose keyword is absent or whose numbers do not fit
    the arguments gives no keys (the server refuses such a command anyway). For ``SORT`` and
    ``MIGRATE``, whose specs are incomplete, the server's dedicated search is mirrored.
    """
    fixed = info.fixed_positions
    argc = len(args)
    if fixed is not None:
        return [i for i in fixed if i < argc]
    special = _GETKEYS.get(info.name)
    if special is not None:
        return special(args)
    if not info.key_specs:
        return _legacy_positions(info, argc)
    positions: list[int] = []
    for spec in info.key_specs:
        positions.extend(_spec_positions(spec, args))
    return positions


def _legacy_positions(info: CommandInfo, argc: int) -> list[int]:
    first, last, step = info.first_key, info.last_key, info.step
    if first <= 0 or step <= 0:
        return []
    if last < 0:
        last = argc + last
    return [i for i in range(first, last + 1, step) if i < argc]


def _spec_positions(spec: KeySpec, args: Sequence[CommandArg]) -> list[int]:
    argc = len(args)
    # begin_search
    if spec.begin_search == "index":
        first = spec.index
    elif spec.begin_search == "keyword":
        start = spec.startfrom
        # The server's loop: forwards from `startfrom` up to the second-to-last argument, or
        # backwards from argc + startfrom down to 1; the key follows the keyword.
        scan = range(start, argc - 1) if start > 0 else range(argc + start, 0, -1)
        first = 0
        keyword = spec.keyword
        for i in scan:
            if i >= argc or i < 1:
                break
            if _upper_bytes(args[i]) == keyword:
                first = i + 1
                break
        if not first:
            return []
    else:
        return []
    # find_keys
    if spec.find_keys == "range":
        step = spec.keystep
        if spec.lastkey >= 0:
            last = first + spec.lastkey
        elif not spec.limit:
            last = argc + spec.lastkey
        else:
            last = first + ((argc - first) // spec.limit + spec.lastkey)
    elif spec.find_keys == "keynum":
        step = spec.keystep
        if spec.keynumidx >= argc - first:
            return []
        try:
            numkeys = int(key_bytes(args[first + spec.keynumidx]))
        except (TypeError, ValueError):
            return []
        if numkeys < 0:
            return []
        first += spec.firstkey
        last = first + numkeys - 1
    else:
        return []
    if last >= argc or last < first or first >= argc or step <= 0:
        return []
    return list(range(first, last + 1, step))


def _upper_bytes(arg: CommandArg) -> bytes:
    try:
        return key_bytes(arg).upper()
    except (TypeError, ValueError):
        return b""


def _sort_positions(args: Sequence[CommandArg]) -> list[int]:
    # The sorted key, then the target of the last STORE; LIMIT takes two arguments, BY and GET
    # one (their patterns are not keys).
    if len(args) < 2:
        return []
    positions = [1]
    store = 0
    skips = {b"LIMIT": 2, b"GET": 1, b"BY": 1}
    i = 2
    while i < len(args):
        word = _upper_bytes(args[i])
        if word in skips:
            i += skips[word]
        elif word == b"STORE" and i + 1 < len(args):
            store = i + 1
        i += 1
    if store:
        positions.append(store)
    return positions


def _migrate_positions(args: Sequence[CommandArg]) -> list[int]:
    # MIGRATE host port key|"" db timeout [COPY] [REPLACE] [AUTH ...] [KEYS key ...]: with KEYS
    # the key argument must be empty and the keys follow KEYS.
    if len(args) < 6:
        return []
    for i in range(6, len(args)):
        if _upper_bytes(args[i]) == b"KEYS":
            if key_bytes(args[3]):
                return []
            return list(range(i + 1, len(args)))
    return [3]


_GETKEYS = {"sort": _sort_positions, "sort_ro": _sort_positions, "migrate": _migrate_positions}


def keys_of(table: CommandTable, args: Sequence[CommandArg]) -> list[CommandArg]:
    """The keys of the concrete command `args` (empty for a keyless or unknown command)."""
    info = table.lookup(args)
    if info is None:
        return []
    return [args[i] for i in key_positions(info, args)]


def slot_of(table: CommandTable, args: Sequence[CommandArg]) -> int | None:
    """The slot of every key of `args`, or None for a keyless (or unknown) command.

    Raises `CrossSlotError` when the keys hash to different slots.
    """
    info = table.lookup(args)
    return None if info is None else slot_of_command(info, args)


def slot_of_command(info: CommandInfo, args: Sequence[CommandArg]) -> int | None:
    """`slot_of` for a command already looked up in the table (`CommandTable.lookup`)."""
    slot: int | None = None
    for i in key_positions(info, args):
        this = key_slot(args[i])
        if slot is None:
            slot = this
        elif this != slot:
            raise CrossSlotError()
    return slot


# -- response policies ---------------------------------------------------------------------------


def merge_replies(policy: str | None, replies: Sequence[object]) -> object:
    """Combine the replies of several nodes as the ``response_policy`` tip says.

    An error reply (a `ResponseError` value) wins for the aggregating policies and
    ``all_succeeded`` (the first one is returned); ``one_succeeded`` returns the first reply
    that is not an error, or the first error. Aggregates apply element-wise to array replies
    (``SCRIPT EXISTS``: logical and per script). With no policy (None) array replies are
    concatenated and map replies merged (``KEYS``); other replies come back as a list.
    ``special`` cannot be merged generically: ``ValueError``.
    """
    if not replies:
        raise ValueError("no replies to merge")
    if policy == ONE_SUCCEEDED:
        for reply in replies:
            if not isinstance(reply, ResponseError):
                return reply
        return replies[0]
    for reply in replies:
        if isinstance(reply, ResponseError):
            return reply
    if policy == ALL_SUCCEEDED:
        return replies[0]
    if policy is None:
        lists = [r for r in replies if isinstance(r, list)]
        if len(lists) == len(replies):
            return [item for r in lists for item in r]
        maps = [r for r in replies if isinstance(r, dict)]
        if len(maps) == len(replies):
            merged: dict[object, object] = {}
            for m in maps:
                merged.update(m)
            return merged
        return list(replies)
    combine = _AGGREGATES.get(policy)
    if combine is None:
        raise ValueError(f"response policy {policy!r} has no generic merge")
    return _elementwise(combine, replies)


_Combine: TypeAlias = Callable[[list[object]], object]


def _elementwise(combine: _Combine, replies: Sequence[object]) -> object:
    if all(isinstance(r, list) for r in replies):
        lists = [r for r in replies if isinstance(r, list)]
        if len({len(r) for r in lists}) != 1:
            raise ValueError("array replies of different lengths cannot be merged")
        return [combine(list(column)) for column in zip(*lists, strict=True)]
    return combine(list(replies))


def _sum(values: list[object]) -> object:
    return sum(_number(v) for v in values)


def _min(values: list[object]) -> object:
    return min(values, key=_number)


def _max(values: list[object]) -> object:
    return max(values, key=_number)


def _and(values: list[object]) -> object:
    result = all(values)
    return result if all(isinstance(v, bool) for v in values) else int(result)


def _or(values: list[object]) -> object:
    result = any(values)
    return result if all(isinstance(v, bool) for v in values) else int(result)


def _number(value: object) -> int | float:
    if isinstance(value, (int, float)):
        return value
    text = _text(value)
    try:
        return int(text)
    except ValueError:
        try:
            return float(text)
        except ValueError:
            raise ValueError("a reply to aggregate is not a number") from None


_AGGREGATES = {
    AGG_SUM: _sum,
    AGG_MIN: _min,
    AGG_MAX: _max,
    AGG_LOGICAL_AND: _and,
    AGG_LOGICAL_OR: _or,
}


# -- split and merge of multi-key commands -------------------------------------------------------

SPLITTABLE: Final[Mapping[str, int]] = {
    "mget": 1,
    "del": 1,
    "unlink": 1,
    "exists": 1,
    "touch": 1,
    "mset": 2,
}
"""The multi-key commands split per slot, with the number of arguments per key."""


@dataclass(frozen=True)
class SlotPart:
    """One sub-command of a split: its slot, its arguments (name first) and, for each of its
    keys, the key's position among the caller's keys (0-based)."""

    slot: int
    args: tuple[CommandArg, ...]
    indexes: tuple[int, ...]


def split_by_slot(args: Sequence[CommandArg]) -> list[SlotPart] | None:
    """Cut a `SPLITTABLE` command into one sub-command per slot, in the order each slot first
    appears; None for any other command or for malformed arguments (send those as they are:
    the server answers with its own error). Keys of one slot keep their relative order.
    """
    if len(args) < 2:
        return None
    width = SPLITTABLE.get(_lower(args[0]))
    if width is None or (len(args) - 1) % width:
        return None
    groups: dict[int, tuple[list[CommandArg], list[int]]] = {}
    for index, position in enumerate(range(1, len(args), width)):
        slot = key_slot(args[position])
        group = groups.get(slot)
        if group is None:
            group = groups[slot] = ([args[0]], [])
        group[0].extend(args[position : position + width])
        group[1].append(index)
    return [SlotPart(slot, tuple(part), tuple(idx)) for slot, (part, idx) in groups.items()]


def merge_split(name: CommandArg, parts: Sequence[SlotPart], replies: Sequence[object]) -> object:
    """Merge the replies of the `parts` of a split command (one reply per part, same order).

    ``MGET``: the values back in the caller's key order; ``DEL`` / ``UNLINK`` / ``EXISTS`` /
    ``TOUCH``: the sum; ``MSET``: the first reply (``OK``). An error reply (a `ResponseError`
    value) is returned as the result: the first one in part order.
    """
    if len(parts) != len(replies):
        raise ValueError("one reply per part is needed")
    for reply in replies:
        if isinstance(reply, ResponseError):
            return reply
    command = _lower(name)
    if command == "mget":
        total = sum(len(part.indexes) for part in parts)
        values: list[object] = [None] * total
        for part, reply in zip(parts, replies, strict=True):
            if not isinstance(reply, list) or len(reply) != len(part.indexes):
                raise ProtocolError("MGET: a part's reply does not match its keys")
            for index, value in zip(part.indexes, reply, strict=True):
                values[index] = value
        return values
    if command == "mset":
        return replies[0]
    if command in SPLITTABLE:
        return sum(_number(reply) for reply in replies)
    raise ValueError(f"{command.upper()} is not a splittable command")
