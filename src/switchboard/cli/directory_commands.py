"""``switchboard directory``: connect an account to Entra ID and manage its sync settings."""

from __future__ import annotations

import json
import sys
from typing import Annotated

import typer
from sqlalchemy import select

from switchboard.bootstrap import Container
from switchboard.cli.common import (
    JsonOption,
    cli_actor,
    console,
    container,
    dumps,
    fail,
    parse,
    unit_of_work,
)
from switchboard.cli.settings_options import (
    AllUsers,
    AuthorityUrl,
    CaBundle,
    Cloud,
    Cron,
    DefaultLocation,
    Every,
    ExtensionAttribute,
    GraphUrl,
    Groups,
    Maps,
    Mode,
    Provisioning,
    Rules,
    TwoWay,
    settings_patch,
)
from switchboard.connection import certificate_rotation, group_picker, settings_validation
from switchboard.connection import registration as service
from switchboard.connection.tenant_sharing import tenant_sharing
from switchboard.db.models import SyncRun
from switchboard.jobs.runner import InlineJobRunner
from switchboard.portal import accounts as accounts_service
from switchboard.portal.errors import PortalError
from switchboard.schemas.registration_out import RegistrationOut, SettingsOut
from switchboard.sync import jit_switch, rescope

directory = typer.Typer(help="The account's Entra ID connection and sync.", no_args_is_help=True)


def print_registration(out: RegistrationOut, as_json: bool, title: str) -> None:
    if as_json:
        sys.stdout.write(json.dumps(dumps(out), indent=2) + "\n")
        return
    cert = out.certificate
    settings = out.settings
    console.print(f"[bold]{title}[/]")
    rows = [
        ("tenant", out.tenant_id),
        ("client (application) id", out.client_id),
        ("cloud", f"{out.cloud}  {out.authority_url}  {out.graph_url}"),
        ("certificate", f"{cert.thumbprint_sha1}  valid until {cert.not_after:%Y-%m-%d}"),
    ]
    if out.next_certificate:
        nxt = out.next_certificate
        rows.append(
            ("next certificate", f"{nxt.thumbprint_sha1}  waiting to be proven and promoted")
        )
    rows += [
        (
            "groups",
            "(all users of the tenant)"
            if settings.get("all_users")
            else _groups(out) or "(none: choose groups or --all-users)",
        ),
        ("direction", settings["direction"]),
        ("mode", settings["mode"]),
        ("provisioning", settings["provisioning"]),
        ("location rules", ", ".join(f"{k}={v}" for k, v in settings["location_rules"].items())),
        ("default location", settings["default_location"] or "(hold unmapped users)"),
        ("permissions needed", ", ".join(out.required_permissions)),
    ]
    if out.last_test:
        verdict = "passed" if out.last_test.get("ok") else "failed"
        rows.append(("last test", f"{verdict} at {out.last_test.get('tested_at')}"))
    for label, value in rows:
        console.print(f"  {label:<24} {value or '-'}")
    for warning in out.warnings:
        console.print(f"[yellow]Warning:[/] {warning}", highlight=False)


def _groups(out: RegistrationOut) -> str:
    """The synced groups by name next to their ids, when the names were read."""
    if out.groups_detail is None:
        return ", ".join(out.settings["groups"])
    shown = ", ".join(
        g.label if g.deleted or g.name is None else f"{g.name} ({g.id})" for g in out.groups_detail
    )
    return shown + (f"  (names not read: {out.groups_note})" if out.groups_note else "")


def _next_steps(slug: str, out: RegistrationOut, which: str = "") -> None:
    flag = " --next" if which == "next" else ""
    console.print(
        "\nNext, in the Entra admin center (App registrations > your app):\n"
        f"  1. switchboard directory certificate {slug}{flag} > switchboard-{slug}.pem\n"
        "  2. Certificates & secrets > Certificates > Upload certificate: that file\n"
        "  3. API permissions > Add a permission > Microsoft Graph > Application permissions:\n"
        f"     {', '.join(out.required_permissions)}; then Grant admin consent\n"
        f"  4. switchboard directory test {slug}"
    )


