"""The manual-provisioning picker in a real browser: search by office, select all, add."""

from __future__ import annotations

from collections.abc import Callable

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
PEOPLE = (
    ("ada", "Ada Lovelace", "HQ"),
    ("alan", "Alan Turing", "Branch"),
    ("grace", "Grace Hopper", "Branch"),
    ("edsger", "Edsger Dijkstra", "HQ"),
)


@pytest.fixture
def directory() -> FakeDirectory:
    directory = FakeDirectory()
    directory.groups = {SALES: set()}
    for uid, name, office in PEOPLE:
        first, last = name.split()
        directory.add_user(
            uid, givenName=first, surname=last, displayName=name, officeLocation=office
        )
        directory.add_member(SALES, uid)
    return directory


@pytest.fixture
def adapters(directory: FakeDirectory) -> Adapters:
    return {"directory_for": FakeDirectories(directory), "jobs": InlineJobRunner()}


def test_search_select_all_and_add(
    page: Page, live_server: str, container: Container, a11y: Callable[[], None]
) -> None:
    with container.unit_of_work() as session:
        tenant = factories.tenant(session)
        fake_tenant.connect(
            session, tenant.account, SyncPolicy(groups=[SALES], provisioning="manual")
        )
    make_admin(container, ADMIN, Role.ACCOUNT_ADMIN, "acme")
    SyncEngine(container, container.directory_factory()).reconcile(factories.OPERATOR, "acme")

    page.goto(live_server + "/accounts/acme/users/from-directory")
    page.get_by_label("Email").fill(ADMIN)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    rows = page.locator("#offers tbody tr")
    expect(rows).to_have_count(4)
    grace = rows.filter(has_text="Grace Hopper")
    expect(grace).to_contain_text("grace@contoso.example")
    expect(grace).to_contain_text("Branch")

    page.get_by_label("Search by name, email or office").fill("branch")
    page.get_by_role("button", name="Search").click()
    expect(rows).to_have_count(2)
    expect(page.locator("#offer-count")).to_contain_text("2 of 4 offered users match")
    select_all = page.get_by_label("Select all users shown")
    expect(select_all).to_be_visible()  # the script shows it
    select_all.check()
    expect(page.get_by_label("Select Alan Turing")).to_be_checked()
    expect(page.get_by_label("Select Grace Hopper")).to_be_checked()
    page.get_by_label("Select Grace Hopper").uncheck()
    expect(select_all).not_to_be_checked()
    a11y()
    select_all.check()
    page.get_by_role("button", name="Add selected").click()
    added = page.locator("#added")
    expect(added).to_contain_text("alan@contoso.example")
    expect(added).to_contain_text("grace@contoso.example")
    expect(rows).to_have_count(2)  # Ada and Edsger are still offered
    expect(rows.filter(has_text="Alan Turing")).to_have_count(0)
