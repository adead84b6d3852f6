"""The Directory tab in a real browser: Reconcile now, then the run with its created users and a
per-user error; the created users carry the Entra ID badge."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect

from switchboard.bootstrap import Container
from switchboard.jobs.runner import InlineJobRunner
from switchboard.portal.actors import Role
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
def adapters() -> Adapters:
    """The live server serves the container built with these: its runs read the fake
    directory and finish before the redirect answers."""
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


def _connected(container: Container) -> None:
    with container.unit_of_work() as session:
        tenant = factories.tenant(session)
        fake_tenant.connect(session, tenant.account, SyncPolicy(groups=[SALES]))
    make_admin(container, ADMIN, Role.ACCOUNT_ADMIN, "acme")


def test_reconcile_now_shows_the_run_with_created_users_and_an_error(
    page: Page, live_server: str, container: Container
) -> None:
    _connected(container)
    page.goto(live_server + "/")
    expect(page).to_have_url(re.compile(r"/login"))
    page.get_by_label("Email").fill(ADMIN)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page).to_have_url(f"{live_server}/accounts/acme")

    page.get_by_role("link", name="Directory", exact=True).click()
    expect(page.get_by_role("heading", name="Entra ID connection")).to_be_visible()
    expect(page.get_by_text("not tested yet", exact=True)).to_be_visible()
    expect(page.get_by_text("No runs yet.")).to_be_visible()
    page.get_by_role("button", name="Reconcile now").click()

    expect(page).to_have_url(re.compile(r"/accounts/acme/directory/runs/\d+$"))
    expect(page.get_by_role("heading", level=2, name=re.compile("full reconcile"))).to_be_visible()
    expect(page.locator("#run-status")).to_have_text("partial")
    rows = page.locator("#items tbody tr")
    expect(rows).to_have_count(3)
    for upn in ("ada@contoso.example", "alan@contoso.example"):
        row = rows.filter(has_text=upn)
        expect(row).to_contain_text("create")
        expect(row).to_contain_text("applied")
        expect(row.get_by_role("link", name=upn)).to_be_visible()
    error = rows.filter(has_text="moon@contoso.example")
    expect(error).to_contain_text("error")
    expect(error).to_contain_text("Moon Base")

    page.get_by_role("link", name="Errors only").click()
    expect(page.locator("#items tbody tr")).to_have_count(1)
    expect(page.locator("#items tbody tr")).to_contain_text("Moon Base")

    page.get_by_role("link", name="Users", exact=True).click()
    for name in ("Ada Lovelace", "Alan Turing"):
        expect(page.locator("#users tbody tr", has_text=name)).to_contain_text("Entra ID")
