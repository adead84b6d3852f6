"""`switchboard directory groups ACCOUNT [--search TEXT] [--json]`: the group picker."""

from __future__ import annotations

from typing import Annotated

import typer

from switchboard.cli.common import JsonOption, cli_actor, console, container, emit, fail
from switchboard.cli.directory_commands import directory
from switchboard.connection import group_picker
from switchboard.portal.errors import PortalError

COLUMNS = ["name", "id", "members", "nested_groups", "description"]


@directory.command("groups")
def directory_groups(
    account: str,
    search: Annotated[
        str,
        typer.Option(
            "--search",
            metavar="TEXT",
            help="Text the group's name (or a word of it) starts with; empty lists the first"
            " groups by name",
        ),
    ] = "",
    as_json: bool = JsonOption,
) -> None:
    """Find ACCOUNT's Entra ID groups by name, with members (nested groups included) and the
    groups nested in each; choose them with `directory settings ACCOUNT --groups ID,ID`."""
    actor = cli_actor()
    with container() as c:
        try:
            found = group_picker.search_groups(c, actor, account, search)
        except PortalError as exc:
            raise fail(exc.message, 2 if exc.status == 422 else 1) from exc
    rows = [
        {
            "name": g.name,
            "id": g.id,
            "members": g.members,
            "nested_groups": g.nested_groups,
            "description": g.description,
        }
        for g in found.groups
    ]
    emit(
        rows, as_json, COLUMNS, f"Groups of {account}" + (f" matching '{search}'" if search else "")
    )
    if not as_json and found.total is not None and found.total > len(rows):
        console.print(
            f"{len(rows)} of {found.total} groups shown; type more of the name to narrow them."
        )