@directory.command("connect")
def directory_connect(
    account: str,
    tenant_id: Annotated[str, typer.Option("--tenant-id", help="Directory (tenant) id")],
    client_id: Annotated[str, typer.Option("--client-id", help="Application (client) id")],
    groups: Annotated[
        str | None,
        typer.Option("--groups", help="Comma-separated object ids of the groups to sync"),
    ] = None,
    all_users: AllUsers = None,
    cloud: Cloud = None,
    authority_url: AuthorityUrl = None,
    graph_url: GraphUrl = None,
    ca_bundle: CaBundle = None,
    two_way: TwoWay = None,
    mode: Mode = None,
    location_rule: Rules = None,
    default_location: DefaultLocation = None,
    provisioning: Provisioning = None,
    extension_attribute: ExtensionAttribute = None,
    every: Every = None,
    cron: Cron = None,
    map_: Maps = None,
    as_json: bool = JsonOption,
) -> None:
    """Connect ACCOUNT to its Entra tenant; Switchboard generates the app certificate."""
    patch = settings_patch(
        groups=groups,
        all_users=all_users,
        two_way=two_way,
        mode=mode,
        rules=location_rule,
        default_location=default_location,
        provisioning=provisioning,
        extension_attribute=extension_attribute,
        every=every,
        cron=cron,
        maps=map_,
    )
    with unit_of_work() as s:
        actor = cli_actor()
        acct = accounts_service.get_account(s, actor, account, write=True)
        settings = settings_validation.validate_settings(
            s, acct, settings_validation.merge_patch({}, patch)
        )
        data = parse(
            service.RegistrationIn,
            {
                "tenant_id": tenant_id,
                "client_id": client_id,
                "cloud": cloud,
                "authority_url": authority_url,
                "graph_url": graph_url,
                "ca_bundle_pem": ca_bundle.read_text() if ca_bundle else None,
                "settings": settings,
            },
        )
        registration = service.connect(s, actor, acct, data)
        shared = tenant_sharing(s, actor, acct, registration.tenant_id)
        out = RegistrationOut.of(registration, shared.warnings())
    print_registration(out, as_json, f"Connected {account} to Entra ID")
    if not as_json:
        _next_steps(account, out)


@directory.command("settings")
def directory_settings(
    account: str,
    groups: Groups = None,
    all_users: AllUsers = None,
    two_way: TwoWay = None,
    mode: Mode = None,
    location_rule: Rules = None,
    default_location: DefaultLocation = None,
    provisioning: Provisioning = None,
    extension_attribute: ExtensionAttribute = None,
    every: Every = None,
    cron: Cron = None,
    map_: Maps = None,
    as_json: bool = JsonOption,
) -> None:
    """Change ACCOUNT's sync settings; options not given stay as they are."""
    patch = settings_patch(
        groups=groups,
        all_users=all_users,
        two_way=two_way,
        mode=mode,
        rules=location_rule,
        default_location=default_location,
        provisioning=provisioning,
        extension_attribute=extension_attribute,
        every=every,
        cron=cron,
        maps=map_,
    )
    if not patch:
        raise fail("nothing to change: give at least one option (see --help)", 2)
    actor = cli_actor()
    with container() as c:
        try:
            with c.unit_of_work() as s:
                acct = accounts_service.get_account(s, actor, account, write=True)
                current = service.policy_of(service.get_registration(s, actor, acct))
                if "location_rules" in patch:
                    # The rules given replace the current ones: the rest are removed (null).
                    given = {k.strip().casefold(): v for k, v in patch["location_rules"].items()}
                    patch["location_rules"] = {
                        **{k: None for k in current.location_rules if k not in given},
                        **given,
                    }
                registration = service.update_settings(s, actor, acct, patch)
                out, account_id = RegistrationOut.of(registration), acct.id
                changed = service.policy_of(registration)
        except PortalError as exc:
            raise fail(exc.message, 2 if exc.status == 422 else 1) from exc
        out = out.with_names(group_picker.chosen_groups(c, actor, account))
        if not as_json:
            print_registration(out, as_json, f"Sync settings of {account}")
        # A new scope or mapping: the full reconcile runs now, in this command.
        started = rescope.after_settings_change(
            c, InlineJobRunner(), actor, account, account_id, current, changed, trigger="manual"
        )
        status = (
            _run_status(c, account_id, started.run_number)
            if started and started.run_number
            else None
        )
        switched = jit_switch.after_mode_change(c, account_id, current, changed)
    subscriptions_note = switched.note(account) if switched else None
    if as_json:
        body = SettingsOut(
            **out.model_dump(),
            reconcile_run_number=started.run_number if started else None,
            reconcile_note=started.note if started else None,
            subscriptions_note=subscriptions_note,
        )
        sys.stdout.write(json.dumps(dumps(body), indent=2) + "\n")
        return
    if started is not None:
        what = ", ".join(started.fields)
        if started.run_number is None:
            console.print(f"\n{what} changed: {started.note}")
        else:
            console.print(
                f"\n{what} changed: full reconcile run #{started.run_number} {status};"
                f" details: switchboard directory run {account} {started.run_number}"
            )
    if subscriptions_note:
        console.print(f"\n{subscriptions_note}", markup=False)


