"""Jinja2 templates of the admin UI (autoescaped) and the one render helper."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import jinja2
from fastapi import Request, Response
from fastapi.templating import Jinja2Templates

from switchboard.sync.failure_groups import count_words, field_words, in_words

TEMPLATES_DIR = Path(__file__).resolve().parent.parent / "templates"

# After a redirect, a fixed code in the URL picks the confirmation shown; free text is never
# echoed from the query string.
NOTICES = {
    "account-created": "Account created.",
    "location-created": "Location created.",
    "location-saved": "Location saved.",
    "location-deleted": "Location deleted.",
    "account-saved": "Settings saved.",
    "account-terminated": "Account terminated.",
    "number-moved": "Number moved.",
    "number-removed": "Number removed from the inventory.",
    "license-deleted": "License deleted.",
    "admin-added": "Admin added.",
    "admin-disabled": "Admin disabled; their sessions ended and their API tokens stop working.",
    "admin-enabled": "Admin enabled.",
    "token-revoked": "API token revoked.",
    "password-changed": "Password changed; your other sessions were signed out.",
    "user-created": "User created.",
    "user-saved": "User saved.",
    "user-deleted": "User deleted.",
    "numbers-added": "Numbers added to the inventory.",
    "number-available": "Number marked available.",
    "license-created": "License created.",
    "license-saved": "Seats updated.",
    "signed-out": "You are signed out.",
    "directory-connected": "Connected. Download the certificate, upload it to the app"
    " registration in Entra ID (Certificates & secrets), then test the connection.",
    "directory-connection-saved": "Connection saved; the certificate is unchanged. Test the"
    " connection again.",
    "directory-connection-unchanged": "Nothing changed in the connection.",
    "directory-settings-saved": "Sync settings saved.",
    "mapping-saved": "Mapping saved.",
    "mapping-rule-added": "Rule added. The preview below counts it.",
    "mapping-rule-added-reconciling": "Rule added. The preview below counts it; the mapping"
    " changed, so a full reconcile started (see Recent runs on the Directory tab).",
    "directory-groups-saved": "Synced groups saved.",
    "directory-rescoped": "Sync settings saved. The synced groups or the mapping changed, so"
    " this full reconcile started at once; mass deletions and creations wait for approval.",
    "directory-jit-subscribed": "Sync settings saved. Just in time is on: subscribed to"
    " Entra ID's change notifications, so a change in the directory reaches the portal within"
    " a second or so.",
    "directory-jit-no-public-url": "Sync settings saved. Just in time is on, but Switchboard"
    " cannot subscribe to Entra ID's change notifications: SWITCHBOARD_PUBLIC_URL is not set"
    " (the portal's https address as Graph reaches it). A worker that has it subscribes on its"
    " next tick; until one does, the account syncs only by its daily safety-net rounds.",
    "directory-jit-left": "Sync settings saved. Just in time is off: the change-notification"
    " subscriptions, if any, were removed.",
    "directory-tested": "Connection tested; the result is below.",
    "directory-disconnected": "Disconnected from Entra ID. Directory users are now ordinary"
    " portal users.",
    "directory-not-connected": "This account is not connected to Entra ID.",
    "certificate-rotated": "New certificate generated. Download it, upload it to the app"
    " registration, test the connection, then promote it.",
    "certificate-promoted": "The new certificate is now in use.",
    "certificate-discarded": "The new certificate was discarded; the current one stays.",
    "scim-connected": "SCIM is this account's directory source. Create a secret token, then"
    " follow the steps below in your identity provider.",
    "scim-settings-saved": "SCIM settings saved.",
    "scim-token-revoked": "Token revoked: requests that send it are refused from now on.",
    "scim-disconnected": "SCIM disconnected: its tokens are revoked and the users it"
    " provisioned are now ordinary portal users.",
    "scim-not-connected": "This account does not take its users over SCIM.",
    "run-approved": "Approved. Each held change was checked against Entra ID first: users"
    " back in scope were kept, and only what is still wanted was carried out.",
    "run-rejected": "Held changes rejected; nothing was deleted or created.",
}

_env = jinja2.Environment(
    loader=jinja2.FileSystemLoader(TEMPLATES_DIR),
    autoescape=jinja2.select_autoescape(["html"]),
    trim_blocks=True,
    lstrip_blocks=True,
)
# Internal names (location_id, write_back_blocked) as people read them.
_env.filters["field_words"] = field_words
_env.filters["count_words"] = count_words
_env.filters["in_words"] = in_words
templates = Jinja2Templates(env=_env)


def render(
    request: Request, name: str, context: dict[str, Any], *, status_code: int = 200
) -> Response:
    notice = NOTICES.get(request.query_params.get("done", ""))
    base: dict[str, Any] = {
        "viewer": getattr(request.state, "viewer", None),
        "notice": notice,
        "path": request.url.path,
    }
    base.update(context)
    return templates.TemplateResponse(request, name, base, status_code=status_code)
