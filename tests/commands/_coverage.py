"""Which server commands the typed methods cover, from the server's ``COMMAND DOCS``.

Each covered group (the ``group`` field of ``COMMAND DOCS``) has a module in
``anyredis_auth._commands``. Every command of the group (and every subcommand, ``SCRIPT LOAD``)
must either have a method (named after it: ``script_load``, ``xinfo_stream``,
``client_no_evict``; or naming it in ``covers=``) or be in the module's ``LEFT_TO_EXECUTE`` with
a reason. Container commands (``SCRIPT``, ``XINFO``) are covered by their subcommands, and the
``... HELP`` subcommands (usage text for humans) need neither.

Run it to print the README's coverage table (a fresh server is started unless a URL is given):

    .venv/bin/python -m tests.commands._coverage [redis://host:port]
"""

from __future__ import annotations

import importlib
import sys
from dataclasses import dataclass, field
from typing import Any

from anyredis_auth import Client
from anyredis_auth._commands import Commands, ConnectionOnlyCommands, typed_commands

#: Each covered group's module (in ``anyredis_auth._commands``), in the README's order.
GROUP_MODULES: dict[str, str] = {
    "string": "_strings",
    "generic": "_keys",
    "bitmap": "_bitmaps",
    "hash": "_hashes",
    "list": "_lists",
    "set": "_sets",
    "sorted-set": "_zsets",
    "hyperloglog": "_hyperloglog",
    "geo": "_geo",
    "stream": "_streams",
    "scripting": "_scripting",
    "pubsub": "_pubsub",
    "server": "_server",
    "connection": "_server",
}


def method_name(command: str) -> str:
    """``"SCRIPT LOAD"`` -> ``script_load``; ``"CLIENT NO-EVICT"`` -> ``client_no_evict``."""
    return command.lower().replace("|", "_").replace(" ", "_").replace("-", "_")


def normal(command: str) -> str:
    """A command's name as the coverage data spells it: upper case, a space before a
    subcommand (``"script|load"`` -> ``"SCRIPT LOAD"``)."""
    return command.upper().replace("|", " ")


async def read_docs(url: str) -> dict[str, Any]:
    """The server's ``COMMAND DOCS`` (RESP3: nested maps, names as str)."""
    async with Client.from_url(url, protocol=3, decode_responses=True) as client:
        con = await client.get_multiplexed_async_connection()
        docs: dict[str, Any] = await con.execute("COMMAND", "DOCS")
    return docs


def commands_by_group(docs: dict[str, Any], *, help: bool = False) -> dict[str, list[str]]:
    """Every command and subcommand by group (``"SCRIPT LOAD"``), without containers, and
    without the HELP subcommands unless `help`."""
    groups: dict[str, list[str]] = {}

    def add(name: str, doc: dict[str, Any]) -> None:
        subcommands = doc.get("subcommands") or {}
        if subcommands:  # a container: its subcommands are the commands
            for sub_name, sub_doc in subcommands.items():
                add(sub_name, sub_doc)
        elif help or not normal(name).endswith(" HELP"):
            groups.setdefault(doc["group"], []).append(normal(name))

    for name, doc in docs.items():
        add(name, doc)
    return {group: sorted(names) for group, names in groups.items()}


def methods() -> tuple[set[str], dict[str, str]]:
    """The typed methods' names, and the commands named in their ``covers=`` -> the method."""
    described = {**typed_commands(Commands), **typed_commands(ConnectionOnlyCommands)}
    names = set(described)
    # Plain methods count too: the connection-only iterators, and `bitfield` (redis-py's
    # builder object rather than one command).
    for klass in (ConnectionOnlyCommands, *Commands.__mro__[:-1]):  # not `object`
        names.update(
            name
            for name, value in vars(klass).items()
            if (callable(value) or hasattr(value, "__get__")) and not name.startswith("_")
        )
    covers = {normal(covered): name for name, one in described.items() for covered in one.covers}
    return names, covers


def left_to_execute(module: str) -> dict[str, str]:
    """A group module's ``LEFT_TO_EXECUTE`` (names normalised); none counts as empty."""
    loaded = importlib.import_module(f"anyredis_auth._commands.{module}")
    left: dict[str, str] = getattr(loaded, "LEFT_TO_EXECUTE", {})
    return {normal(name): reason for name, reason in left.items()}


@dataclass
class GroupCoverage:
    group: str
    module: str
    methods: dict[str, str] = field(default_factory=dict)  # command -> method
    left: dict[str, str] = field(default_factory=dict)  # command -> reason
    missing: list[str] = field(default_factory=list)  # neither


def coverage(docs: dict[str, Any]) -> list[GroupCoverage]:
    """The coverage of each covered group, in `GROUP_MODULES` order."""
    by_group = commands_by_group(docs)
    names, covers = methods()
    report = []
    for group, module in GROUP_MODULES.items():
        left = left_to_execute(module)
        one = GroupCoverage(group, module)
        for name in by_group.get(group, []):
            method = covers.get(name) or (method_name(name) if method_name(name) in names else None)
            if method is not None:
                one.methods[name] = method
            elif name in left:
                one.left[name] = left[name]
            else:
                one.missing.append(name)
        report.append(one)
    return report


def table(report: list[GroupCoverage]) -> str:
    """The README's coverage table (commands left for the same reason share it)."""
    lines = ["| group | methods | left to execute (why) |", "| --- | --- | --- |"]
    for one in report:
        reasons: dict[str, list[str]] = {}
        for name, why in sorted(one.left.items()):
            reasons.setdefault(why, []).append(f"`{name}`")
        cells = [f"{', '.join(names)}: {why}" for why, names in reasons.items()]
        if one.missing:
            cells.append(f"**not yet covered**: {', '.join(one.missing)}")
        total = len(one.methods) + len(one.left) + len(one.missing)
        lines.append(f"| {one.group} | {len(one.methods)} of {total} | {'; '.join(cells) or '-'} |")
    return "\n".join(lines)


def main(argv: list[str]) -> None:
    import anyio

    from anyredis_auth.testing.servers import ServerProcess, find_binary

    if len(argv) > 1:
        docs = anyio.run(read_docs, argv[1])
    else:
        binary = find_binary("redis")
        if binary is None:
            raise SystemExit("redis-server is not installed: give a URL")
        process = ServerProcess("redis", binary).start()
        try:
            docs = anyio.run(read_docs, process.url)
        finally:
            process.close()
    print(table(coverage(docs)))


if __name__ == "__main__":
    main(sys.argv)
