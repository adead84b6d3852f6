"""The Mapping page in a real browser: open it from the Directory tab, preview, add a rule for a
value that maps to nothing, and see the preview count the users in that location."""

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
    directory = FakeDirectory()
    directory.groups = {SALES: set()}
    for uid, office in (("ada", "HQ"), ("alan", "Remote"), ("grace", "remote"), ("edsger", "")):
        directory.add_user(uid, givenName=uid.capitalize(), officeLocation=office)
        directory.add_member(SALES, uid)
    return {"directory_for": FakeDirectories(directory), "jobs": InlineJobRunner()}


def _connected(container: Container) -> None:
    with container.unit_of_work() as session:
        tenant = factories.tenant(session)
        fake_tenant.connect(session, tenant.account, SyncPolicy(groups=[SALES]))
    make_admin(container, ADMIN, Role.ACCOUNT_ADMIN, "acme")


def test_preview_then_add_a_rule_from_an_unmapped_value(
    page: Page, live_server: str, container: Container
) -> None:
    _connected(container)
    page.goto(live_server + "/login")
    page.get_by_label("Email").fill(ADMIN)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.goto(live_server + "/accounts/acme/directory")
    page.get_by_role("link", name="Mapping and preview").click()
    expect(page.get_by_role("heading", level=2, name="Mapping")).to_be_visible()
    expect(page.get_by_label("Location from")).to_have_value("officeLocation")

    page.get_by_role("button", name="Preview").click()
    expect(page.locator("#preview-summary")).to_contain_text("4 users in scope")
    branch = page.locator('#preview-locations td[data-location="Branch"]')
    expect(branch).to_have_text("0")
    unmapped = page.locator("#preview-unmapped tbody tr")
    expect(unmapped).to_have_count(2)  # "Remote" (2 users) and the empty value
    remote = unmapped.filter(has_text="Remote")
    expect(remote).to_contain_text("2")
    remote.get_by_label("Location for Remote").select_option("Branch")
    remote.get_by_role("button", name="Add rule for Remote").click()

    expect(page).to_have_url(re.compile(r"/directory/mapping\?preview=1&done=mapping-rule-added"))
    expect(page.get_by_role("status").first).to_contain_text("Rule added")
    expect(page.locator('#preview-locations td[data-location="Branch"]')).to_have_text("2")
    expect(page.locator("#preview-unmapped tbody tr")).to_have_count(1)
    # The rule is saved: the form shows it in its first row.
    expect(page.get_by_label("Directory value, rule 1")).to_have_value("remote")
    expect(page.get_by_label("Portal location, rule 1")).to_have_value("Branch")
