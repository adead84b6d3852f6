"""Roles and tenant isolation in the admin UI, on SQLite and PostgreSQL.

The account pages are read from the application's routing table, so a UI page added later is
checked here without another line of test code.
"""

from __future__ import annotations

import re

import pytest
from fastapi.routing import APIRoute
from sqlalchemy import func, select
from starlette.testclient import TestClient

from switchboard.bootstrap import Container
from switchboard.connection import registration
from switchboard.db.models import ApiToken, AuditEvent, LicenseType, PhoneNumber, Principal, User
from switchboard.jobs.runner import InlineJobRunner
from switchboard.portal import accounts, api_tokens, numbers, principals, users
from switchboard.portal.actors import Role
from switchboard.portal.schemas import NumbersIn, UserIn
from switchboard.sync.engine import SyncEngine
from switchboard.sync.policy import SyncPolicy
from switchboard.web import ui
from switchboard.web.ui.routing import UiRoute
from tests import factories
from tests.fakes import FakeDirectory
from tests.ui_support import csrf, make_admin, sign_in
from tests.wiring import Adapters

OP = factories.OPERATOR


@pytest.fixture
def adapters() -> Adapters:
    # Every registration reads an empty fake directory; runs finish before the page answers.
    return {"directory_for": lambda _registration: FakeDirectory(), "jobs": InlineJobRunner()}


def _seed(container: Container) -> dict[str, dict[str, int]]:
    """Two tenants, each with a user holding a number and a porting number; their ids."""
    ids: dict[str, dict[str, int]] = {}
    with container.unit_of_work() as session:
        for slug, area in (("alpha", "312"), ("bravo", "415")):
            t = factories.tenant(session, slug, area)
            user = users.create_user(
                session,
                OP,
                t.account,
                UserIn(
                    first_name="Grace",
                    last_name=f"Hopper {slug}",
                    email=f"grace@{slug}.example",
                    location_id=t.hq.id,
                    license="Business Voice",
                ),
            )
            porting = numbers.add_numbers(
                session,
                OP,
                t.account,
                NumbersIn(numbers=[f"+1{area}5570100"], location_id=t.hq.id, status="porting"),
            )[0]
            lic = session.scalar(select(LicenseType).where(LicenseType.account_id == t.account.id))
            assert lic is not None
            # Another admin of the account with a token: the admin and token routes act on them.
            other = principals.create_principal(
                session,
                OP,
                email=f"other@{slug}.example",
                role=Role.ACCOUNT_ADMIN,
                account=t.account,
            )
            token = api_tokens.issue_token(session, OP, other).record
            ids[slug] = {
                "user_id": user.id,
                "number_id": porting.id,
                "license_id": lic.id,
                "location_id": t.hq.id,
                "admin_id": other.id,
                "token_id": token.id,
            }
    _connect(container, ids)
    return ids


def _connect(container: Container, ids: dict[str, dict[str, int]]) -> None:
    """Both accounts connected to Entra ID with one sync run: the directory pages' ids.

    The sync reads an empty fake directory and runs inline (see ``adapters``); "Test
    connection" reaches for a local port nothing listens on, so it fails at once and never
    leaves the machine.
    """
    for slug in ids:
        with container.unit_of_work() as session:
            registration.connect(
                session,
                OP,
                accounts.get_account(session, OP, slug),
                registration.RegistrationIn(
                    tenant_id="6f1b2c3d-4e5f-4061-8293-a4b5c6d7e8f9",
                    client_id="11111111-2222-4333-8444-555555555555",
                    authority_url="https://127.0.0.1:9",
                    graph_url="https://127.0.0.1:9",
                    settings=SyncPolicy(all_users=True),
                ),
            )
        summary = SyncEngine(container, container.directory_factory()).reconcile(OP, slug)
        ids[slug]["number"] = summary.number


def _ui_account_routes() -> list[tuple[str, str]]:
    routes = [r for router in ui.ROUTERS for r in router.routes if isinstance(r, APIRoute)]
    assert all(isinstance(r, UiRoute) for r in routes)
    return sorted(
        (method, r.path) for r in routes for method in r.methods or () if "{slug}" in r.path
    )


def _fill(path: str, slug: str, values: dict[str, int]) -> str:
    return re.sub(
        r"{(\w+)}", lambda m: slug if m.group(1) == "slug" else str(values[m.group(1)]), path
    )


