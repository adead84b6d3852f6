"""Admin UI: an account's admins and API tokens, the operators page and changing one's password,
on SQLite and PostgreSQL."""

from __future__ import annotations

import re

from sqlalchemy import func, select
from starlette.testclient import TestClient

from switchboard.bootstrap import Container
from switchboard.db.models import ApiToken, AuditEvent, Principal, UiSession
from switchboard.portal.actors import Role
from switchboard.web.app import create_app
from tests import factories
from tests.ui_support import PASSWORD, csrf, make_admin, sign_in

ADMIN = "admin@acme.example"


def _signed_in(app_client: TestClient, container: Container) -> str:
    with container.unit_of_work() as session:
        factories.tenant(session)
    make_admin(container, ADMIN, Role.ACCOUNT_ADMIN, "acme")
    sign_in(app_client, ADMIN)
    return csrf(app_client, "/accounts/acme/admins")


def _principal(container: Container, email: str) -> Principal:
    with container.unit_of_work() as session:
        return session.scalars(select(Principal).where(Principal.email == email)).one()


def _issue(client: TestClient, path: str, token: str, name: str = "ci") -> str:
    response = client.post(path, data={"csrf_token": token, "name": name, "expires_in_days": "30"})
    assert response.status_code == 200, response.text
    found = re.search(r'id="f-token" type="text" class="mono" value="(sbt_[^"]+)"', response.text)
    assert found is not None
    return found.group(1)


def test_account_admin_adds_a_viewer_with_errors_under_the_fields(
    app_client: TestClient, container: Container
) -> None:
    token = _signed_in(app_client, container)
    page = app_client.get("/accounts/acme/admins")
    assert page.status_code == 200 and ADMIN in page.text and "(you)" in page.text
    form = {
        "csrf_token": token,
        "email": "viewer@acme.example",
        "role": "account_viewer",
        "password": "short",
    }
    short = app_client.post("/accounts/acme/admins", data=form)
    assert short.status_code == 422 and 'id="err-password"' in short.text
    assert 'value="viewer@acme.example"' in short.text and 'value="short"' not in short.text
    operator = app_client.post(
        "/accounts/acme/admins", data={**form, "role": "provider_admin", "password": PASSWORD}
    )
    assert operator.status_code == 422 and 'id="err-role"' in operator.text
    bad_email = app_client.post(
        "/accounts/acme/admins", data={**form, "email": "nope", "password": PASSWORD}
    )
    assert bad_email.status_code == 422 and 'id="err-email"' in bad_email.text
    added = app_client.post("/accounts/acme/admins", data={**form, "password": PASSWORD})
    assert "Admin added." in added.text and "viewer@acme.example" in added.text
    duplicate = app_client.post("/accounts/acme/admins", data={**form, "password": PASSWORD})
    assert duplicate.status_code == 422 and "already exists" in duplicate.text
    viewer = _principal(container, "viewer@acme.example")
    assert (viewer.role, viewer.disabled) == ("account_viewer", False)


def test_token_is_shown_once_works_and_is_revoked(
    app_client: TestClient, container: Container
) -> None:
    csrf_token = _signed_in(app_client, container)
    blank = app_client.post(
        "/accounts/acme/tokens",
        data={"csrf_token": csrf_token, "name": "", "expires_in_days": "30"},
    )
    assert blank.status_code == 422 and 'id="err-name"' in blank.text
    secret = _issue(app_client, "/accounts/acme/tokens", csrf_token, name="provisioning")
    assert app_client.get("/api/v1/me", headers=factories.bearer(secret)).status_code == 200
    listing = app_client.get("/accounts/acme/admins")
    assert "provisioning" in listing.text and secret not in listing.text
    assert "2026-02-14" in listing.text  # expires 30 days after the fixed clock
    with container.unit_of_work() as session:
        record = session.scalars(select(ApiToken)).one()
    revoked = app_client.post(
        f"/accounts/acme/tokens/{record.id}/revoke", data={"csrf_token": csrf_token}
    )
    assert "API token revoked." in revoked.text
    refused = app_client.get("/api/v1/me", headers=factories.bearer(secret))
    assert refused.status_code == 401


