"""Every page of the admin UI, in the states people meet it in, checked by axe-core.

The pages are the GET routes of `web/ui/*.py` and `web/ui/directory/*.py`: an operator visits
all of them (empty account, users, a form with errors, the Directory tab before connecting, after
a sync with an error, with pending write-backs); an account admin visits what their role shows.
Each page is checked by the automatic axe fixture when it loads and again here, explicitly, so a
page left quickly is checked all the same. The Entra side is the fake directory: its users land
in the account through the real sync engine.
"""

from __future__ import annotations

import re
from collections.abc import Callable

import pytest
from playwright.sync_api import Page, expect
from sqlalchemy import select

from switchboard.bootstrap import Container
from switchboard.db.models import User
from switchboard.jobs.runner import InlineJobRunner
from switchboard.portal import accounts, users
from switchboard.portal.actors import Role
from switchboard.portal.schemas import UserIn, UserPatch
from switchboard.sync.policy import SyncPolicy
from tests import factories
from tests.browser import fake_tenant
from tests.fakes import FakeDirectories, FakeDirectory
from tests.ui_support import PASSWORD, make_admin
from tests.wiring import Adapters

pytestmark = pytest.mark.browser

OPERATOR = "ops@provider.example"
ADMIN = "admin@acme.example"
SALES = "0b9f6a4c-1d2e-4f60-8a7b-9c0d1e2f3a4b"
BASE = "/accounts/acme"
Check = Callable[[], None]


@pytest.fixture
def adapters() -> Adapters:
    """Runs read this fake tenant and finish before the page that started them answers."""
    directory = FakeDirectory()
    directory.groups = {SALES: set()}
    for uid, first, last, office in (
        ("ada", "Ada", "Lovelace", "HQ"),
        ("alan", "Alan", "Turing", "Branch"),
        ("moon", "Neil", "Armstrong", "Moon Base"),
    ):
        directory.add_user(uid, givenName=first, surname=last, officeLocation=office)
        directory.add_member(SALES, uid)
    return {"directory_for": FakeDirectories(directory), "jobs": InlineJobRunner()}


def _world(container: Container) -> int:
    """The account, its two admins; the id of its HQ location."""
    with container.unit_of_work() as session:
        hq = factories.tenant(session).hq.id
    make_admin(container, OPERATOR, Role.PROVIDER_ADMIN)
    make_admin(container, ADMIN, Role.ACCOUNT_ADMIN, "acme")
    return hq


def _connect(container: Container) -> None:
    with container.unit_of_work() as session:
        account = accounts.get_account(session, factories.OPERATOR, "acme")
        fake_tenant.connect(
            session,
            account,
            SyncPolicy.model_validate(
                {
                    "groups": [SALES],
                    "direction": "two_way",
                    "write_back": {"extension_to": "extensionAttribute1"},
                }
            ),
        )


def _local_user(container: Container, location_id: int) -> int:
    with container.unit_of_work() as session:
        account = accounts.get_account(session, factories.OPERATOR, "acme")
        made = users.create_user(
            session,
            factories.OPERATOR,
            account,
            UserIn(
                first_name="Grace",
                last_name="Hopper",
                email="grace@acme.example",
                location_id=location_id,
            ),
        )
        return made.id


def _change_synced_extensions(container: Container) -> None:
    """Portal-side changes of synced users: each queues a write-back to the directory."""
    with container.unit_of_work() as session:
        account = accounts.get_account(session, factories.OPERATOR, "acme")
        synced = session.scalars(
            select(User).where(User.account_id == account.id, User.source == "directory")
        ).all()
        for user in synced:
            users.update_user(
                session,
                factories.OPERATOR,
                account,
                user.id,
                UserPatch(extension=f"4{user.id:03d}"),
            )


def _sign_in(page: Page, base: str, email: str, check: Check) -> None:
    page.goto(base + "/login")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill("not the password")
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("alert")).to_be_visible()
    check()  # the login page with its error
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("button", name="Sign out")).to_be_visible()


def _issue_token(page: Page, base: str, path: str, check: Check) -> None:
    """A token issued (the page that shows it once), then listed with its Revoke button."""
    _visit(page, base, path, check)
    page.get_by_label("Token name").fill("provisioning script")
    page.get_by_role("button", name="Issue token").click()
    expect(page.get_by_text("provisioning script").first).to_be_visible()
    check()
    _visit(page, base, path, check)


def _visit(page: Page, base: str, path: str, check: Check, status: int = 200) -> None:
    response = page.goto(base + path)
    assert response is not None and response.status == status, f"{path}: {response}"
    check()


