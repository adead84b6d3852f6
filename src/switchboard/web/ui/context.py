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
    ("directory", "Directory", "/directory"),
    ("audit", "Audit log", "/audit"),
    ("admins", "Admins", "/admins"),
    ("settings", "Settings", "/settings"),
)
# Tabs only an admin of the account (or an operator) sees: who may sign in, and API tokens.
MANAGER_TABS = frozenset({"admins"})


def account_page(session: Session, viewer: Viewer, slug: str, tab: str) -> dict[str, Any]:
    account = get_account(session, viewer.actor, slug)
    manages = viewer.actor.can_write(account.id)
    return {
        "account": account,
        "can_write": viewer.can_write(account),
        "tabs": [t for t in TABS if manages or t[0] not in MANAGER_TABS],
        "tab": tab,
        "base": f"/accounts/{account.slug}",
    }