def test_disabling_an_admin_ends_their_session_and_token(
    app_client: TestClient, container: Container
) -> None:
    csrf_token = _signed_in(app_client, container)
    make_admin(container, "colleague@acme.example", Role.ACCOUNT_ADMIN, "acme")
    with TestClient(create_app(container)) as colleague:
        sign_in(colleague, "colleague@acme.example")
        their_token = _issue(colleague, "/accounts/acme/tokens", csrf(colleague, "/accounts/acme"))
        assert colleague.get("/accounts/acme", follow_redirects=False).status_code == 200
        target = _principal(container, "colleague@acme.example")
        disabled = app_client.post(
            f"/accounts/acme/admins/{target.id}/disable", data={"csrf_token": csrf_token}
        )
        assert "Admin disabled" in disabled.text
        gone = colleague.get("/accounts/acme", follow_redirects=False)
        assert gone.status_code == 303 and gone.headers["location"].startswith("/login")
        api = app_client.get("/api/v1/me", headers=factories.bearer(their_token))
        assert api.status_code == 401
        assert sign_in(colleague, "colleague@acme.example").status_code == 401
        with container.unit_of_work() as session:
            count = select(func.count()).where(UiSession.principal_id == target.id)
            assert session.scalar(count) == 0
            actions = session.scalars(
                select(AuditEvent.action).where(AuditEvent.object_type == "principal")
            ).all()
            assert "principal.disabled" in actions
        enabled = app_client.post(
            f"/accounts/acme/admins/{target.id}/enable", data={"csrf_token": csrf_token}
        )
        assert "Admin enabled." in enabled.text
        assert sign_in(colleague, "colleague@acme.example").status_code == 303


def test_an_admin_cannot_disable_themselves(app_client: TestClient, container: Container) -> None:
    csrf_token = _signed_in(app_client, container)
    me = _principal(container, ADMIN)
    page = app_client.get("/accounts/acme/admins")
    assert f"/admins/{me.id}/disable" not in page.text
    refused = app_client.post(
        f"/accounts/acme/admins/{me.id}/disable", data={"csrf_token": csrf_token}
    )
    assert refused.status_code == 422 and "cannot disable your own sign-in" in refused.text
    assert _principal(container, ADMIN).disabled is False


def test_viewer_gets_no_admin_page_and_cannot_post(
    app_client: TestClient, container: Container
) -> None:
    with container.unit_of_work() as session:
        factories.tenant(session)
    make_admin(container, "viewer@acme.example", Role.ACCOUNT_VIEWER, "acme")
    make_admin(container, ADMIN, Role.ACCOUNT_ADMIN, "acme")
    sign_in(app_client, "viewer@acme.example")
    token = csrf(app_client, "/accounts/acme")
    assert "/accounts/acme/admins" not in app_client.get("/accounts/acme").text
    assert app_client.get("/accounts/acme/admins").status_code == 403
    target = _principal(container, ADMIN)
    for path in (
        "/accounts/acme/admins",
        f"/accounts/acme/admins/{target.id}/disable",
        "/accounts/acme/tokens",
    ):
        response = app_client.post(
            path,
            data={
                "csrf_token": token,
                "email": "x@acme.example",
                "role": "account_admin",
                "password": PASSWORD,
                "name": "mine",
                "expires_in_days": "30",
            },
        )
        assert response.status_code == 403, path
    assert _principal(container, ADMIN).disabled is False
    with container.unit_of_work() as session:
        assert session.scalar(select(func.count()).select_from(ApiToken)) == 0


def test_admins_and_tokens_of_another_tenant_are_not_found(
    app_client: TestClient, container: Container
) -> None:
    csrf_token = _signed_in(app_client, container)
    with container.unit_of_work() as session:
        factories.tenant(session, "bravo", "415")
    make_admin(container, "admin@bravo.example", Role.ACCOUNT_ADMIN, "bravo")
    other = _principal(container, "admin@bravo.example")
    their_token = factories.token_for(container, "bot@bravo.example", Role.ACCOUNT_ADMIN, "bravo")
    with container.unit_of_work() as session:
        token_id = session.scalars(select(ApiToken.id)).one()
    assert app_client.get("/accounts/bravo/admins").status_code == 404
    # Through one's own account, another tenant's admin or token is not found either.
    for path in (
        f"/accounts/acme/admins/{other.id}/disable",
        f"/accounts/acme/tokens/{token_id}/revoke",
        f"/accounts/bravo/admins/{other.id}/disable",
    ):
        response = app_client.post(path, data={"csrf_token": csrf_token})
        assert response.status_code == 404, path
    assert _principal(container, "admin@bravo.example").disabled is False
    assert app_client.get("/api/v1/me", headers=factories.bearer(their_token)).status_code == 200


