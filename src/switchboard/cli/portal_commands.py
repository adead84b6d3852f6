"""Commands over the portal objects: accounts, locations, licenses, numbers, users."""

from __future__ import annotations

from typing import Annotated

import typer

from switchboard.cli.common import JsonOption, cli_actor, dumps, emit, parse, unit_of_work
from switchboard.portal import accounts as accounts_service
from switchboard.portal import licenses as licenses_service
from switchboard.portal import locations as locations_service
from switchboard.portal import numbers as numbers_service
from switchboard.portal import users as users_service
from switchboard.portal.schemas import AccountIn, LicenseIn, LocationIn, NumbersIn, UserIn
from switchboard.schemas.portal_out import AccountOut, LicenseOut, LocationOut, NumberOut, UserOut

accounts = typer.Typer(help="Customer accounts.", no_args_is_help=True)
locations = typer.Typer(help="Locations and their emergency addresses.", no_args_is_help=True)
licenses = typer.Typer(help="License types and seats.", no_args_is_help=True)
numbers = typer.Typer(help="The phone number inventory.", no_args_is_help=True)
users = typer.Typer(help="Portal users.", no_args_is_help=True)

ACCOUNT_COLUMNS = ["slug", "name", "retention_plan", "extension_length", "status"]


@accounts.command("create")
def accounts_create(
    slug: str,
    name: Annotated[str, typer.Option("--name", help="Display name")],
    retention: Annotated[str, typer.Option("--retention", help="6m, 1y, 2y or 3y")] = "6m",
    extension_length: Annotated[int, typer.Option(help="Digits per extension, 2-6")] = 4,
    as_json: bool = JsonOption,
) -> None:
    """Create an account."""
    data = parse(
        AccountIn,
        {
            "slug": slug,
            "name": name,
            "retention_plan": retention,
            "extension_length": extension_length,
        },
    )
    with unit_of_work() as s:
        row = dumps(AccountOut.of(accounts_service.create_account(s, cli_actor(), data)))
    emit([row], as_json, ACCOUNT_COLUMNS, "Account created")


@accounts.command("list")
def accounts_list(as_json: bool = JsonOption) -> None:
    """List accounts."""
    with unit_of_work() as s:
        rows = [dumps(AccountOut.of(a)) for a in accounts_service.list_accounts(s, cli_actor())]
    emit(rows, as_json, ACCOUNT_COLUMNS, "Accounts")


@accounts.command("terminate")
def accounts_terminate(
    slug: str,
    yes: Annotated[bool, typer.Option("--yes", help="Do not ask for confirmation")] = False,
) -> None:
    """Terminate an account: every user is deleted; media stays until retention expires it."""
    if not yes:
        typer.confirm(f"Terminate '{slug}' and delete all its users?", abort=True)
    with unit_of_work() as s:
        accounts_service.terminate_account(s, cli_actor(), slug)
    typer.echo(f"account {slug} terminated")


@locations.command("create")
def locations_create(
    account: str,
    name: str,
    street: Annotated[str, typer.Option(help="Street address (E911)")],
    city: Annotated[str, typer.Option(help="City or town")],
    country: Annotated[str, typer.Option(help="ISO 3166-1 alpha-2 code, e.g. US")],
    time_zone: Annotated[str, typer.Option(help="IANA time zone, e.g. America/Chicago")],
    region: Annotated[
        str, typer.Option(help="State, province or region (required in the US and Canada)")
    ] = "",
    postal_code: Annotated[str, typer.Option(help="Postal code, where the country uses them")] = "",
    as_json: bool = JsonOption,
) -> None:
    """Create a location with its emergency address."""
    data = parse(
        LocationIn,
        {
            "name": name,
            "time_zone": time_zone,
            "address": {
                "street": street,
                "city": city,
                "region": region,
                "postal_code": postal_code,
                "country": country,
            },
        },
    )
    with unit_of_work() as s:
        acct = accounts_service.get_account(s, cli_actor(), account, write=True)
        row = dumps(LocationOut.of(locations_service.create_location(s, cli_actor(), acct, data)))
    emit([_flat_location(row)], as_json, ["id", "name", "address", "time_zone"], "Location created")


def _flat_location(row: dict[str, object]) -> dict[str, object]:
    address = row["address"]
    assert isinstance(address, dict)
    text = ", ".join(
        str(address[k]) for k in ("street", "city", "region", "postal_code", "country")
    )
    return {**row, "address": text}


@locations.command("list")
def locations_list(account: str, as_json: bool = JsonOption) -> None:
    """List an account's locations."""
    with unit_of_work() as s:
        acct = accounts_service.get_account(s, cli_actor(), account)
        rows = [
            dumps(LocationOut.of(loc))
            for loc in locations_service.list_locations(s, cli_actor(), acct)
        ]
    if as_json:
        emit(rows, True, [], "")
    else:
        emit(
            [_flat_location(r) for r in rows],
            False,
            ["id", "name", "address", "time_zone"],
            f"Locations of {account}",
        )


