"""Every command's --help reads as words: each option says what it is for, and its value is
named for a person (ACCOUNT, MINUTES, PATH), never a Python type."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest
import typer
from typer.testing import CliRunner

from switchboard.cli.main import app

UNREADABLE = ("<class", "Optional[", "NoneType", "typing.", "[default: None]", "<enum", "list[")
# Typer's own type labels: <str>, <int range>, <path>, <bool> (on flags, which take no value).
TYPE_LABEL = re.compile(r"<[a-z][a-z_ \[\]|]*>")


# Typer carries its own copy of click: commands and options are recognised by what they hold.
def _commands(group: Any, path: tuple[str, ...] = ()) -> Iterator[tuple[str, ...]]:
    yield path
    for name, command in sorted(getattr(group, "commands", {}).items()):
        if not command.hidden:
            yield from _commands(command, (*path, name))


ROOT = typer.main.get_command(app)
COMMANDS = list(_commands(ROOT))


def _command(path: tuple[str, ...]) -> Any:
    command: Any = ROOT
    for name in path:
        command = command.commands[name]
    return command


@pytest.mark.parametrize("path", COMMANDS, ids=lambda p: " ".join(p) or "switchboard")
def test_help_names_every_value_in_words(path: tuple[str, ...]) -> None:
    result = CliRunner().invoke(app, [*path, "--help"], env={"COLUMNS": "200", "NO_COLOR": "1"})
    assert result.exit_code == 0, result.output
    for word in UNREADABLE:
        assert word not in result.output, f"{' '.join(path)} --help shows {word!r}"
    labels = TYPE_LABEL.findall(result.output)
    assert not labels, f"{' '.join(path)} --help shows {labels}"
    command = _command(path)
    for param in command.params:
        if param.param_type_name == "option" and not param.hidden and "--help" not in param.opts:
            assert param.help, f"{' '.join(path)}: {param.opts[0]} has no help text"


def test_the_walk_reaches_the_subcommands() -> None:
    assert ("demo",) in COMMANDS
    assert ("directory", "connect") in COMMANDS
    assert len(COMMANDS) > 40