def test_operators_page_lists_operators_and_issues_their_tokens(
    app_client: TestClient, container: Container
) -> None:
    with container.unit_of_work() as session:
        factories.tenant(session)
    make_admin(container, "ops@provider.example", Role.PROVIDER_ADMIN)
    make_admin(container, ADMIN, Role.ACCOUNT_ADMIN, "acme")
    sign_in(app_client, "ops@provider.example")
    token = csrf(app_client, "/operators")
    page = app_client.get("/operators")
    assert "ops@provider.example" in page.text and ADMIN not in page.text
    added = app_client.post(
        "/operators",
        data={
            "csrf_token": token,
            "email": "ops2@provider.example",
            "role": "provider_admin",
            "password": PASSWORD,
        },
    )
    assert "Admin added." in added.text and "ops2@provider.example" in added.text
    assert _principal(container, "ops2@provider.example").account_id is None
    secret = _issue(app_client, "/operators/tokens", token, name="billing export")
    me = app_client.get("/api/v1/me", headers=factories.bearer(secret)).json()
    assert me["role"] == "provider_admin"
    assert "billing export" in app_client.get("/operators").text
    # An operator's tokens are issued on this page, not on an account's.
    refused = app_client.post(
        "/accounts/acme/tokens", data={"csrf_token": token, "name": "x", "expires_in_days": "7"}
    )
    assert refused.status_code == 403
    other = _principal(container, "ops2@provider.example")
    disabled = app_client.post(f"/operators/{other.id}/disable", data={"csrf_token": token})
    assert "Admin disabled" in disabled.text


def test_account_admin_cannot_see_the_operators_page(
    app_client: TestClient, container: Container
) -> None:
    token = _signed_in(app_client, container)
    make_admin(container, "ops@provider.example", Role.PROVIDER_ADMIN)
    ops = _principal(container, "ops@provider.example")
    assert "/operators" not in app_client.get("/accounts/acme").text
    assert app_client.get("/operators").status_code == 403
    response = app_client.post(f"/operators/{ops.id}/disable", data={"csrf_token": token})
    assert response.status_code == 403
    assert _principal(container, "ops@provider.example").disabled is False


def test_password_change_needs_the_current_one_and_ends_other_sessions(
    app_client: TestClient, container: Container
) -> None:
    token = _signed_in(app_client, container)
    new = "a much longer passphrase"
    with TestClient(create_app(container)) as elsewhere:
        sign_in(elsewhere, ADMIN)
        assert elsewhere.get("/me").status_code == 200
        form = {
            "csrf_token": token,
            "current_password": "not it at all",
            "new_password": new,
            "confirm_password": new,
        }
        wrong = app_client.post("/me/password", data=form)
        assert wrong.status_code == 422 and 'id="err-current_password"' in wrong.text
        assert "not it at all" not in wrong.text
        mismatch = app_client.post(
            "/me/password",
            data={**form, "current_password": PASSWORD, "confirm_password": new + "!"},
        )
        assert mismatch.status_code == 422 and 'id="err-confirm_password"' in mismatch.text
        short = app_client.post(
            "/me/password",
            data={
                **form,
                "current_password": PASSWORD,
                "new_password": "short",
                "confirm_password": "short",
            },
        )
        assert short.status_code == 422 and 'id="err-new_password"' in short.text
        done = app_client.post("/me/password", data={**form, "current_password": PASSWORD})
        assert "Password changed" in done.text
        # This session lives on; the other one ended with the old password.
        assert app_client.get("/me", follow_redirects=False).status_code == 200
        assert elsewhere.get("/me", follow_redirects=False).status_code == 303
    assert sign_in(app_client, ADMIN).status_code == 401
    assert sign_in(app_client, ADMIN, password=new).status_code == 303
