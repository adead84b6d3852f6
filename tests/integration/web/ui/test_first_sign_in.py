"""An admin given an initial password chooses their own at first sign-in; the API is unaffected."""

from __future__ import annotations

from sqlalchemy import select
from starlette.testclient import TestClient

from switchboard.bootstrap import Container
from switchboard.db.models import AuditEvent, Principal
from switchboard.portal import api_tokens
from switchboard.portal.actors import Role
from tests import factories
from tests.ui_support import csrf, hidden, make_admin, sign_in

INITIAL = "initial password 1234"
OWN = "my very own password 5678"


def _added_by_an_admin(app_client: TestClient, container: Container) -> None:
    with container.unit_of_work() as session:
        factories.tenant(session)
    make_admin(container, "admin@acme.example", Role.ACCOUNT_ADMIN, "acme")
    sign_in(app_client, "admin@acme.example")
    added = app_client.post(
        "/accounts/acme/admins",
        data={
            "csrf_token": csrf(app_client, "/accounts/acme/admins"),
            "email": "new@acme.example",
            "role": "account_admin",
            "password": INITIAL,
        },
        follow_redirects=False,
    )
    assert added.status_code == 303
    app_client.cookies.clear()


def test_first_sign_in_asks_for_a_new_password_before_anything_else(
    app_client: TestClient, container: Container
) -> None:
    _added_by_an_admin(app_client, container)
    login = sign_in(app_client, "new@acme.example", INITIAL, next_path="/accounts/acme/users")
    assert login.status_code == 303
    for path in ("/accounts/acme/users", "/accounts/acme", "/", "/accounts/acme/admins"):
        page = app_client.get(path, follow_redirects=False)
        assert page.status_code == 303 and page.headers["location"] == "/me?first=1", path
    posted = app_client.post("/accounts/acme/licenses", data={}, follow_redirects=False)
    assert posted.status_code == 303 and posted.headers["location"] == "/me?first=1"
    me = app_client.get("/me?first=1")
    assert me.status_code == 200 and "Choose your own password." in me.text
    token = hidden(me.text, "csrf_token")

    same = app_client.post(
        "/me/password",
        data={
            "csrf_token": token,
            "current_password": INITIAL,
            "new_password": INITIAL,
            "confirm_password": INITIAL,
        },
    )
    assert same.status_code == 422
    assert "The new password must differ from the one you were given" in same.text
    changed = app_client.post(
        "/me/password",
        data={
            "csrf_token": token,
            "current_password": INITIAL,
            "new_password": OWN,
            "confirm_password": OWN,
        },
        follow_redirects=False,
    )
    assert changed.status_code == 303
    assert app_client.get("/accounts/acme/users").status_code == 200
    with container.unit_of_work() as session:
        principal = session.scalars(
            select(Principal).where(Principal.email_key == "new@acme.example")
        ).one()
        assert principal.must_change_password is False
        actions = set(
            session.scalars(
                select(AuditEvent.action).where(AuditEvent.object_id == str(principal.id))
            )
        )
    assert {"principal.created", "principal.initial_password_replaced"} <= actions
    app_client.cookies.clear()
    assert sign_in(app_client, "new@acme.example", INITIAL).status_code != 303
    assert sign_in(app_client, "new@acme.example", OWN).status_code == 303


def test_the_api_and_seeded_admins_are_not_held_back(
    app_client: TestClient, container: Container
) -> None:
    _added_by_an_admin(app_client, container)
    with container.unit_of_work() as session:
        principal = session.scalars(
            select(Principal).where(Principal.email_key == "new@acme.example")
        ).one()
        assert principal.must_change_password is True
        token = api_tokens.issue_token(session, factories.OPERATOR, principal).token
    listed = app_client.get("/api/v1/accounts/acme/users", headers=factories.bearer(token))
    assert listed.status_code == 200
    # Admins the system seeds (tests, the demo) and the signing-out page are not held.
    sign_in(app_client, "admin@acme.example")
    assert app_client.get("/accounts/acme/users").status_code == 200
