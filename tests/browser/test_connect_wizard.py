"""The connect wizard in a real browser against the Entra ID emulator: choose custom hosts, enter
the ids, read the permissions and the Entra admin center steps, connect, download the
certificate (the emulator's app registration stands in for the upload), and test, with every
outcome in words. Once with the mouse, once with the keyboard only (Tab, Enter, Space)."""

from __future__ import annotations

import re
import uuid

import pytest
from playwright.sync_api import Page, expect

from switchboard.bootstrap import Container
from switchboard.connection import app_certificates
from switchboard.emulator.apps import parse_roles
from switchboard.emulator.server import RunningEmulator
from switchboard.jobs.runner import InlineJobRunner
from switchboard.portal.actors import Role
from tests import factories
from tests.ui_support import PASSWORD, make_admin
from tests.wiring import Adapters

pytestmark = pytest.mark.browser

ADMIN = "admin@acme.example"
READER = "User.Read.All,GroupMember.Read.All"


@pytest.fixture
def adapters() -> Adapters:
    """Real msal and Graph clients: the emulator is a custom cloud to them."""
    return {"jobs": InlineJobRunner()}


def sign_in(page: Page, live_server: str, container: Container) -> None:
    with container.unit_of_work() as session:
        factories.tenant(session)
    make_admin(container, ADMIN, Role.ACCOUNT_ADMIN, "acme")
    page.goto(live_server + "/login")
    page.get_by_label("Email").fill(ADMIN)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page).to_have_url(f"{live_server}/accounts/acme")


def register(emu: RunningEmulator, client_id: str, pem: str, roles: str) -> None:
    """What the customer's admin does in the Entra admin center: upload, grant, consent."""
    emu.call(
        lambda: emu.emulator.apps.register(client_id, certificate_pem=pem, roles=parse_roles(roles))
    )


def test_wizard_from_cloud_to_a_working_connection(
    page: Page, live_server: str, container: Container, emu: RunningEmulator
) -> None:
    sign_in(page, live_server, container)
    client_id = str(uuid.uuid4())
    page.get_by_role("link", name="Directory", exact=True).click()
    expect(page.get_by_role("heading", name="Connect Entra ID")).to_be_visible()
    expect(page.get_by_role("heading", name="Step 1 of 5: Choose the cloud")).to_be_visible()
    expect(page.get_by_text("Microsoft 365 GCC High and DoD tenants")).to_be_visible()
    page.get_by_role("button", name="Custom hosts").click()

    expect(page.get_by_role("heading", name="Step 2 of 6: Custom hosts")).to_be_visible()
    page.get_by_label("Sign-in authority URL").fill("login.example")
    page.get_by_label("Graph URL").fill(emu.url)
    page.get_by_role("button", name="Next").click()
    error = page.locator("#err-authority_url")
    expect(error).to_contain_text("Sign-in authority URL must start with https://")
    expect(page.get_by_label("Sign-in authority URL")).to_have_attribute("aria-invalid", "true")
    page.get_by_label("Sign-in authority URL").fill(emu.url)
    page.get_by_label("CA bundle (PEM)").fill(emu.ca_path.read_text())
    page.get_by_role("button", name="Next").click()

    expect(page.get_by_role("heading", name=re.compile("Step 3 of 6"))).to_be_visible()
    page.get_by_label("Directory (tenant) ID").fill("contoso")
    page.get_by_label("Application (client) ID").fill(client_id)
    page.get_by_role("button", name="Next").click()
    expect(page.locator("#err-tenant_id")).to_contain_text("is not a GUID")
    page.get_by_label("Directory (tenant) ID").fill(emu.tenant_id)
    page.get_by_role("button", name="Next").click()

    expect(page.get_by_role("heading", name=re.compile("Step 4 of 6"))).to_be_visible()
    grants = page.locator("#permissions-to-grant")
    for permission in ("User.Read.All", "GroupMember.Read.All", "User.ReadWrite.All"):
        expect(grants).to_contain_text(permission)
    expect(page.locator("#entra-steps")).to_contain_text(
        "Certificates & secrets > Certificates > Upload certificate"
    )
    expect(page.locator("#entra-steps")).to_contain_text("Grant admin consent")
    page.get_by_role("button", name="Connect and create the certificate").click()

    expect(page.get_by_role("heading", name="Finish connecting")).to_be_visible()
    with page.expect_download() as download_info:
        page.get_by_role("link", name="Download the certificate (PEM)").click()
    pem = download_info.value.path().read_text()
    thumbprint = app_certificates.info(pem).thumbprint_sha1
    expect(page.locator("#setup-thumbprint")).to_have_text(thumbprint)
    expect(page.locator("#no-scope")).to_contain_text("No groups chosen yet.")

    # Uploaded, but nothing consented: the test says so, in words.
    register(emu, client_id, pem, "")
    page.get_by_role("button", name="Test connection").first.click()
    expect(page.get_by_text("connection failing", exact=True)).to_be_visible()
    expect(page.locator('#checks li[data-kind="consent_missing"]')).to_contain_text(
        "Admin consent not granted"
    )

    register(emu, client_id, pem, READER)
    page.get_by_role("button", name="Test connection").first.click()
    expect(page.get_by_text("connection works", exact=True)).to_be_visible()
    expect(page.get_by_role("heading", name="Finish connecting")).to_have_count(0)

    # Edit connection: a wrong CA bundle breaks trust, fixed again without a new certificate.
    page.get_by_role("link", name="Edit connection").click()
    page.get_by_label("CA bundle (PEM)").fill("")
    page.get_by_role("button", name="Save connection").click()
    expect(page.get_by_text("Connection saved; the certificate is unchanged.")).to_be_visible()
    page.get_by_role("button", name="Test connection").first.click()
    expect(page.locator('#checks li[data-kind="tls_untrusted"]')).to_contain_text(
        "Certificate not trusted"
    )
    page.get_by_role("link", name="Edit connection").first.click()
    page.get_by_label("CA bundle (PEM)").fill(emu.ca_path.read_text())
    page.get_by_role("button", name="Save connection").click()
    page.get_by_role("button", name="Test connection").first.click()
    expect(page.get_by_text("connection works", exact=True)).to_be_visible()
    expect(page.locator("#thumbprint")).to_have_text(thumbprint)


