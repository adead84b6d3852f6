"""Directory > Groups in a real browser against the Entra ID emulator: matches update as you
type, two groups picked across two searches and saved; then the same with the keyboard only.
axe-core checks each state the script leaves."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator

import pytest
from playwright.sync_api import Page, expect

from switchboard.bootstrap import Container
from switchboard.emulator.server import RunningEmulator
from switchboard.portal.actors import Role
from tests.integration.group_picker_support import (
    connect_acme,
    emulated_tenant,
    group_ids,
    reset,
)
from tests.ui_support import PASSWORD, make_admin

pytestmark = pytest.mark.browser

ADMIN = "admin@acme.example"


@pytest.fixture(scope="module")
def emulator(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningEmulator]:
    with emulated_tenant(tmp_path_factory.mktemp("group-picker-browser")) as server:
        yield server


@pytest.fixture
def groups(container: Container, emulator: RunningEmulator) -> dict[str, str]:
    reset(emulator)
    ids = group_ids(emulator)
    connect_acme(container, emulator, ids["Voice Users"])
    make_admin(container, ADMIN, Role.ACCOUNT_ADMIN, "acme")
    return ids


def sign_in(page: Page, live_server: str, path: str) -> None:
    page.goto(live_server + path)
    page.get_by_label("Email").fill(ADMIN)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page).to_have_url(live_server + path)


def test_type_a_name_and_pick_two_groups(
    page: Page, live_server: str, groups: dict[str, str], a11y: Callable[[], None]
) -> None:
    sign_in(page, live_server, "/accounts/acme/directory/groups")
    status = page.locator("#group-results-status")
    results = page.locator("#group-results")
    page.get_by_label("Find groups by name").press_sequentially("sal", delay=40)
    expect(status).to_have_text("1 group shown.")
    expect(results.get_by_role("checkbox", name="Sales")).to_be_visible()
    expect(results).to_contain_text("1 nested group")
    a11y()
    results.get_by_role("checkbox", name="Sales").check()

    search = page.get_by_label("Find groups by name")
    search.fill("")
    search.press_sequentially("fin", delay=40)
    expect(status).to_have_text("1 group shown.")
    expect(results.get_by_role("checkbox", name="Finance")).to_be_visible()
    chosen = page.locator("#group-chosen")
    expect(chosen.get_by_role("checkbox", name="Sales")).to_be_checked()  # kept from before
    results.get_by_role("checkbox", name="Finance").check()
    search.fill("")
    search.press_sequentially("zzz", delay=40)
    expect(status).to_have_text("No group matches 'zzz'.")
    expect(chosen.get_by_role("checkbox", name="Finance")).to_be_checked()
    a11y()

    page.get_by_role("button", name="Save groups").click()
    # Not synced yet: saving leads on to what the groups' users would become.
    expect(page).to_have_url(
        re.compile(r"/directory/mapping\?preview=1&done=directory-groups-saved$")
    )
    expect(page.get_by_text("Synced groups saved.")).to_be_visible()
    expect(page.locator("#preview")).to_be_visible()
    page.goto(live_server + "/accounts/acme/directory/groups")
    for name in ("Voice Users", "Sales", "Finance"):
        expect(chosen.get_by_role("checkbox", name=name)).to_be_checked()

    page.goto(live_server + "/accounts/acme/directory")
    expect(page.locator("#synced-group-names")).to_contain_text("Voice Users, Sales, Finance")
    page.get_by_role("link", name="Choose groups").click()
    expect(page).to_have_url(live_server + "/accounts/acme/directory/groups")
    page.goto(live_server + "/accounts/acme/directory/settings")
    field = page.get_by_role("group", name="Synced groups")
    expect(field.get_by_role("checkbox", name="Sales")).to_be_checked()
    expect(field.get_by_role("link", name="Choose groups")).to_be_visible()


def test_keyboard_only(
    page: Page, live_server: str, groups: dict[str, str], a11y: Callable[[], None]
) -> None:
    sign_in(page, live_server, "/accounts/acme/directory/groups")
    for _ in range(40):  # Tab from the top of the page to the search box
        page.keyboard.press("Tab")
        if page.evaluate("document.activeElement.id") == "f-search":
            break
    else:
        pytest.fail("the search box is not reachable with Tab")
    page.keyboard.type("eng", delay=40)
    expect(page.locator("#group-results-status")).to_have_text("1 group shown.")
    a11y()
    page.keyboard.press("Tab")  # the Search button
    page.keyboard.press("Tab")  # the first match
    focused = page.locator("#group-results input:focus")
    expect(focused).to_have_attribute("value", groups["Engineering"])
    page.keyboard.press("Space")
    expect(focused).to_be_checked()
    for _ in range(10):
        page.keyboard.press("Tab")
        if page.evaluate("document.activeElement.textContent") == "Save groups":
            break
    else:
        pytest.fail("the Save button is not reachable with Tab")
    page.keyboard.press("Enter")
    expect(page).to_have_url(re.compile(r"done=directory-groups-saved$"))
    page.goto(live_server + "/accounts/acme/directory/groups")
    chosen = page.locator("#group-chosen")
    expect(chosen.get_by_role("checkbox", name="Engineering")).to_be_checked()
    expect(chosen.get_by_role("checkbox", name="Voice Users")).to_be_checked()