def test_every_page_as_the_operator(
    page: Page, live_server: str, container: Container, a11y: Check
) -> None:
    hq = _world(container)
    _sign_in(page, live_server, OPERATOR, a11y)
    for path in ("/accounts", "/fleet", "/operators", "/me", BASE, f"{BASE}/users"):
        _visit(page, live_server, path, a11y)
    expect(page.get_by_text("No users yet.")).to_be_visible()

    # A new user sent with nothing filled in: the form with its errors.
    _visit(page, live_server, f"{BASE}/users/new", a11y)
    page.get_by_role("button", name="Create user").click()
    expect(page.locator(".field-error, .alert").first).to_be_visible()
    a11y()

    grace = _local_user(container, hq)
    for path in (
        f"{BASE}/users",
        f"{BASE}/users?q=nobody",
        f"{BASE}/users/{grace}",
        f"{BASE}/users/{grace}/delete",
        f"{BASE}/locations",
        f"{BASE}/locations/{hq}",
        f"{BASE}/numbers",
        f"{BASE}/numbers?status=available",
        f"{BASE}/licenses",
        f"{BASE}/admins",
        f"{BASE}/audit",
        f"{BASE}/settings",
        f"{BASE}/terminate",
        f"{BASE}/directory",
    ):
        _visit(page, live_server, path, a11y)
    # Forms sent empty or wrong: each page with its errors in place.
    for path, typed, button in (
        ("/accounts", {"Name": "Globex", "Slug": "Not a slug!"}, "Create account"),
        (
            f"{BASE}/locations",
            {
                "Name": "Moon",
                "Street": "1 Crater Rd",
                "City": "Tranquility",
                "State / region": "Sea",
                "Postal code": "00000",
                "Country": "ZZ",
                "Time zone": "Moon/Base",
            },
            "Create location",
        ),
        (f"{BASE}/admins", {"Email": "not an email", "Initial password": "short"}, "Add admin"),
        ("/operators", {"Email": "not an email", "Initial password": "short"}, "Add operator"),
        (
            "/me",
            {"Current password": "wrong", "New password": "short", "New password again": "x"},
            "Change password",
        ),
    ):
        _visit(page, live_server, path, a11y)
        for label, value in typed.items():
            page.get_by_label(re.compile(rf"^{re.escape(label)}( \*)?$")).fill(value)
        page.get_by_role("button", name=button).click()
        expect(page.locator(".field-error, .alert").first).to_be_visible()
        a11y()
    _issue_token(page, live_server, "/operators", a11y)
    _visit(page, live_server, "/no-such-page", a11y, status=404)
    _visit(page, live_server, f"{BASE}/users/999999", a11y, status=404)

    # Connected, then synced from the page: the run has created users and one error.
    _connect(container)
    _visit(page, live_server, f"{BASE}/directory", a11y)
    page.get_by_role("button", name="Reconcile now").click()
    expect(page).to_have_url(re.compile(r"/directory/runs/\d+$"))
    a11y()
    run = page.url.removeprefix(live_server)
    _change_synced_extensions(container)
    for path in (
        f"{run}?state=failed",
        f"{BASE}/directory",
        f"{BASE}/directory/runs",
        f"{BASE}/directory/writebacks",
        f"{BASE}/directory/disconnect",
        f"{BASE}/users",
        f"{BASE}/audit",
        BASE,
        "/fleet",
    ):
        _visit(page, live_server, path, a11y)


def test_every_page_as_the_account_admin(
    page: Page, live_server: str, container: Container, a11y: Check
) -> None:
    hq = _world(container)
    _connect(container)
    grace = _local_user(container, hq)
    _sign_in(page, live_server, ADMIN, a11y)
    expect(page).to_have_url(live_server + BASE)
    a11y()
    page.get_by_role("link", name="Directory", exact=True).click()
    page.get_by_role("button", name="Reconcile now").click()
    expect(page).to_have_url(re.compile(r"/directory/runs/\d+$"))
    a11y()
    for path in (
        f"{BASE}/users",
        f"{BASE}/users/new",
        f"{BASE}/users/{grace}",
        f"{BASE}/locations",
        f"{BASE}/numbers",
        f"{BASE}/licenses",
        f"{BASE}/admins",
        f"{BASE}/audit",
        f"{BASE}/settings",
        f"{BASE}/directory",
        f"{BASE}/directory/runs",
        f"{BASE}/directory/writebacks",
        "/me",
    ):
        _visit(page, live_server, path, a11y)
    _issue_token(page, live_server, f"{BASE}/admins", a11y)
    # Another account's pages are not found for this admin: the error page.
    _visit(page, live_server, "/accounts/other", a11y, status=404)
