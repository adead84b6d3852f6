"""Admin UI, Directory tab: choosing a SCIM source, its token (shown once), settings, tokens and
disconnecting; one source at a time. On SQLite and PostgreSQL."""

from __future__ import annotations

import html
import re
from typing import Any

import pytest
from sqlalchemy import select
from starlette.testclient import TestClient

from switchboard.bootstrap import Container
from switchboard.connection import registration
from switchboard.db.models import AuditEvent, ScimSource
from switchboard.portal.accounts import get_account
from switchboard.portal.actors import Role
from switchboard.scim import source as scim_source
from switchboard.scim import tokens as scim_tokens
from switchboard.scim.errors import ScimError
from switchboard.sync.policy import SyncPolicy
from tests import factories
from tests.ui_support import csrf, make_admin, sign_in

OP = factories.OPERATOR
BASE = "/accounts/acme/directory"
TENANT = "6f1b2c3d-4e5f-4061-8293-a4b5c6d7e8f9"
CLIENT = "11111111-2222-4333-8444-555555555555"


@pytest.fixture
def admin(app_client: TestClient, container: Container) -> str:
    with container.unit_of_work() as s:
        factories.tenant(s, "acme")
    make_admin(container, "admin@acme.example", Role.ACCOUNT_ADMIN, "acme")
    sign_in(app_client, "admin@acme.example")
    return csrf(app_client, BASE)


def post(browser: TestClient, token: str, path: str, **data: str) -> Any:
    return browser.post(BASE + path, data={"csrf_token": token, **data}, follow_redirects=False)


def source(container: Container) -> ScimSource | None:
    with container.unit_of_work() as s:
        found = s.scalar(select(ScimSource))
        if found is not None:
            s.expunge(found)
        return found


def text(page: str) -> str:
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", page)).split())


def opens(container: Container, token: str) -> bool:
    try:
        with container.unit_of_work() as s:
            scim_tokens.authenticate(s, "acme", f"Bearer {token}")
    except ScimError:
        return False
    return True


def test_the_tab_offers_three_sources_and_a_scim_choice_connects(
    app_client: TestClient, container: Container, admin: str
) -> None:
    page = app_client.get(BASE).text
    for name in ("Microsoft Graph (Entra ID)", "Entra provisioning (SCIM)", "Okta (SCIM)"):
        assert name in page
    assert "Connect Entra ID" in page  # the Graph wizard, as before

    chosen = post(app_client, admin, "/scim/connect", client="entra")
    assert chosen.status_code == 303
    assert chosen.headers["location"] == f"{BASE}?done=scim-connected"
    found = source(container)
    assert found is not None and found.client == "entra" and found.default_location == "HQ"

    shown = text(app_client.get(chosen.headers["location"]).text)
    assert "Tenant URL" in shown
    assert "http://testserver/scim/v2/acme" in shown
    assert "Enterprise applications > New application > Create your own application" in shown
    assert "Provisioning Mode to Automatic" in shown
    assert "Test Connection" in shown
    assert "Connect Entra ID" not in shown  # no wizard while SCIM is the source
    assert "SCIM request log" in shown
    assert f'href="{BASE}/scim/log"' in app_client.get(BASE).text


def test_okta_shows_its_own_steps(app_client: TestClient, admin: str) -> None:
    post(app_client, admin, "/scim/connect", client="okta")
    shown = text(app_client.get(BASE).text)
    assert "Base URL" in shown and "Bearer token" in shown
    assert "General > App Settings > Edit" in shown
    assert "Provisioning: SCIM" in shown
    for action in ("Push New Users", "Push Profile Updates", "Push Groups", "Deactivate Users"):
        assert action in shown


def test_token_is_shown_once_then_rotated_with_an_overlap_and_revoked(
    app_client: TestClient, container: Container, admin: str
) -> None:
    post(app_client, admin, "/scim/connect", client="entra")
    created = post(app_client, admin, "/scim/token")
    assert created.status_code == 200
    token = re.search(r'id="f-issued-token"[^>]*value="([^"]+)"', created.text)
    assert token is not None
    first = token.group(1)
    assert first.startswith("sbscim_")
    assert "this is the only time the token is shown" in created.text
    assert opens(container, first)
    again = app_client.get(BASE).text
    assert first not in again and first.rsplit("_", 1)[1] not in again
    assert "Old token keeps working for (hours)" in again

    bad = post(app_client, admin, "/scim/token", overlap_hours="500")
    assert bad.status_code == 422
    assert "0 to 168" in text(bad.text)
    assert 'value="500"' in bad.text

    rotated = post(app_client, admin, "/scim/token", overlap_hours="2")
    second = re.search(r'id="f-issued-token"[^>]*value="([^"]+)"', rotated.text)
    assert second is not None
    assert opens(container, first) and opens(container, second.group(1))
    assert "replaced, still working" in rotated.text

    with container.unit_of_work() as s:
        ids = [t.id for t in scim_tokens.list_tokens(s, get_account(s, OP, "acme"))]
    revoked = post(app_client, admin, "/scim/revoke", token_id=str(ids[0]))
    assert revoked.headers["location"] == f"{BASE}?done=scim-token-revoked#scim-tokens"
    assert not opens(container, second.group(1))
    assert opens(container, first)  # the overlap is not over yet
    with container.unit_of_work() as s:
        actions = list(s.scalars(select(AuditEvent.action).order_by(AuditEvent.id)))
    assert actions.count("scim_token.issued") == 2
    assert "scim_token.revoked" in actions


