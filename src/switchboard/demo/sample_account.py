"""The demo's sample account on the embedded database, and this run's logins: the account's
admin and the operator (the provider admin who sees every account)."""

from __future__ import annotations

import secrets
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from switchboard.bootstrap import Container
from switchboard.db.models import Account, Principal
from switchboard.portal import accounts, licenses, locations, numbers, principals, users
from switchboard.portal.actors import Role, system_actor
from switchboard.portal.schemas import (
    AccountIn,
    AddressIn,
    LicenseIn,
    LocationIn,
    NumbersIn,
    UserIn,
)

ACTOR = system_actor("demo")
SLUG = "acme"
ADMIN_EMAIL = "admin@acme.example"
OPERATOR_EMAIL = "operator@provider.example"

LOCATIONS = [
    (
        "HQ",
        AddressIn(
            street="233 S Wacker Dr", city="Chicago", region="IL", postal_code="60606", country="US"
        ),
        "America/Chicago",
        "+1312555",
    ),
    (
        "Branch",
        AddressIn(
            street="350 5th Ave", city="New York", region="NY", postal_code="10118", country="US"
        ),
        "America/New_York",
        "+1212555",
    ),
    (
        "Paris",
        AddressIn(
            street="5 Avenue Anatole France",
            city="Paris",
            region="Ile-de-France",
            postal_code="75007",
            country="FR",
        ),
        "Europe/Paris",
        "+3315555",
    ),
]

PEOPLE = [
    ("Ada", "Lovelace", "HQ"),
    ("Grace", "Hopper", "HQ"),
    ("Alan", "Turing", "HQ"),
    ("Katherine", "Johnson", "HQ"),
    ("Mei", "Chen", "HQ"),
    ("Oluwaseun", "Adeyemi", "HQ"),
    ("José", "Martínez", "Branch"),
    ("Priya", "Raghunathan", "Branch"),
    ("Søren", "Kierkegaard", "Branch"),
    ("Yuki", "Tanaka", "Branch"),
    ("Amélie", "Dubois", "Paris"),
    ("Hélène", "Lefèvre", "Paris"),
    ("Zoë", "Moreau", "Paris"),
]


@dataclass(frozen=True)
class DemoLogin:
    email: str  # the account admin's
    password: str
    users: int
    operator_email: str
    operator_password: str


def seed(session: Session) -> Account:
    """Create the sample account once; a second run finds it and leaves it as it is."""
    existing = session.scalar(select(Account).where(Account.slug == SLUG))
    if existing is not None:
        return existing
    account = accounts.create_account(
        session, ACTOR, AccountIn(slug=SLUG, name="Acme Corporation", retention_plan="1y")
    )
    licenses.create_license(session, ACTOR, account, LicenseIn(name="Business Voice", seats=20))
    licenses.create_license(session, ACTOR, account, LicenseIn(name="Contact Center", seats=3))
    by_name = {}
    for name, address, tz, prefix in LOCATIONS:
        loc = locations.create_location(
            session, ACTOR, account, LocationIn(name=name, address=address, time_zone=tz)
        )
        by_name[name] = loc
        pool = [f"{prefix}{n:04d}" for n in range(100, 110)]
        numbers.add_numbers(
            session, ACTOR, account, NumbersIn(numbers=pool[:8], location_id=loc.id)
        )
        numbers.add_numbers(
            session,
            ACTOR,
            account,
            NumbersIn(numbers=pool[8:], location_id=loc.id, status="porting"),
        )
    free = {
        name: [
            n.e164
            for n in numbers.list_numbers(
                session, ACTOR, account, status="available", location_id=loc.id
            )
        ]
        for name, loc in by_name.items()
    }
    for i, (first, last, where) in enumerate(PEOPLE):
        email = f"{_ascii(first)}.{_ascii(last)}@acme.example"
        phone = [free[where].pop(0)] if i % 3 != 2 else []
        users.create_user(
            session,
            ACTOR,
            account,
            UserIn(
                first_name=first,
                last_name=last,
                email=email,
                location_id=by_name[where].id,
                phone_numbers=phone,
                license="Business Voice" if i % 4 != 3 else None,
            ),
        )
    return account


def _ascii(name: str) -> str:
    import unicodedata

    folded = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode()
    return folded.lower()


def ensure_login(session: Session, email: str, role: Role, account: Account | None) -> str:
    """A demo login (created on the first run), with a fresh random password for this run."""
    password = secrets.token_urlsafe(12)
    principal = session.scalar(select(Principal).where(Principal.email_key == email))
    if principal is None:
        principals.create_principal(
            session, ACTOR, email=email, role=role, account=account, password=password
        )
    else:
        principals.set_password(session, ACTOR, principal, password)
    return password


def prepare(container: Container) -> DemoLogin:
    with container.unit_of_work() as session:
        account = seed(session)
        password = ensure_login(session, ADMIN_EMAIL, Role.ACCOUNT_ADMIN, account)
        operator = ensure_login(session, OPERATOR_EMAIL, Role.PROVIDER_ADMIN, None)
        count = users.count_users(session, account)
    return DemoLogin(
        email=ADMIN_EMAIL,
        password=password,
        users=count,
        operator_email=OPERATOR_EMAIL,
        operator_password=operator,
    )
