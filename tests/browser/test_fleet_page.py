"""The fleet page in a real browser: an operator finds the accounts needing attention, opens
one, and follows its Overview's banner to the run that waits for approval."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

from switchboard.bootstrap import Container
from switchboard.portal.actors import Role
from tests.integration import fleet_seed
from tests.ui_support import PASSWORD, make_admin

pytestmark = pytest.mark.browser

OPS = "ops@provider.example"


def test_from_the_fleet_to_the_held_run(page: Page, live_server: str, container: Container) -> None:
    fleet_seed.seed(container)
    make_admin(container, OPS, Role.PROVIDER_ADMIN)

    page.goto(live_server + "/")
    page.get_by_label("Email").fill(OPS)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Sync health").click()
    expect(page).to_have_url(f"{live_server}/fleet")
    rows = page.locator("#fleet tbody tr")
    expect(rows).to_have_count(len(fleet_seed.SLUGS))
    expect(rows.first).to_contain_text("the last connection test failed")

    page.get_by_role("link", name="Needs attention (5)").click()
    expect(page).to_have_url(f"{live_server}/fleet?attention=1")
    expect(rows).to_have_count(5)
    expect(page.locator("#fleet")).not_to_contain_text("healthy Inc")
    held = page.locator("#fleet tbody tr", has_text="held Inc")
    expect(held).to_contain_text("run #2 waits for approval")

    held.get_by_role("link", name="held Inc").click()
    expect(page).to_have_url(f"{live_server}/accounts/held")
    banner = page.locator("#held-banner")
    expect(banner).to_contain_text("A sync run waits for approval")
    expect(page.locator("#sync-health")).to_contain_text("needs attention")

    banner.get_by_role("link", name="run #2").click()
    expect(page).to_have_url(f"{live_server}/accounts/held/directory/runs/2")
    expect(page.get_by_role("heading", name="Run #2: full reconcile")).to_be_visible()
    expect(page.locator("#hold")).to_contain_text("Held for approval")
