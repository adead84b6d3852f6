"""``switchboard scim``: take an account's users over SCIM 2.0 (Entra provisioning or Okta),
its settings, and the bearer tokens its client sends."""

from __future__ import annotations

import json
import sys
from datetime import timedelta
from typing import Annotated, Any

import typer

from switchboard.cli.common import (
    JsonOption,
    cli_actor,
    console,
    dumps,
    err_console,
    fail,
    parse,
    unit_of_work,
)
from switchboard.cli.settings_options import DefaultLocation, Rules, rule_pairs
from switchboard.config import Settings
from switchboard.portal import accounts as accounts_service
from switchboard.schemas.scim_setup import ScimSetupOut, ScimSourceIn
from switchboard.scim import source, tokens

scim = typer.Typer(
    help="Take an account's users over SCIM 2.0 (Entra provisioning or Okta).",
    no_args_is_help=True,
)

LOCAL_BASE = "http://127.0.0.1:8000"

Client = Annotated[str | None, typer.Option("--client", help="entra (Entra provisioning) or okta")]
Deprovision = Annotated[
    str | None,
    typer.Option(
        "--deprovision",
        help="What a deactivation means: disable (keep the user, flagged, with its license)"
        " or delete. Entra also deactivates users who leave the assigned groups, who must then"
        " be deleted",
    ),
]
LocationFrom = Annotated[
    str | None,
    typer.Option(
        "--location-from",
        help="Where a user's location comes from: department, locality (work address) or"
        " switchboard (the Switchboard extension schema)",
    ),
]
RateLimit = Annotated[
    int | None,
    typer.Option("--rate-limit", help="Requests per second above which the endpoint answers 429"),
]


def base_url() -> str:
    """SWITCHBOARD_PUBLIC_URL, else the address `switchboard serve` listens on by default."""
    configured = Settings().public_url
    if configured:
        return configured
    err_console.print(
        f"note: SWITCHBOARD_PUBLIC_URL is not set, so the URL uses {LOCAL_BASE}; give the client"
        " the portal's public https address instead",
        highlight=False,
    )
    return LOCAL_BASE


def _body(client: str, options: dict[str, Any]) -> ScimSourceIn:
    given = {name: value for name, value in options.items() if value is not None}
    return parse(ScimSourceIn, {"client": client, **given})


def _options(
    deprovision: str | None,
    location_from: str | None,
    location_rule: list[str] | None,
    default_location: str | None,
    rate_limit: int | None,
) -> dict[str, Any]:
    return {
        "deprovision": deprovision,
        "location_attribute": location_from,
        "location_rules": rule_pairs(location_rule) if location_rule is not None else None,
        "default_location": default_location,
        "rate_limit": rate_limit,
    }


def _show(out: ScimSetupOut, as_json: bool, title: str) -> None:
    if as_json:
        sys.stdout.write(json.dumps(dumps(out), indent=2) + "\n")
        return
    console.print(f"[bold]{title}[/]", highlight=False)
    if not out.connected:
        other = " (it is connected to Entra ID over Microsoft Graph)" if out.graph_connected else ""
        console.print(f"  not taking users over SCIM{other}", highlight=False)
        return
    rules = ", ".join(f"{k}={v}" for k, v in (out.location_rules or {}).items())
    rows = [
        ("client", "Entra provisioning" if out.client == "entra" else "Okta"),
        ("URL", out.url),
        ("deactivation", "deletes the user" if out.deprovision == "delete" else "disables"),
        ("location from", out.location_attribute),
        ("location rules", rules or "-"),
        ("default location", out.default_location or "(none: users without one are refused)"),
        ("rate limit", f"{out.rate_limit} requests/s"),
    ]
    for label, value in rows:
        console.print(f"  {label:<18} {value}", highlight=False)
    if not out.tokens:
        console.print(
            "  tokens             none yet: switchboard scim token ACCOUNT", highlight=False
        )
    for t in out.tokens:
        until = f" until {t.expires_at:%Y-%m-%d %H:%M}" if t.state == "expiring" else ""
        used = f", last used {t.last_used_at:%Y-%m-%d %H:%M}" if t.last_used_at else ""
        console.print(
            f"  token {t.id:<12} sbscim_{t.prefix}_…  {t.state}{until}{used}", highlight=False
        )


def _read(account: str, base: str) -> ScimSetupOut:
    with unit_of_work() as s:
        actor = cli_actor()
        acct = accounts_service.get_account(s, actor, account)
        return ScimSetupOut.of(source.read_setup(s, actor, acct), source.endpoint_url(base, acct))