def _fingerprint(container: Container, slug: str) -> tuple[object, ...]:
    with container.unit_of_work() as session:
        account = accounts.get_account(session, OP, slug)
        rows = session.execute(
            select(User.first_name, User.extension, User.license_id)
            .where(User.account_id == account.id)
            .order_by(User.id)
        ).all()
        numbers = session.execute(
            select(PhoneNumber.e164, PhoneNumber.status)
            .where(PhoneNumber.account_id == account.id)
            .order_by(PhoneNumber.e164)
        ).all()
        seats = session.scalars(
            select(LicenseType.seats).where(LicenseType.account_id == account.id)
        ).all()
        events = session.scalar(select(func.count()).where(AuditEvent.account_id == account.id))
        admins = session.execute(
            select(Principal.email, Principal.disabled, ApiToken.revoked_at)
            .join(ApiToken, ApiToken.principal_id == Principal.id, isouter=True)
            .where(Principal.account_id == account.id)
            .order_by(Principal.id, ApiToken.id)
        ).all()
        return (tuple(rows), tuple(numbers), tuple(seats), events, tuple(admins))


def test_account_admin_gets_404_for_every_page_and_form_of_another_account(
    app_client: TestClient, container: Container
) -> None:
    ids = _seed(container)
    make_admin(container, "admin@alpha.example", Role.ACCOUNT_ADMIN, "alpha")
    sign_in(app_client, "admin@alpha.example")
    token = csrf(app_client, "/accounts/alpha")
    routes = _ui_account_routes()
    assert len(routes) >= 14
    before = _fingerprint(container, "bravo")
    form = {"csrf_token": token, "first_name": "Mallory", "seats": "99", "numbers": "+14155579999"}
    for method, path in routes:
        own = app_client.request(
            method,
            _fill(path, "alpha", ids["alpha"]),
            data=form if method == "POST" else None,
            follow_redirects=False,
        )
        assert own.status_code in (200, 303, 422), (method, path, own.status_code)
        theirs = _fill(path, "bravo", ids["bravo"])
        response = app_client.request(method, theirs, data=form if method == "POST" else None)
        assert response.status_code == 404, (method, theirs, response.status_code)
        # Word for word what a slug that does not exist gets: the account is not revealed.
        absent = app_client.request(
            method, _fill(path, "nosuch", ids["bravo"]), data=form if method == "POST" else None
        )
        assert response.text.replace("bravo", "nosuch") == absent.text
    assert _fingerprint(container, "bravo") == before
    listing = app_client.get("/accounts")
    assert "/accounts/alpha" in listing.text and "/accounts/bravo" not in listing.text
    assert app_client.get("/", follow_redirects=False).headers["location"] == "/accounts/alpha"


def test_account_viewer_sees_everything_but_cannot_change_anything(
    app_client: TestClient, container: Container
) -> None:
    ids = _seed(container)
    make_admin(container, "viewer@alpha.example", Role.ACCOUNT_VIEWER, "alpha")
    sign_in(app_client, "viewer@alpha.example")
    token = csrf(app_client, "/accounts/alpha")  # the sign-out form carries it
    pages = [
        "/accounts/alpha",
        "/accounts/alpha/users",
        f"/accounts/alpha/users/{ids['alpha']['user_id']}",
        "/accounts/alpha/locations",
        "/accounts/alpha/numbers",
        "/accounts/alpha/licenses",
        f"/accounts/alpha/locations/{ids['alpha']['location_id']}",
        "/accounts/alpha/audit",
        "/accounts/alpha/settings",
        "/accounts/alpha/terminate",
        "/accounts/alpha/directory",
        "/accounts/alpha/directory/settings",
        "/accounts/alpha/directory/disconnect",
        "/accounts/alpha/directory/runs",
        f"/accounts/alpha/directory/runs/{ids['alpha']['number']}",
        "/accounts/alpha/directory/writebacks",
    ]
    for page in pages:
        response = app_client.get(page)
        assert response.status_code == 200, page
        assert "Read-only" in response.text
        # The only form on a viewer's page is signing out.
        assert re.findall(r'<form method="post" action="([^"]+)"', response.text) == ["/logout"]
    assert "Grace" in app_client.get("/accounts/alpha/users").text
    assert "New user" not in app_client.get("/accounts/alpha/users").text

    before = _fingerprint(container, "alpha")
    routes = [(m, p) for m, p in _ui_account_routes() if m == "POST"]
    assert routes
    form = {"csrf_token": token, "first_name": "Mallory", "seats": "99", "numbers": "+13125579999"}
    for _method, path in routes:
        response = app_client.post(_fill(path, "alpha", ids["alpha"]), data=form)
        assert response.status_code == 403, (path, response.status_code)
        assert "can only read" in response.text
    assert _fingerprint(container, "alpha") == before


def test_only_a_provider_admin_can_create_accounts(
    app_client: TestClient, container: Container
) -> None:
    _seed(container)
    make_admin(container, "admin@alpha.example", Role.ACCOUNT_ADMIN, "alpha")
    sign_in(app_client, "admin@alpha.example")
    page = app_client.get("/accounts")
    assert "New account" not in page.text
    response = app_client.post(
        "/accounts", data={"csrf_token": csrf(app_client), "slug": "mine", "name": "Mine"}
    )
    assert response.status_code == 403
    assert "provider_admin" in response.text
