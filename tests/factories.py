"""Test data built through the same service functions the product uses."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.orm import Session

from switchboard.bootstrap import Container
from switchboard.db.models import Account, Location
from switchboard.portal import accounts, api_tokens, licenses, locations, numbers, principals
from switchboard.portal.actors import Actor, Role, system_actor
from switchboard.portal.schemas import AccountIn, AddressIn, LicenseIn, LocationIn, NumbersIn

OPERATOR = system_actor("test:factories")


def address(**overrides: str) -> AddressIn:
    base = {
        "street": "1 Main St",
        "city": "Springfield",
        "region": "IL",
        "postal_code": "62701",
        "country": "US",
    }
    base.update(overrides)
    return AddressIn(**base)


def account(session: Session, slug: str = "acme", **kw: object) -> Account:
    return accounts.create_account(
        session, OPERATOR, AccountIn(slug=slug, name=f"{slug} Inc", **kw)
    )


def location(
    session: Session, acct: Account, name: str = "HQ", tz: str = "America/Chicago"
) -> Location:
    return locations.create_location(
        session, OPERATOR, acct, LocationIn(name=name, address=address(), time_zone=tz)
    )


@dataclass
class Tenant:
    account: Account
    hq: Location
    branch: Location


def tenant(session: Session, slug: str = "acme", area: str = "312") -> Tenant:
    """An account with two locations, a license with 3 seats and numbers at both locations."""
    acct = account(session, slug)
    hq = location(session, acct, "HQ")
    branch = location(session, acct, "Branch", tz="America/New_York")
    licenses.create_license(session, OPERATOR, acct, LicenseIn(name="Business Voice", seats=3))
    numbers.add_numbers(
        session,
        OPERATOR,
        acct,
        NumbersIn(numbers=[f"+1{area}555{n:04d}" for n in range(100, 104)], location_id=hq.id),
    )
    numbers.add_numbers(
        session,
        OPERATOR,
        acct,
        NumbersIn(numbers=[f"+1{area}556{n:04d}" for n in range(100, 102)], location_id=branch.id),
    )
    return Tenant(acct, hq, branch)


def token_for(
    container: Container,
    email: str,
    role: Role,
    account_slug: str | None = None,
    password: str | None = None,
) -> str:
    with container.unit_of_work() as session:
        acct = accounts.get_account(session, OPERATOR, account_slug) if account_slug else None
        principal = principals.create_principal(
            session, OPERATOR, email=email, role=role, account=acct, password=password
        )
        return api_tokens.issue_token(session, OPERATOR, principal).token


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def actor_of(role: Role, account: Account | None = None) -> Actor:
    return Actor(label=f"test:{role.value}", role=role, account_id=account.id if account else None)
