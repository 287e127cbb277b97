"""The coverage check (issue 15): every command of the covered groups of the server's
``COMMAND DOCS`` has a typed method, or is left to `execute` with a reason
(see `tests.commands._coverage`)."""

from __future__ import annotations

from typing import Any

import anyio
import pytest

from tests._servers import ServerProcess
from tests.commands._coverage import (
    GROUP_MODULES,
    commands_by_group,
    coverage,
    left_to_execute,
    method_name,
    methods,
    normal,
    table,
)


@pytest.fixture(scope="module")
def docs(command_server: ServerProcess) -> dict[str, Any]:
    from tests.commands._coverage import read_docs

    return anyio.run(read_docs, command_server.url)


def test_every_command_has_a_method_or_a_reason(docs: dict[str, Any]) -> None:
    report = coverage(docs)
    missing = {one.group: one.missing for one in report if one.missing}
    lines = [
        f"{group} (anyredis_auth/_commands/{GROUP_MODULES[group]}.py): "
        f"{len(names)} without a method or a LEFT_TO_EXECUTE reason: {', '.join(names)}"
        for group, names in missing.items()
    ]
    assert not missing, "\n" + "\n".join(lines) + "\n\n" + table(report)


def test_left_to_execute_names_commands_without_methods(docs: dict[str, Any]) -> None:
    """No entry names a command that has a method, or no command of its module's groups (a
    typo); every reason says something."""
    by_group = commands_by_group(docs, help=True)  # listing a HELP subcommand is allowed
    names, covers = methods()
    problems = []
    for module in sorted(set(GROUP_MODULES.values())):
        groups = [group for group, owner in GROUP_MODULES.items() if owner == module]
        known = {name for group in groups for name in by_group.get(group, [])}
        for name, reason in left_to_execute(module).items():
            if name in covers or method_name(name) in names:
                problems.append(f"{module}: {name} has a method, yet is left to execute")
            if name not in known:
                problems.append(f"{module}: {name} is no command of {', '.join(groups)}")
            if not isinstance(reason, str) or not reason.strip():
                problems.append(f"{module}: {name} has no reason")
    assert problems == []


def test_covers_names_known_commands(docs: dict[str, Any]) -> None:
    """Every ``covers=`` names a command of the server (any group)."""
    every = {name for names in commands_by_group(docs, help=True).values() for name in names}
    _, covers = methods()
    assert sorted(name for name in covers if normal(name) not in every) == []
