"""What every account page shows: the account, its tabs and whether the viewer may change it."""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from switchboard.portal.accounts import get_account
from switchboard.web.ui.session import Viewer

TABS = (
    ("overview", "Overview", ""),
    ("users", "Users", "/users"),
    ("locations", "Locations", "/locations"),
    ("numbers", "Numbers", "/numbers"),
    ("licenses", "Licenses", "/licenses"),
)


def account_page(session: Session, viewer: Viewer, slug: str, tab: str) -> dict[str, Any]:
    account = get_account(session, viewer.actor, slug)
    return {
        "account": account,
        "can_write": viewer.can_write(account),
        "tabs": TABS,
        "tab": tab,
        "base": f"/accounts/{account.slug}",
    }
