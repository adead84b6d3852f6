"""Signing in to the admin UI: login failures, sessions, expiry, CSRF and cookies."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import func, select
from starlette.testclient import TestClient

from switchboard.bootstrap import Container
from switchboard.clock import FixedClock
from switchboard.db.models import UiSession, User
from switchboard.portal.actors import Role
from switchboard.web.app import create_app
from tests import factories
from tests.ui_support import PASSWORD, csrf, make_admin, sign_in

GENERIC = "Email or password is incorrect."


def _setup(container: Container) -> factories.Tenant:
    with container.unit_of_work() as session:
        tenant = factories.tenant(session)
    make_admin(container, "admin@acme.example", Role.ACCOUNT_ADMIN, "acme")
    return tenant


def _user_count(container: Container) -> int:
    with container.unit_of_work() as session:
        return session.scalar(select(func.count()).select_from(User)) or 0


def test_pages_redirect_to_login_with_the_local_path_to_return_to(
    app_client: TestClient, container: Container
) -> None:
    _setup(container)
    page = app_client.get("/accounts/acme/users?q=ada", follow_redirects=False)
    assert page.status_code == 303
    assert page.headers["location"] == "/login?next=%2Faccounts%2Facme%2Fusers%3Fq%3Dada"
    response = sign_in(app_client, "admin@acme.example", next_path="/accounts/acme/users?q=ada")
    assert response.status_code == 303
    assert response.headers["location"] == "/accounts/acme/users?q=ada"


def test_next_must_be_a_local_path(app_client: TestClient, container: Container) -> None:
    _setup(container)
    # Each hostile form is covered in tests/unit/web/ui/test_routing.py; here the whole round trip.
    response = sign_in(app_client, "admin@acme.example", next_path="//evil.example/x")
    assert response.status_code == 303
    assert response.headers["location"] == "/"


def test_failed_logins_show_one_generic_message(
    app_client: TestClient, container: Container
) -> None:
    _setup(container)
    wrong_password = sign_in(app_client, "admin@acme.example", password="not the password!")
    unknown_email = sign_in(app_client, "nobody@acme.example")
    for response in (wrong_password, unknown_email):
        assert response.status_code == 401
        assert GENERIC in response.text
        assert "sb_session" not in response.headers.get("set-cookie", "")
    # The typed email is kept; the password never comes back.
    assert 'value="admin@acme.example"' in wrong_password.text
    assert "not the password!" not in wrong_password.text
    with container.unit_of_work() as session:
        assert session.scalar(select(func.count()).select_from(UiSession)) == 0


def test_login_form_needs_its_own_token(app_client: TestClient, container: Container) -> None:
    _setup(container)
    app_client.get("/login")
    response = app_client.post(
        "/login",
        data={"email": "admin@acme.example", "password": PASSWORD, "login_token": "forged"},
        follow_redirects=False,
    )
    assert response.status_code == 400
    assert "sign-in form expired" in response.text


def test_session_cookie_flags_over_http(app_client: TestClient, container: Container) -> None:
    _setup(container)
    cookie = sign_in(app_client, "admin@acme.example").headers["set-cookie"]
    assert cookie.startswith("sb_session=")
    assert "HttpOnly" in cookie and "SameSite=lax" in cookie and "Path=/" in cookie
    assert f"Max-Age={container.settings.session_hours * 3600}" in cookie


def test_session_cookie_is_host_prefixed_and_secure_over_https(container: Container) -> None:
    _setup(container)
    with TestClient(create_app(container), base_url="https://testserver") as client:
        response = sign_in(client, "admin@acme.example")
        cookie = response.headers["set-cookie"]
        assert cookie.startswith("__Host-sb_session=")
        assert "Secure" in cookie and "HttpOnly" in cookie and "Path=/" in cookie
        assert "Domain" not in cookie
        assert client.get("/accounts/acme/users", follow_redirects=False).status_code == 200


def test_posts_without_or_with_a_wrong_csrf_token_are_refused(
    app_client: TestClient, container: Container
) -> None:
    tenant = _setup(container)
    sign_in(app_client, "admin@acme.example")
    form = {
        "first_name": "Ada",
        "last_name": "Lovelace",
        "email": "ada@acme.example",
        "location_id": str(tenant.hq.id),
    }
    missing = app_client.post("/accounts/acme/users", data=form)
    wrong = app_client.post("/accounts/acme/users", data={**form, "csrf_token": "x" * 43})
    for response in (missing, wrong):
        assert response.status_code == 403
        assert "security token" in response.text
    assert _user_count(container) == 0
    token = csrf(app_client, "/accounts/acme/users/new")
    ok = app_client.post(
        "/accounts/acme/users", data={**form, "csrf_token": token}, follow_redirects=False
    )
    assert ok.status_code == 303
    assert _user_count(container) == 1


def test_csrf_token_of_another_session_is_refused(
    app_client: TestClient, container: Container
) -> None:
    tenant = _setup(container)
    make_admin(container, "other@acme.example", Role.ACCOUNT_ADMIN, "acme")
    with TestClient(create_app(container)) as other:
        sign_in(other, "other@acme.example")
        foreign = csrf(other)
    sign_in(app_client, "admin@acme.example")
    response = app_client.post(
        f"/accounts/acme/licenses/{tenant.hq.id}", data={"seats": "9", "csrf_token": foreign}
    )
    assert response.status_code == 403


def test_session_expires_after_the_configured_hours(
    app_client: TestClient, container: Container, clock: FixedClock
) -> None:
    _setup(container)
    sign_in(app_client, "admin@acme.example")
    hours = container.settings.session_hours
    clock.advance(timedelta(hours=hours) - timedelta(minutes=1))
    assert app_client.get("/accounts/acme", follow_redirects=False).status_code == 200
    clock.advance(timedelta(minutes=2))
    expired = app_client.get("/accounts/acme", follow_redirects=False)
    assert expired.status_code == 303
    assert expired.headers["location"].startswith("/login?next=")


def test_logout_ends_the_session(app_client: TestClient, container: Container) -> None:
    _setup(container)
    sign_in(app_client, "admin@acme.example")
    cookie = app_client.cookies["sb_session"]
    out = app_client.post("/logout", data={"csrf_token": csrf(app_client)})
    assert out.status_code == 200 and "You are signed out." in out.text
    app_client.cookies.set("sb_session", cookie)  # a copied cookie is dead too
    assert app_client.get("/accounts", follow_redirects=False).status_code == 303
    with container.unit_of_work() as session:
        assert session.scalar(select(func.count()).select_from(UiSession)) == 0


def test_pages_carry_security_headers(app_client: TestClient, container: Container) -> None:
    _setup(container)
    sign_in(app_client, "admin@acme.example")
    headers = app_client.get("/accounts/acme").headers
    policy = headers["content-security-policy"]
    assert "script-src 'self';" in policy and "unsafe-inline" not in policy
    assert "unsafe-eval" not in policy
    assert headers["x-frame-options"] == "DENY"
    assert headers["cache-control"] == "no-store"
