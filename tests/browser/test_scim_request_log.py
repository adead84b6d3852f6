"""The SCIM request log in a real browser: a viewer filters it by outcome and text, and
downloads the filtered log as CSV."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from switchboard.bootstrap import Container
from switchboard.clock import FixedClock
from switchboard.portal.actors import Role
from switchboard.scim import request_log
from tests import factories
from tests.ui_support import PASSWORD, make_admin

pytestmark = pytest.mark.browser

VIEWER = "viewer@acme.example"
REQUESTS = [
    ("POST", "/scim/v2/acme/Users", 201, "alice@contoso.com", "created", None),
    ("PATCH", "/scim/v2/acme/Users/a1", 200, "alice@contoso.com", "updated: email", None),
    ("POST", "/scim/v2/acme/Users", 409, "bob@contoso.com", None, "userName is taken"),
    ("DELETE", "/scim/v2/acme/Groups/g1", 204, "Sales", "deleted", None),
]


def test_a_viewer_filters_the_scim_log_and_exports_it(
    page: Page, live_server: str, container: Container, clock: FixedClock, tmp_path: Path
) -> None:
    with container.unit_of_work() as session:
        account_id = factories.tenant(session).account.id
    for method, path, status, subject, change, error in REQUESTS:
        with container.unit_of_work() as session:
            request_log.record(
                session,
                account_id,
                method=method,
                path=path,
                status=status,
                subject=subject,
                change=change,
                error=error,
                duration_ms=9,
            )
        clock.advance(timedelta(minutes=1))
    make_admin(container, VIEWER, Role.ACCOUNT_VIEWER, "acme")

    page.goto(live_server + "/")
    page.get_by_label("Email").fill(VIEWER)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.goto(live_server + "/accounts/acme/directory/scim/log")
    expect(page.get_by_role("heading", name="SCIM request log")).to_be_visible()
    table = page.locator("#scim-requests tbody")
    expect(table.locator("tr")).to_have_count(4)
    expect(table.locator("tr").first).to_contain_text("DELETE")

    page.get_by_label("Outcome").select_option("failed")
    page.get_by_role("button", name="Filter").click()
    expect(table.locator("tr")).to_have_count(1)
    expect(table.locator("tr").first).to_contain_text("bob@contoso.com")
    expect(table.locator("tr").first).to_contain_text("userName is taken")

    page.get_by_role("link", name="Clear").click()
    page.get_by_label("User or path contains").fill("alice")
    page.get_by_role("button", name="Filter").click()
    expect(table.locator("tr")).to_have_count(2)
    with page.expect_download() as download:
        page.get_by_role("link", name="Export CSV").click()
    saved = tmp_path / "log.csv"
    download.value.save_as(saved)
    lines = saved.read_text().splitlines()
    assert lines[0] == ",".join(request_log.CSV_COLUMNS)
    assert len(lines) == 3 and all("alice@contoso.com" in line for line in lines[1:])

    page.get_by_label("From (UTC)").fill("2030-01-01")
    page.get_by_label("To (UTC)").fill("2029-01-01")
    page.get_by_role("button", name="Filter").click()
    expect(page.locator("#err-until")).to_be_visible()
