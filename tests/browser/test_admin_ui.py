"""The admin UI in a real browser: sign in, create users, directory-managed fields, errors."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect

from switchboard.bootstrap import Container
from switchboard.portal import users
from switchboard.portal.actors import Actor, Role
from switchboard.portal.schemas import UserIn
from tests import factories
from tests.ui_support import PASSWORD, make_admin

pytestmark = pytest.mark.browser

ADMIN = "admin@acme.example"


def _seed(container: Container) -> factories.Tenant:
    with container.unit_of_work() as session:
        tenant = factories.tenant(session)
    make_admin(container, ADMIN, Role.ACCOUNT_ADMIN, "acme")
    return tenant


def _sign_in(page: Page, base: str, goto: str = "/") -> None:
    page.goto(base + goto)
    expect(page).to_have_url(re.compile(r"/login"))
    page.get_by_label("Email").fill(ADMIN)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()


def test_sign_in_and_create_a_user(page: Page, live_server: str, container: Container) -> None:
    _seed(container)
    _sign_in(page, live_server)
    expect(page).to_have_url(f"{live_server}/accounts/acme")
    expect(page.get_by_role("heading", level=1)).to_contain_text("acme Inc")

    page.get_by_role("link", name="Users", exact=True).click()
    expect(page.get_by_text("No users yet.")).to_be_visible()
    page.get_by_role("link", name="New user").click()
    page.get_by_label("First name").fill("Ada")
    page.get_by_label("Last name").fill("Lovelace")
    page.get_by_label("Email").fill("ada@acme.example")
    page.get_by_label("Location").select_option(label="HQ")
    page.get_by_label("+13125550101").check()
    page.get_by_label("License").select_option("Business Voice")
    page.get_by_role("button", name="Create user").click()

    expect(page.get_by_role("status")).to_have_text("User created.")
    row = page.locator("#users tbody tr", has_text="Ada Lovelace")
    expect(row).to_contain_text("ada@acme.example")
    expect(row).to_contain_text("1000")  # first free extension of the dial plan
    expect(row).to_contain_text("+13125550101")
    expect(row).to_contain_text("Business Voice")

    page.get_by_role("searchbox").fill("lovelace")
    page.get_by_role("button", name="Search").click()
    expect(page.locator("#users tbody tr")).to_have_count(1)


def test_directory_managed_fields_are_read_only(
    page: Page, live_server: str, container: Container
) -> None:
    tenant = _seed(container)
    sync = Actor(label="directory:test", role=Role.PROVIDER_ADMIN, directory=True)
    with container.unit_of_work() as session:
        grace = users.create_user(
            session,
            sync,
            tenant.account,
            UserIn(
                first_name="Grace",
                last_name="Hopper",
                email="grace@acme.example",
                username="grace@acme.example",
                location_id=tenant.hq.id,
            ),
            directory_id="4f1c2a9e-0000-4000-8000-000000000001",
        )
    _sign_in(page, live_server, f"/accounts/acme/users/{grace.id}")
    expect(page).to_have_url(f"{live_server}/accounts/acme/users/{grace.id}")

    expect(page.get_by_text("Managed in Entra ID")).to_be_visible()
    for label in ("First name", "Last name", "Email", "Username", "Location"):
        expect(page.get_by_label(label)).to_be_disabled()
    expect(page.get_by_label("First name")).to_have_value("Grace")

    extension = page.get_by_label("Extension")
    expect(extension).to_be_editable()
    extension.fill("2042")
    page.get_by_label("+13125550102").check()
    page.get_by_role("button", name="Save changes").click()

    expect(page.get_by_role("status")).to_have_text("User saved.")
    expect(page.get_by_label("Extension")).to_have_value("2042")
    expect(page.get_by_label("+13125550102")).to_be_checked()
    expect(page.get_by_label("First name")).to_have_value("Grace")
    # Numbers of another location are not offered to a directory user.
    expect(page.get_by_label("+13125560100")).to_have_count(0)


def test_a_bad_email_names_the_field_and_keeps_what_was_typed(
    page: Page, live_server: str, container: Container
) -> None:
    tenant = _seed(container)
    _sign_in(page, live_server, "/accounts/acme/users/new")
    page.get_by_label("First name").fill("Ada")
    page.get_by_label("Last name").fill("Lovelace")
    page.get_by_label("Email").fill("ada@")
    page.get_by_label("Location").select_option(label="HQ")
    page.get_by_label("Extension").fill("1234")
    page.get_by_label("+13125550103").check()
    page.get_by_label("License").select_option("Business Voice")
    page.get_by_role("button", name="Create user").click()

    expect(page.get_by_role("alert")).to_contain_text("Email is not a valid email address")
    email = page.get_by_label("Email")
    expect(email).to_have_attribute("aria-invalid", "true")
    expect(page.locator("#err-email")).to_contain_text("Email is not a valid")
    expect(email).to_have_value("ada@")
    expect(page.get_by_label("First name")).to_have_value("Ada")
    expect(page.get_by_label("Last name")).to_have_value("Lovelace")
    expect(page.get_by_label("Extension")).to_have_value("1234")
    expect(page.get_by_label("+13125550103")).to_be_checked()
    expect(page.get_by_label("License")).to_have_value("Business Voice")
    expect(page.get_by_label("Location")).to_have_value(str(tenant.hq.id))

    email.fill("ada@acme.example")
    page.get_by_role("button", name="Create user").click()
    expect(page.get_by_role("status")).to_have_text("User created.")
    expect(page.locator("#users tbody tr", has_text="Ada Lovelace")).to_contain_text("1234")