@scim.command("connect")
def scim_connect(
    account: str,
    client: Annotated[str, typer.Option("--client", help="entra (Entra provisioning) or okta")],
    deprovision: Deprovision = None,
    location_from: LocationFrom = None,
    location_rule: Rules = None,
    default_location: DefaultLocation = None,
    rate_limit: RateLimit = None,
    as_json: bool = JsonOption,
) -> None:
    """Make SCIM ACCOUNT's directory source (refused while it is connected over Graph)."""
    body = _body(
        client, _options(deprovision, location_from, location_rule, default_location, rate_limit)
    )
    base = base_url()
    with unit_of_work() as s:
        actor = cli_actor()
        acct = accounts_service.get_account(s, actor, account, write=True)
        if source.get_source(s, acct) is not None:
            raise fail(
                f"account '{account}' already takes its users over SCIM; change its settings"
                f" with `switchboard scim settings {account} ...`"
            )
        source.connect(s, actor, acct, body.client, body.settings())
    _show(_read(account, base), as_json, f"{account} takes its users over SCIM")
    if not as_json:
        console.print(
            f"\nNext: switchboard scim token {account}, then give the client the URL and the"
            " token (Entra: Enterprise applications > your app > Provisioning > Automatic >"
            " Tenant URL and Secret Token > Test Connection).",
            highlight=False,
        )


@scim.command("settings")
def scim_settings(
    account: str,
    client: Client = None,
    deprovision: Deprovision = None,
    location_from: LocationFrom = None,
    location_rule: Rules = None,
    default_location: DefaultLocation = None,
    rate_limit: RateLimit = None,
    as_json: bool = JsonOption,
) -> None:
    """Change ACCOUNT's SCIM settings; options not given stay as they are (--location-rule
    replaces every rule; --default-location '' clears the default location)."""
    options = _options(deprovision, location_from, location_rule, default_location, rate_limit)
    base = base_url()
    with unit_of_work() as s:
        actor = cli_actor()
        acct = accounts_service.get_account(s, actor, account, write=True)
        current = source.require_source(s, acct)
        body = _body(client or current.client, options)
        source.connect(s, actor, acct, body.client, body.settings())
    _show(_read(account, base), as_json, f"SCIM settings of {account}")


@scim.command("token")
def scim_token(
    account: str,
    overlap_hours: Annotated[
        int,
        typer.Option(
            "--overlap-hours",
            help="How long the tokens that work now keep working (0 to 168; 0: stop at once)",
        ),
    ] = 24,
    as_json: Annotated[bool, typer.Option("--json", help='Print {"token": ..., "url": ...}')] = (
        False
    ),
) -> None:
    """Create a SCIM token for ACCOUNT; it is shown once (only its hash is kept)."""
    base = base_url()
    with unit_of_work() as s:
        actor = cli_actor()
        acct = accounts_service.get_account(s, actor, account, write=True)
        issued = tokens.issue(s, actor, acct, overlap=timedelta(hours=overlap_hours))
        url = source.endpoint_url(base, acct)
        replaced = len(tokens.active_tokens(s, acct)) - 1
    if as_json:
        typer.echo(json.dumps({"token": issued.token, "url": url}))
        return
    typer.echo(f"URL (Tenant URL / Base URL): {url}")
    typer.echo(f"Token (shown once, keep it safe): {issued.token}")
    if replaced > 0 and overlap_hours > 0:
        typer.echo(f"The {replaced} older token(s) keep working for {overlap_hours} hours.")


@scim.command("revoke")
def scim_revoke(
    account: str,
    token_id: Annotated[
        int | None,
        typer.Option("--token-id", help="The token to revoke (see `scim show`); default: all"),
    ] = None,
) -> None:
    """Revoke one SCIM token of ACCOUNT at once, or all of them."""
    with unit_of_work() as s:
        actor = cli_actor()
        acct = accounts_service.get_account(s, actor, account, write=True)
        count = tokens.revoke(s, actor, acct, token_id)
    if token_id is not None:
        state = "revoked" if count else "was already revoked"
        typer.echo(f"token {token_id} of {account} {state}")
    else:
        typer.echo(f"{count} token(s) of {account} revoked")


@scim.command("disconnect")
def scim_disconnect(
    account: str,
    yes: Annotated[bool, typer.Option("--yes", help="Do not ask for confirmation")] = False,
) -> None:
    """Stop taking ACCOUNT's users over SCIM; its users stay as ordinary portal users."""
    if not yes:
        typer.confirm(
            f"Disconnect '{account}' from SCIM? Its tokens stop working and the users it"
            " provisioned become ordinary portal users.",
            abort=True,
        )
    with unit_of_work() as s:
        actor = cli_actor()
        acct = accounts_service.get_account(s, actor, account, write=True)
        users = source.linked_users(s, acct)
        source.disconnect(s, actor, acct)
    typer.echo(
        f"{account} no longer takes users over SCIM; its tokens are revoked and {users}"
        " provisioned users are now ordinary portal users. Turn provisioning off in the client."
    )


@scim.command("show")
def scim_show(account: str, as_json: bool = JsonOption) -> None:
    """ACCOUNT's SCIM source, settings, URL and tokens (never their secrets)."""
    _show(_read(account, base_url()), as_json, f"SCIM of {account}")
