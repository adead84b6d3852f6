"""The admins page in a real browser: add a viewer, issue an API token (shown once) and find
both in the audit log."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect

from switchboard.bootstrap import Container
from switchboard.portal.actors import Role
from tests import factories
from tests.ui_support import PASSWORD, make_admin

pytestmark = pytest.mark.browser

ADMIN = "admin@acme.example"


def test_add_a_viewer_issue_a_token_and_read_the_audit_log(
    page: Page, live_server: str, container: Container
) -> None:
    with container.unit_of_work() as session:
        factories.tenant(session)
    make_admin(container, ADMIN, Role.ACCOUNT_ADMIN, "acme")

    page.goto(live_server + "/")
    page.get_by_label("Email").fill(ADMIN)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page).to_have_url(f"{live_server}/accounts/acme")

    page.get_by_role("link", name="Admins", exact=True).click()
    page.get_by_label("Email").fill("viewer@acme.example")
    page.get_by_label("Role").select_option("account_viewer")
    page.get_by_label("Initial password").fill(PASSWORD)
    page.get_by_role("button", name="Add admin").click()
    expect(page.get_by_role("status")).to_have_text("Admin added.")
    row = page.locator("#admins tbody tr", has_text="viewer@acme.example")
    expect(row).to_contain_text("account viewer")
    expect(row).to_contain_text("active")

    page.get_by_label("Token name").fill("provisioning")
    page.get_by_label("Expires after").select_option("30")
    page.get_by_role("button", name="Issue token").click()
    expect(page.get_by_role("heading", name=re.compile("provisioning"))).to_be_visible()
    expect(page.get_by_role("alert")).to_contain_text("only time the token is shown")
    token_box = page.get_by_label("Your API token")
    expect(token_box).to_have_value(re.compile(r"^sbt_[0-9a-f]{12}_\S+$"))
    secret = token_box.input_value()

    page.get_by_role("link", name="Done").click()
    expect(page).to_have_url(f"{live_server}/accounts/acme/admins")
    expect(page.locator("#tokens tbody tr", has_text="provisioning")).to_contain_text("active")
    assert secret not in page.content()  # shown once, never again

    page.get_by_role("link", name="Audit log", exact=True).click()
    log = page.locator("#audit tbody")
    expect(log.locator("tr").first).to_contain_text("token.issued")
    expect(log.locator("tr").first).to_contain_text(ADMIN)
    expect(log).to_contain_text("principal.created")
    page.get_by_label("Action starts with").fill("principal.")
    page.get_by_role("button", name="Filter").click()
    expect(log.locator("tr")).to_have_count(2)  # the viewer added, and the admin's own creation
    expect(log.locator("tr").first).to_contain_text("email, role")
