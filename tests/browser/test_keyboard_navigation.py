"""The account overview and the users page with the keyboard only (Tab, Shift+Tab, Enter): the
skip link comes first, every stop shows a focus ring, and the main actions are reached."""

from __future__ import annotations

import re
from typing import Any

import pytest
from playwright.sync_api import Page, expect

from switchboard.bootstrap import Container
from switchboard.portal import accounts, users
from switchboard.portal.actors import Role
from switchboard.portal.schemas import UserIn
from tests import factories
from tests.ui_support import PASSWORD, make_admin

pytestmark = pytest.mark.browser

ADMIN = "admin@acme.example"
# What has focus, and whether it is drawn: an outline of 2px or more, or a box shadow.
_FOCUSED = """() => {
  const el = document.activeElement;
  const style = getComputedStyle(el);
  const box = el.getBoundingClientRect();
  return {
    tag: el.tagName.toLowerCase(),
    name: (el.getAttribute("aria-label") || el.innerText || el.value || el.placeholder || "")
      .trim().replace(/\\s+/g, " "),
    ring: (style.outlineStyle !== "none" && parseFloat(style.outlineWidth) >= 2)
      || style.boxShadow !== "none",
    shown: box.width > 0 && box.height > 0 && box.top >= 0 && box.left >= 0,
  };
}"""


def _seed(container: Container) -> None:
    with container.unit_of_work() as session:
        tenant = factories.tenant(session)
        account = accounts.get_account(session, factories.OPERATOR, "acme")
        users.create_user(
            session,
            factories.OPERATOR,
            account,
            UserIn(
                first_name="Ada",
                last_name="Lovelace",
                email="ada@acme.example",
                location_id=tenant.hq.id,
            ),
        )
    make_admin(container, ADMIN, Role.ACCOUNT_ADMIN, "acme")


def _focused(page: Page) -> dict[str, Any]:
    found: dict[str, Any] = page.evaluate(_FOCUSED)
    return found


def _press_until(page: Page, name: str, key: str = "Tab", limit: int = 40) -> dict[str, Any]:
    """Press ``key`` until the element named ``name`` has focus; every stop shows its focus."""
    for _ in range(limit):
        page.keyboard.press(key)
        now = _focused(page)
        assert now["ring"], f"no visible focus on {now}"
        assert now["shown"], f"focus on something off screen: {now}"
        if now["name"] == name:
            return now
    raise AssertionError(f"{key} never reached {name!r} (last: {_focused(page)})")


def test_overview_and_users_with_the_keyboard_only(
    page: Page, live_server: str, container: Container
) -> None:
    _seed(container)
    page.goto(live_server + "/login")
    expect(page.get_by_label("Email")).to_be_focused()
    page.keyboard.type(ADMIN)
    page.keyboard.press("Tab")
    expect(page.get_by_label("Password")).to_be_focused()
    assert _focused(page)["ring"]
    page.keyboard.type(PASSWORD)
    page.keyboard.press("Enter")
    expect(page).to_have_url(f"{live_server}/accounts/acme")

    # The overview: the skip link first, then past the top bar straight into the page.
    page.keyboard.press("Tab")
    first = _focused(page)
    assert first["name"] == "Skip to content" and first["ring"] and first["shown"]
    page.keyboard.press("Enter")
    _press_until(page, "1 Users")  # the Users figure, the first thing in the page
    _press_until(page, "6 Numbers available")
    # Shift+Tab goes back up to the section tabs; Enter follows the Users tab.
    _press_until(page, "Users", key="Shift+Tab")
    tab = page.get_by_role("link", name="Users", exact=True)
    expect(tab).to_be_focused()
    page.keyboard.press("Enter")
    expect(page).to_have_url(f"{live_server}/accounts/acme/users")
    expect(page.get_by_role("link", name="Users", exact=True)).to_have_attribute(
        "aria-current", "page"
    )

    # The users page: search, then open a user, then the New user form.
    page.keyboard.press("Tab")
    page.keyboard.press("Enter")  # Skip to content
    _press_until(page, "Name, email, username or extension")
    page.keyboard.type("lovelace")
    page.keyboard.press("Enter")
    expect(page).to_have_url(re.compile(r"/users\?q=lovelace"))
    page.keyboard.press("Tab")
    page.keyboard.press("Enter")
    _press_until(page, "Ada Lovelace")
    page.keyboard.press("Enter")
    expect(page.get_by_role("heading", name="Ada Lovelace")).to_be_visible()
    page.keyboard.press("Tab")
    page.keyboard.press("Enter")
    _press_until(page, "Users")
    page.keyboard.press("Enter")
    expect(page).to_have_url(f"{live_server}/accounts/acme/users")
    page.keyboard.press("Tab")
    page.keyboard.press("Enter")
    _press_until(page, "New user")
    page.keyboard.press("Enter")
    expect(page).to_have_url(f"{live_server}/accounts/acme/users/new")
    page.keyboard.press("Tab")
    page.keyboard.press("Enter")
    _press_until(page, "Create user")