def focus(page: Page, selector: str, limit: int = 60) -> None:
    """Press Tab until the element ``selector`` has the focus."""
    for _ in range(limit):
        if page.evaluate("s => document.activeElement?.matches(s) ?? false", selector):
            return
        page.keyboard.press("Tab")
    raise AssertionError(f"Tab never reached {selector}")


def test_the_wizard_with_the_keyboard_only(
    page: Page, live_server: str, container: Container, emu: RunningEmulator
) -> None:
    sign_in(page, live_server, container)
    client_id = str(uuid.uuid4())
    page.goto(live_server + "/accounts/acme/directory")
    expect(page.get_by_role("heading", name="Step 1 of 5: Choose the cloud")).to_be_visible()

    focus(page, 'button[name="cloud"][value="custom"]')
    page.keyboard.press("Enter")
    expect(page.get_by_role("heading", name="Step 2 of 6: Custom hosts")).to_be_visible()
    focus(page, "#f-authority_url")
    page.keyboard.type(emu.url)
    page.keyboard.press("Tab")
    page.keyboard.type(emu.url)
    focus(page, "#f-ca_bundle_pem")
    page.keyboard.insert_text(emu.ca_path.read_text())
    focus(page, 'button[value="next"]')
    page.keyboard.press("Space")

    expect(page.get_by_role("heading", name=re.compile("Step 3 of 6"))).to_be_visible()
    focus(page, "#f-tenant_id")
    page.keyboard.type(emu.tenant_id)
    page.keyboard.press("Tab")
    page.keyboard.type(client_id)
    page.keyboard.press("Enter")  # Enter in a text box goes forward, never back

    expect(page.get_by_role("heading", name=re.compile("Step 4 of 6"))).to_be_visible()
    focus(page, 'button[value="next"]')
    page.keyboard.press("Enter")

    expect(page.get_by_role("heading", name="Finish connecting")).to_be_visible()
    with container.unit_of_work() as session:
        from switchboard.connection import registration
        from switchboard.portal.accounts import get_account

        account = get_account(session, factories.OPERATOR, "acme")
        pem = registration.find_registration(session, account).certificate_pem  # type: ignore[union-attr]
    register(emu, client_id, pem, READER)
    focus(page, "#finish-setup button")
    page.keyboard.press("Enter")
    expect(page.get_by_text("connection works", exact=True)).to_be_visible()
