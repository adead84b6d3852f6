"""Setting up SCIM on the Directory tab in a real browser: choose "Entra provisioning (SCIM)",
create a token and read the URL and the token, change the settings, revoke, disconnect; and
the Graph wizard refused while SCIM is the source."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect

from switchboard.bootstrap import Container
from switchboard.portal.accounts import get_account
from switchboard.portal.actors import Role
from switchboard.scim import source as scim_source
from switchboard.scim import tokens as scim_tokens
from switchboard.scim.errors import ScimError
from tests import factories
from tests.ui_support import PASSWORD, make_admin

pytestmark = pytest.mark.browser

ADMIN = "admin@acme.example"


def sign_in(page: Page, live_server: str, container: Container) -> None:
    with container.unit_of_work() as session:
        factories.tenant(session)
    make_admin(container, ADMIN, Role.ACCOUNT_ADMIN, "acme")
    page.goto(live_server + "/login")
    page.get_by_label("Email").fill(ADMIN)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page).to_have_url(f"{live_server}/accounts/acme")


def opens(container: Container, token: str) -> bool:
    try:
        with container.unit_of_work() as s:
            scim_tokens.authenticate(s, "acme", f"Bearer {token}")
    except ScimError:
        return False
    return True


def test_entra_provisioning_from_choice_to_disconnect(
    page: Page, live_server: str, container: Container
) -> None:
    sign_in(page, live_server, container)
    page.get_by_role("link", name="Directory", exact=True).click()
    expect(page.get_by_role("link", name="Microsoft Graph (Entra ID)")).to_be_visible()
    expect(page.get_by_role("button", name="Okta (SCIM)")).to_be_visible()
    page.get_by_role("button", name="Entra provisioning (SCIM)").click()

    expect(page.get_by_role("heading", name="Entra provisioning (SCIM)")).to_be_visible()
    url = f"{live_server}/scim/v2/acme"
    expect(page.locator("#f-scim-url")).to_have_value(url)
    steps = page.locator("#entra-scim-steps")
    expect(steps).to_contain_text("Enterprise applications > New application")
    expect(steps).to_contain_text("Test Connection")
    expect(page.get_by_role("link", name="SCIM request log")).to_have_attribute(
        "href", "/accounts/acme/directory/scim/log"
    )

    page.get_by_role("button", name="Create secret token").click()
    expect(page.get_by_role("heading", name="Secret token created")).to_be_visible()
    expect(page.get_by_text("this is the only time the token is shown")).to_be_visible()
    expect(page.get_by_label("Tenant URL").first).to_have_value(url)
    token = page.get_by_role("textbox", name="Secret Token").input_value()
    assert re.fullmatch(r"sbscim_[0-9a-f]{12}_[\w-]+", token)
    assert opens(container, token)

    page.goto(live_server + "/accounts/acme/directory")
    expect(page.locator("body")).not_to_contain_text(token)
    settings = page.locator("#scim-settings")
    settings.get_by_label("What a deactivation means").select_option("delete")
    settings.get_by_label("Location comes from").select_option("locality")
    settings.get_by_label("Location rules").fill("Chicago = Branch")
    settings.get_by_label("Rate limit (requests per second)").fill("5")
    settings.get_by_role("button", name="Save SCIM settings").click()
    expect(page.locator("#err-rate_limit")).to_contain_text("from 25 to 10000")
    expect(page.locator("#scim-settings").get_by_label("Location rules")).to_have_value(
        "Chicago = Branch"
    )
    page.locator("#scim-settings").get_by_label("Rate limit (requests per second)").fill("40")
    page.locator("#scim-settings").get_by_role("button", name="Save SCIM settings").click()
    expect(page.get_by_text("SCIM settings saved.")).to_be_visible()
    with container.unit_of_work() as s:
        found = scim_source.get_source(s, get_account(s, factories.OPERATOR, "acme"))
        assert found is not None
        assert (found.deprovision, found.location_attribute, found.rate_limit) == (
            "delete",
            "locality",
            40,
        )
        assert found.location_rules == {"chicago": "Branch"}

    tokens_card = page.locator("#scim-tokens")
    expect(tokens_card).to_contain_text("active")
    tokens_card.get_by_role("button", name=re.compile("Revoke token")).click()
    expect(page.get_by_text("Token revoked")).to_be_visible()
    expect(page.locator("#scim-tokens")).to_contain_text("revoked")
    assert not opens(container, token)

    page.get_by_role("link", name="Disconnect SCIM…").click()
    expect(page.get_by_text("Every SCIM token stops working at once")).to_be_visible()
    page.get_by_role("button", name="Disconnect SCIM").click()
    expect(page.get_by_text("SCIM disconnected")).to_be_visible()
    expect(page.get_by_role("button", name="Entra provisioning (SCIM)")).to_be_visible()


def test_the_graph_wizard_is_refused_while_scim_is_the_source(
    page: Page, live_server: str, container: Container
) -> None:
    sign_in(page, live_server, container)
    page.goto(live_server + "/accounts/acme/directory")
    page.get_by_role("button", name="Global").click()
    expect(
        page.get_by_role("heading", name=re.compile("Enter the app registration's ids"))
    ).to_be_visible()
    # Meanwhile another admin chose Okta (SCIM) for the account.
    with container.unit_of_work() as s:
        scim_source.connect(
            s, factories.OPERATOR, get_account(s, factories.OPERATOR, "acme"), "okta"
        )
    page.get_by_label("Directory (tenant) ID").fill("6f1b2c3d-4e5f-4061-8293-a4b5c6d7e8f9")
    page.get_by_label("Application (client) ID").fill("11111111-2222-4333-8444-555555555555")
    page.get_by_role("button", name="Next").click()
    refusal = page.locator("#source-refused")
    expect(refusal).to_contain_text("takes its users over SCIM")
    expect(refusal).to_contain_text("disconnect SCIM on the Directory tab first")
    expect(page.get_by_role("heading", name="Okta (SCIM)")).to_be_visible()
    expect(page.get_by_role("link", name="Disconnect SCIM…")).to_be_visible()
