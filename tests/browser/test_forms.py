"""Forms in a real browser: every problem at once with focus on the first; the first sign-in of
an admin given an initial password."""

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


def _seed(container: Container) -> None:
    with container.unit_of_work() as session:
        factories.tenant(session)
    make_admin(container, ADMIN, Role.ACCOUNT_ADMIN, "acme")


def _sign_in(page: Page, base: str, email: str, password: str, goto: str = "/") -> None:
    page.goto(base + goto)
    expect(page).to_have_url(re.compile(r"/login"))
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in").click()


def test_two_errors_are_shown_at_once_with_focus_on_the_first(
    page: Page, live_server: str, container: Container
) -> None:
    _seed(container)
    _sign_in(page, live_server, ADMIN, PASSWORD, "/accounts/acme/users/new")
    page.get_by_label("Last name").fill("Lovelace")
    page.get_by_label("Email").fill("ada@")
    page.get_by_role("button", name="Create user").click()

    summary = page.locator("#form-error")
    expect(summary).to_contain_text("2 problems need fixing")
    expect(page.locator("#err-first_name")).to_have_text("First name is required")
    expect(page.locator("#err-email")).to_contain_text("Email is not a valid email address")
    expect(page.get_by_label("First name")).to_be_focused()
    expect(page.get_by_label("Email")).to_have_attribute("aria-invalid", "true")
    # The summary's links lead to each input.
    summary.get_by_role("link", name=re.compile("Email is not valid|Email is not a valid")).click()
    expect(page).to_have_url(re.compile(r"#f-email$"))


def test_a_new_admin_chooses_their_own_password_at_first_sign_in(
    page: Page, live_server: str, container: Container
) -> None:
    _seed(container)
    _sign_in(page, live_server, ADMIN, PASSWORD, "/accounts/acme/admins")
    page.get_by_label("Email").fill("grace@acme.example")
    page.get_by_label("Role").select_option("account_admin")
    page.get_by_label("Initial password").fill("given to grace 1234")
    page.get_by_role("button", name=re.compile("Add admin")).click()
    expect(page.get_by_role("status")).to_be_visible()
    page.context.clear_cookies()

    _sign_in(page, live_server, "grace@acme.example", "given to grace 1234", "/accounts/acme")
    expect(page).to_have_url(re.compile(r"/me\?first=1$"))
    expect(page.get_by_text("Choose your own password.")).to_be_visible()
    page.get_by_label("Password you were given").fill("given to grace 1234")
    page.locator("#f-new_password").fill("grace's own password")
    page.get_by_label("New password again").fill("grace's own password")
    page.get_by_role("button", name="Change password").click()
    expect(page.get_by_text("Choose your own password.")).to_have_count(0)
    page.goto(live_server + "/accounts/acme/users")
    expect(page).to_have_url(f"{live_server}/accounts/acme/users")
