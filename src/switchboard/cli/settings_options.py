"""The sync-settings options `directory connect` and `directory settings` share, and the
settings patch they make.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from switchboard.cli.common import fail
from switchboard.portal.validation import quote

# Where the tenant lives: `directory connect` and `directory connection` (editing it) share them.
Cloud = Annotated[
    str | None, typer.Option("--cloud", help="global, usgov, china or custom (default global)")
]
AuthorityUrl = Annotated[
    str | None, typer.Option("--authority-url", help="Custom hosts: https://host of the sign-in")
]
GraphUrl = Annotated[
    str | None, typer.Option("--graph-url", help="Custom hosts: https://host of Graph")
]
CaBundle = Annotated[
    Path | None,
    typer.Option(
        "--ca-bundle",
        exists=True,
        dir_okay=False,
        readable=True,
        help="Custom hosts: PEM certificates to trust for those hosts",
    ),
]
Groups = Annotated[
    str | None,
    typer.Option("--groups", help="Comma-separated object ids of the Entra groups to sync"),
]
AllUsers = Annotated[
    bool | None,
    typer.Option(
        "--all-users/--chosen-groups",
        help="Sync every user of the tenant (an explicit choice; no groups), or only the"
        " groups given with --groups",
        show_default=False,
    ),
]
TwoWay = Annotated[
    bool | None,
    typer.Option(
        "--two-way/--one-way",
        help="Write extensions and numbers back to Entra ID (needs User.ReadWrite.All)",
        show_default=False,
    ),
]
Mode = Annotated[str | None, typer.Option("--mode", help="on_demand, batched or jit")]
Rules = Annotated[
    list[str] | None,
    typer.Option(
        "--location-rule",
        help="VALUE=LOCATION: users whose location attribute is VALUE (any case) go to the"
        " portal location LOCATION; repeatable. `settings` replaces all rules with those given.",
    ),
]
DefaultLocation = Annotated[
    str | None,
    typer.Option("--default-location", help="Location for users no rule or name matches"),
]
Provisioning = Annotated[
    str | None,
    typer.Option("--provisioning", help="automatic (create users) or manual (offer them)"),
]
ExtensionAttribute = Annotated[
    str | None,
    typer.Option(
        "--extension-attribute",
        help="Two-way: write the extension to this attribute, extensionAttribute1..15",
    ),
]
Every = Annotated[
    int | None, typer.Option("--every", help="Batched mode: minutes between rounds (5-1440)")
]
Cron = Annotated[str | None, typer.Option("--cron", help="Batched mode: a cron expression")]
Maps = Annotated[
    list[str] | None,
    typer.Option(
        "--map",
        help="FIELD=PROPERTY: read first_name, last_name, email, email_fallback or location"
        " from this Graph user property; repeatable",
    ),
]


def _pairs(values: list[str] | None, option: str, shape: str) -> dict[str, str]:
    found: dict[str, str] = {}
    for raw in values or []:
        left, sep, right = raw.rpartition("=")
        if not sep or not left.strip() or not right.strip():
            raise fail(f"{option}: {quote(raw)} is not {shape}", 2)
        found[left.strip()] = right.strip()
    return found


def rule_pairs(values: list[str]) -> dict[str, str]:
    """--location-rule VALUE=LOCATION options as rules."""
    return _pairs(values, "--location-rule", "VALUE=LOCATION")


def settings_patch(
    *,
    groups: str | None,
    all_users: bool | None = None,
    two_way: bool | None,
    mode: str | None,
    rules: list[str] | None,
    default_location: str | None,
    provisioning: str | None,
    extension_attribute: str | None,
    every: int | None,
    cron: str | None,
    maps: list[str] | None,
) -> dict[str, Any]:
    """The settings patch the options given make (options not given are left out)."""
    patch: dict[str, Any] = {}
    if groups is not None:
        patch["groups"] = [g.strip() for g in groups.split(",") if g.strip()]
    if all_users is not None:
        patch["all_users"] = all_users
    if two_way is not None:
        patch["direction"] = "two_way" if two_way else "one_way"
    if mode is not None:
        patch["mode"] = mode
    if rules is not None:
        patch["location_rules"] = _pairs(rules, "--location-rule", "VALUE=LOCATION")
    if default_location is not None:
        patch["default_location"] = default_location
    if provisioning is not None:
        patch["provisioning"] = provisioning
    if extension_attribute is not None:
        patch["write_back"] = {"extension_to": extension_attribute}
    if every is not None:
        patch["schedule_minutes"] = every
    if cron is not None:
        patch["schedule_cron"] = cron
    if maps:
        patch["mapping"] = _pairs(maps, "--map", "FIELD=PROPERTY")
    return patch