@licenses.command("create")
def licenses_create(
    account: str,
    name: str,
    seats: Annotated[int, typer.Option(help="Seats purchased")],
    as_json: bool = JsonOption,
) -> None:
    """Create a license type with its purchased seats."""
    data = parse(LicenseIn, {"name": name, "seats": seats})
    with unit_of_work() as s:
        acct = accounts_service.get_account(s, cli_actor(), account, write=True)
        row = dumps(LicenseOut.of(licenses_service.create_license(s, cli_actor(), acct, data), 0))
    emit([row], as_json, ["id", "name", "seats", "seats_used"], "License created")


@licenses.command("list")
def licenses_list(account: str, as_json: bool = JsonOption) -> None:
    """List license types with seats used."""
    with unit_of_work() as s:
        acct = accounts_service.get_account(s, cli_actor(), account)
        used = licenses_service.usage(s, acct)
        rows = [
            dumps(LicenseOut.of(lt, used.get(lt.id, 0)))
            for lt in licenses_service.list_licenses(s, cli_actor(), acct)
        ]
    emit(rows, as_json, ["id", "name", "seats", "seats_used"], f"Licenses of {account}")


@numbers.command("add")
def numbers_add(
    account: str,
    e164: Annotated[list[str], typer.Argument(help="Numbers in E.164 form, e.g. +14155550123")],
    location: Annotated[str, typer.Option("--location", help="Location name or id")],
    porting: Annotated[bool, typer.Option(help="The numbers are being ported in")] = False,
    as_json: bool = JsonOption,
) -> None:
    """Add numbers to an account's inventory at a location."""
    with unit_of_work() as s:
        actor = cli_actor()
        acct = accounts_service.get_account(s, actor, account, write=True)
        loc = locations_service.find_location_by_name(s, acct, location)
        if loc is None and location.isdigit():
            loc = locations_service.get_location(s, actor, acct, int(location))
        if loc is None:
            known = ", ".join(x.name for x in locations_service.list_locations(s, actor, acct))
            raise _fail(f"location '{location}' not found in {account} (known: {known or 'none'})")
        data = parse(
            NumbersIn,
            {
                "numbers": e164,
                "location_id": loc.id,
                "status": "porting" if porting else "available",
            },
        )
        rows = [dumps(NumberOut.of(n)) for n in numbers_service.add_numbers(s, actor, acct, data)]
    emit(rows, as_json, ["id", "e164", "location_id", "status"], "Numbers added")


def _fail(message: str) -> typer.Exit:
    from switchboard.cli.common import fail

    return fail(message, 2)


@numbers.command("list")
def numbers_list(account: str, as_json: bool = JsonOption) -> None:
    """List an account's numbers."""
    with unit_of_work() as s:
        acct = accounts_service.get_account(s, cli_actor(), account)
        rows = [dumps(NumberOut.of(n)) for n in numbers_service.list_numbers(s, cli_actor(), acct)]
    emit(rows, as_json, ["id", "e164", "location_id", "status", "user_id"], f"Numbers of {account}")


USER_COLUMNS = [
    "id",
    "username",
    "first_name",
    "last_name",
    "email",
    "extension",
    "phone_numbers",
    "license",
    "status",
    "source",
]


@users.command("list")
def users_list(
    account: str,
    search: Annotated[str | None, typer.Option(help="Match name, email or extension")] = None,
    limit: Annotated[int, typer.Option(min=1, max=500, help="Users per page")] = 100,
    offset: Annotated[int, typer.Option(min=0, help="Users to skip (the page's start)")] = 0,
    as_json: bool = JsonOption,
) -> None:
    """List an account's users."""
    with unit_of_work() as s:
        acct = accounts_service.get_account(s, cli_actor(), account)
        page = users_service.list_users(
            s, cli_actor(), acct, search=search, limit=limit, offset=offset
        )
        rows = [dumps(UserOut.of(u)) for u in page.items]
    emit(rows, as_json, USER_COLUMNS, f"Users of {account} ({len(rows)} of {page.total})")


@users.command("create")
def users_create(
    account: str,
    email: Annotated[str, typer.Option(help="The user's email (their username by default)")],
    first_name: Annotated[str, typer.Option(help="First name")],
    last_name: Annotated[str, typer.Option(help="Last name")],
    location: Annotated[str, typer.Option(help="Location name")],
    extension: Annotated[
        str | None, typer.Option(help="Picked from the dial plan if omitted")
    ] = None,
    license: Annotated[str | None, typer.Option(help="License type name")] = None,
    number: Annotated[list[str] | None, typer.Option("--number", help="E.164; repeatable")] = None,
    as_json: bool = JsonOption,
) -> None:
    """Create a local user."""
    with unit_of_work() as s:
        actor = cli_actor()
        acct = accounts_service.get_account(s, actor, account, write=True)
        loc = locations_service.find_location_by_name(s, acct, location)
        if loc is None:
            raise _fail(f"location '{location}' not found in {account}")
        data = parse(
            UserIn,
            {
                "email": email,
                "first_name": first_name,
                "last_name": last_name,
                "location_id": loc.id,
                "extension": extension,
                "license": license,
                "phone_numbers": number or [],
            },
        )
        row = dumps(UserOut.of(users_service.create_user(s, actor, acct, data)))
    emit([row], as_json, USER_COLUMNS, "User created")