def _run_status(c: Container, account_id: int, number: int) -> str:
    with c.unit_of_work() as s:
        run = s.scalar(
            select(SyncRun).where(SyncRun.account_id == account_id, SyncRun.number == number)
        )
        if run is None:
            return "not found"
        return run.status + (
            f" ({run.message})" if run.status != "succeeded" and run.message else ""
        )


@directory.command("show")
def directory_show(account: str, as_json: bool = JsonOption) -> None:
    """Show ACCOUNT's registration: tenant, cloud, certificates, settings (the synced groups by
    name, read from Entra ID), last test."""
    actor = cli_actor()
    with container() as c:
        try:
            with c.unit_of_work() as s:
                acct = accounts_service.get_account(s, actor, account)
                registration = service.get_registration(s, actor, acct)
                shared = tenant_sharing(s, actor, acct, registration.tenant_id)
                out = RegistrationOut.of(registration, shared.warnings())
            out = out.with_names(group_picker.chosen_groups(c, actor, account))
        except PortalError as exc:
            raise fail(exc.message) from exc
    print_registration(out, as_json, f"Entra ID registration of {account}")


@directory.command("certificate")
def directory_certificate(
    account: str,
    next_: Annotated[
        bool, typer.Option("--next", help="The rotated certificate waiting to be proven")
    ] = False,
) -> None:
    """Print the public certificate (PEM) to upload to the app registration."""
    with unit_of_work() as s:
        actor = cli_actor()
        acct = accounts_service.get_account(s, actor, account)
        pem = certificate_rotation.certificate_pem(
            service.get_registration(s, actor, acct), "next" if next_ else "current"
        )
    sys.stdout.write(pem)


@directory.command("rotate")
def directory_rotate(account: str, as_json: bool = JsonOption) -> None:
    """Generate the next certificate; the current one keeps working until `promote`."""
    with unit_of_work() as s:
        actor = cli_actor()
        acct = accounts_service.get_account(s, actor, account, write=True)
        out = RegistrationOut.of(certificate_rotation.rotate_certificate(s, actor, acct))
    print_registration(out, as_json, f"New certificate for {account}")
    if not as_json:
        _next_steps(account, out, "next")
        console.print(f"  5. switchboard directory promote {account}")


@directory.command("promote")
def directory_promote(account: str, as_json: bool = JsonOption) -> None:
    """Make the rotated certificate current (after a connection test proved it)."""
    with unit_of_work() as s:
        actor = cli_actor()
        acct = accounts_service.get_account(s, actor, account, write=True)
        out = RegistrationOut.of(certificate_rotation.promote_next(s, actor, acct))
    print_registration(out, as_json, f"Certificate of {account} promoted")
    if not as_json:
        console.print("You may now delete the old certificate from the app registration.")


@directory.command("disconnect")
def directory_disconnect(
    account: str,
    yes: Annotated[bool, typer.Option("--yes", help="Do not ask for confirmation")] = False,
) -> None:
    """Remove the registration and its key; directory users stay as ordinary portal users."""
    if not yes:
        typer.confirm(
            f"Disconnect '{account}' from Entra ID? Its certificate key is destroyed and its"
            " directory users become ordinary portal users.",
            abort=True,
        )
    with unit_of_work() as s:
        actor = cli_actor()
        acct = accounts_service.get_account(s, actor, account, write=True)
        summary = service.disconnect(s, actor, acct)
    typer.echo(
        f"{account} disconnected from Entra ID; {summary.unlinked_users} directory users are now"
        " local users. Remove the certificate from the app registration in Entra ID."
    )
