"""``switchboard directory preview``: what the sync settings would make of the users in scope."""

from __future__ import annotations

import json
import sys

from rich.table import Table

from switchboard.cli.common import JsonOption, cli_actor, console, container, dumps, fail
from switchboard.cli.directory_commands import directory
from switchboard.connection.settings_preview import preview_settings
from switchboard.portal.errors import PortalError
from switchboard.schemas.preview_out import PreviewOut, TallyOut

OUTCOME_WORDS = {
    "create": "created",
    "link": "linked to a portal user",
    "update": "updated",
    "relocate": "moved to another location",
    "enable": "enabled",
    "disable": "flagged disabled in directory",
    "unchanged": "unchanged",
    "offered": "offered (manual provisioning)",
    "error": "not synced",
}


def _tallies(title: str, first: str, rows: list[TallyOut]) -> None:
    table = Table(title=title)
    for column in (first, "users", "for example"):
        table.add_column(column)
    for row in rows:
        more = row.users - len(row.examples)
        examples = ", ".join(row.examples) + (f" and {more} more" if more > 0 else "")
        table.add_row(row.label or "(empty)", str(row.users), examples)
    console.print(table)


@directory.command("preview")
def directory_preview(account: str, as_json: bool = JsonOption) -> None:
    """Read ACCOUNT's users in scope and show how its settings would map them: users per
    location, values that match no location, missing attributes, what a reconcile would do.
    Nothing is written."""
    with container() as c:
        try:
            out = PreviewOut.of(preview_settings(c, cli_actor(), account))
        except PortalError as exc:
            raise fail(exc.message, 2 if exc.status == 422 else 1) from exc
    if as_json:
        sys.stdout.write(json.dumps(dumps(out), indent=2) + "\n")
        return
    console.print(
        f"[bold]{out.users}[/] users in scope; [bold]{out.ready}[/] would sync as they are"
    )
    table = Table(title="Users per location")
    table.add_column("location")
    table.add_column("users")
    for row in out.locations:
        table.add_row(row.location, str(row.users))
    console.print(table)
    if out.unmapped_values:
        _tallies("Values that match no location", "value", out.unmapped_values)
        console.print(
            f"add a rule: switchboard directory settings {account} --location-rule 'VALUE=LOCATION'"
            " (give every rule: the ones given replace the rules), or set --default-location",
            markup=False,
        )
    if out.unmapped_unlisted_users:
        console.print(f"{out.unmapped_unlisted_users} more users with values not listed")
    if out.missing_attributes:
        _tallies("Missing attributes", "attribute", out.missing_attributes)
    if out.problems:
        _tallies("Other problems", "problem", out.problems)
    done = [f"{n} {OUTCOME_WORDS.get(k, k)}" for k, n in out.reconcile.items()]
    if out.deletions:
        done.append(f"{out.deletions} deleted (no longer in scope)")
    console.print("a reconcile would do: " + ("; ".join(done) or "nothing to do"), markup=False)
    if out.guard_hold:
        console.print(f"the guards would hold it: {out.guard_hold}", markup=False)
