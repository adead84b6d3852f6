"""Manual provisioning in a real browser: Users > Add users > From directory > Add, then Add
selected with one user who has left the synced groups."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect

from switchboard.bootstrap import Container
from switchboard.jobs.runner import InlineJobRunner
from switchboard.portal.actors import Role
from switchboard.sync.engine import SyncEngine
from switchboard.sync.policy import SyncPolicy
from tests import factories
from tests.browser import fake_tenant
from tests.fakes import FakeDirectories, FakeDirectory
from tests.ui_support import PASSWORD, make_admin
from tests.wiring import Adapters

pytestmark = pytest.mark.browser

ADMIN = "admin@acme.example"
SALES = "0b9f6a4c-1d2e-4f60-8a7b-9c0d1e2f3a4b"


@pytest.fixture
def directory() -> FakeDirectory:
    directory = FakeDirectory()
    directory.groups = {SALES: set()}
    for uid, first, last in (("ada", "Ada", "Lovelace"), ("alan", "Alan", "Turing")):
        directory.add_user(uid, givenName=first, surname=last)
        directory.add_member(SALES, uid)
    directory.add_user("bob", givenName="Bob", surname="Kahn")
    directory.add_member(SALES, "bob")
    return directory


@pytest.fixture
def adapters(directory: FakeDirectory) -> Adapters:
    """The live server serves the container built with these: runs read the fake directory
    and finish before the redirect answers."""
    return {"directory_for": FakeDirectories(directory), "jobs": InlineJobRunner()}


def _offered(container: Container) -> None:
    """An account on manual provisioning whose reconcile offered ada, alan and bob."""
    with container.unit_of_work() as session:
        tenant = factories.tenant(session)
        fake_tenant.connect(
            session, tenant.account, SyncPolicy(groups=[SALES], provisioning="manual")
        )
    make_admin(container, ADMIN, Role.ACCOUNT_ADMIN, "acme")
    SyncEngine(container, container.directory_factory()).reconcile(factories.OPERATOR, "acme")


def test_add_users_from_directory(
    page: Page, live_server: str, container: Container, directory: FakeDirectory
) -> None:
    _offered(container)
    page.goto(live_server + "/accounts/acme/users")
    expect(page).to_have_url(re.compile(r"/login"))
    page.get_by_label("Email").fill(ADMIN)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page).to_have_url(f"{live_server}/accounts/acme/users")
    expect(page.get_by_text("No users yet.")).to_be_visible()

    page.get_by_text("Add users", exact=True).click()
    expect(page.get_by_role("link", name="New user")).to_be_visible()
    page.get_by_role("link", name="From directory").click()
    expect(page).to_have_url(f"{live_server}/accounts/acme/users/from-directory")
    rows = page.locator("#offers tbody tr")
    expect(rows).to_have_count(3)
    expect(page.get_by_text("Provisioning is manual")).to_be_visible()

    page.get_by_role("button", name="Add Ada Lovelace", exact=True).click()
    expect(page).to_have_url(re.compile(r"/accounts/acme/directory/runs/\d+$"))
    expect(page.get_by_role("heading", level=2, name=re.compile("one user"))).to_be_visible()
    created = page.locator("#items tbody tr", has_text="ada@contoso.example")
    expect(created).to_contain_text("create")
    expect(created).to_contain_text("applied")

    # Bob leaves the synced group in Entra ID; adding him with Alan says why he was not added.
    directory.remove_member(SALES, "bob")
    page.goto(live_server + "/accounts/acme/users/from-directory")
    expect(rows).to_have_count(2)
    page.get_by_label("Select Alan Turing").check()
    page.get_by_label("Select Bob Kahn").check()
    page.get_by_role("button", name="Add selected").click()
    expect(page.locator("#added")).to_contain_text("alan@contoso.example")
    refused = page.locator("#not-added")
    expect(refused).to_contain_text("bob@contoso.example")
    expect(refused).to_contain_text("has left the synced groups")

    page.get_by_role("navigation", name="Account sections").get_by_role(
        "link", name="Users"
    ).click()
    for name in ("Ada Lovelace", "Alan Turing"):
        expect(page.locator("#users tbody tr", has_text=name)).to_contain_text("Entra ID")
    expect(page.locator("#users tbody tr", has_text="Bob Kahn")).to_have_count(0)