def test_settings_are_saved_and_mistakes_shown_under_their_field(
    app_client: TestClient, container: Container, admin: str
) -> None:
    post(app_client, admin, "/scim/connect", client="entra")
    form = {
        "client": "entra",
        "deprovision": "delete",
        "location_attribute": "locality",
        "location_rules": "Chicago = branch\n\nSpringfield=HQ",
        "default_location": "Branch",
        "rate_limit": "40",
    }
    saved = post(app_client, admin, "/scim/settings", **form)
    assert saved.status_code == 303, saved.text
    found = source(container)
    assert found is not None
    assert (found.deprovision, found.location_attribute, found.rate_limit) == (
        "delete",
        "locality",
        40,
    )
    assert found.location_rules == {"chicago": "Branch", "springfield": "HQ"}
    assert found.default_location == "Branch"
    page = app_client.get(BASE).text
    assert "chicago = Branch" in page
    assert "users who leave the synced groups must be deleted" in text(page)

    wrong = post(
        app_client,
        admin,
        "/scim/settings",
        **{**form, "location_rules": "Chicago: Branch", "rate_limit": "5"},
    )
    assert wrong.status_code == 422
    assert "Location rules: line 1 must read: directory value = location name" in text(wrong.text)
    assert "Rate limit must be a whole number from 25 to 10000 per second" in text(wrong.text)
    assert 'aria-invalid="true" aria-describedby="err-location_rules"' in wrong.text
    assert "Chicago: Branch" in wrong.text  # what was typed stays

    unknown = post(
        app_client, admin, "/scim/settings", **{**form, "location_rules": "Sales = Mars Base"}
    )
    assert unknown.status_code == 422
    assert "'Mars Base' names no location of this account" in text(unknown.text)
    assert "location_rules" not in text(unknown.text)  # no internal field names
    found = source(container)
    assert found is not None and found.rate_limit == 40


def test_disconnect_asks_first_then_the_sources_are_offered_again(
    app_client: TestClient, container: Container, admin: str
) -> None:
    post(app_client, admin, "/scim/connect", client="okta")
    page = post(app_client, admin, "/scim/token")
    token = re.search(r'id="f-issued-token"[^>]*value="([^"]+)"', page.text)
    assert token is not None
    confirm = app_client.get(f"{BASE}/scim/disconnect")
    assert "Disconnect Acme" in confirm.text or "Disconnect" in confirm.text
    assert "Every SCIM token stops working" in confirm.text
    done = post(app_client, admin, "/scim/disconnect")
    assert done.headers["location"] == f"{BASE}?done=scim-disconnected"
    assert source(container) is None
    assert not opens(container, token.group(1))
    assert "Entra provisioning (SCIM)" in app_client.get(BASE).text


def test_one_source_at_a_time_in_words(
    app_client: TestClient, container: Container, admin: str
) -> None:
    post(app_client, admin, "/scim/connect", client="entra")
    # A wizard opened before SCIM was chosen: each step and the final connect are refused.
    answers = {"cloud": "global", "tenant_id": TENANT, "client_id": CLIENT}
    for step in ("cloud", "ids", "permissions"):
        refused = post(app_client, admin, "/wizard", step=step, go="next", **answers)
        assert refused.status_code == 422, step
        shown = text(refused.text)
        assert "disconnect SCIM on the Directory tab first" in shown, step
        assert "Tenant URL" in shown  # the SCIM page, with its Disconnect
    with container.unit_of_work() as s:
        assert registration.find_registration(s, get_account(s, OP, "acme")) is None

    post(app_client, admin, "/scim/disconnect")
    with container.unit_of_work() as s:
        registration.connect(
            s,
            OP,
            get_account(s, OP, "acme"),
            registration.RegistrationIn(
                tenant_id=TENANT, client_id=CLIENT, settings=SyncPolicy(all_users=True)
            ),
        )
    stale = post(app_client, admin, "/scim/connect", client="okta")
    assert stale.status_code == 422
    assert "connected to Entra ID over Microsoft Graph; disconnect it" in text(stale.text)
    assert source(container) is None


def test_viewers_see_the_scim_page_without_forms(
    app_client: TestClient, container: Container
) -> None:
    with container.unit_of_work() as s:
        t = factories.tenant(s, "acme")
        scim_source.connect(s, OP, t.account, "entra")
        scim_tokens.issue(s, OP, t.account)
    make_admin(container, "viewer@acme.example", Role.ACCOUNT_VIEWER, "acme")
    sign_in(app_client, "viewer@acme.example")
    for path in (BASE, f"{BASE}/scim/disconnect"):
        page = app_client.get(path)
        assert page.status_code == 200
        assert re.findall(r'<form method="post" action="([^"]+)"', page.text) == ["/logout"]
    assert "http://testserver/scim/v2/acme" in app_client.get(BASE).text
    token = csrf(app_client, BASE)
    for path in ("/scim/connect", "/scim/token", "/scim/revoke", "/scim/settings"):
        refused = post(app_client, token, path, client="okta", token_id="1")
        assert refused.status_code == 403, path
        assert "can only read" in refused.text
    found = source(container)
    assert found is not None and found.client == "entra"
